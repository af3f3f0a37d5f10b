import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { collect, MetadataCache, type CacheableItem, type PagedLoad } from '../../src/cache/metadata-cache.js';
import { ManualClock } from '../../src/util/clock.js';
import { FOLDED_NAMES } from '../../src/util/drive-path.js';
import { pull } from '../../src/util/page-puller.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Listings arriving in pages (issue 16): kept only when complete and within the per-listing bound. */
const item = (i: number): CacheableItem => ({ id: `id${i}`, name: `n${String(i).padStart(5, '0')}`, isFolder: false });

function cacheOf(maxBytes: number, maxListingBytes?: number) {
  return new MetadataCache<CacheableItem>({ ttlMs: 60_000, maxEntries: 1000, maxBytes, maxListingBytes, clock: new ManualClock(1_000_000), names: FOLDED_NAMES, sizeOf: () => 100 });
}

/** `pages` pages of `per` items; counts the loads and can fail on one page. */
function source(pages: number, per: number, failOn?: number, expectedCount?: number) {
  const state = { loads: 0 };
  const load = (): PagedLoad<CacheableItem> => {
    state.loads++;
    return {
      pages: (async function* () {
        for (let p = 0; p < pages; p++) {
          if (p === failOn) throw new Error('page failed');
          await new Promise((r) => setTimeout(r, 1));
          yield Array.from({ length: per }, (_, i) => item(p * per + i));
        }
      })(),
      folderId: () => 'folder',
      expectedCount,
    };
  };
  return { state, load };
}

describe('metadata cache: paged listings', () => {
  it('keeps a complete listing that fits, and serves it in pages after', async () => {
    const cache = cacheOf(10_000_000);
    const src = source(3, 400);
    expect(await collect(cache.listingPages('/d', src.load))).toHaveLength(1200);
    expect(cache.peekListing('/d')).toHaveLength(1200);
    const again = await collect(cache.listingPages('/d', src.load));
    expect(again).toHaveLength(1200);
    expect(src.state.loads).toBe(1);
    expect(cache.peekItem('/d/n01199')).toMatchObject({ id: 'id1199' });
  });

  it('keeps none of a listing larger than a listing may be, and its byte count stays within the bound', async () => {
    const cache = cacheOf(200_000, 100_000);
    const src = source(3, 400);
    expect(await collect(cache.listingPages('/big', src.load))).toHaveLength(1200);
    expect(cache.peekListing('/big')).toBeUndefined();
    expect(cache.peekItem('/big/n00000')).toBeUndefined();
    expect(cache.stats().bytes).toBeLessThanOrEqual(200_000);
    await collect(cache.listingPages('/big', src.load));
    expect(src.state.loads).toBe(2);
  });

  it('does not keep a listing whose folder says it is too big, even while its pages so far would fit', async () => {
    const cache = cacheOf(10_000_000, 100_000);
    await collect(cache.listingPages('/fits', source(3, 100).load));
    expect(cache.peekListing('/fits')).toHaveLength(300);
    await collect(cache.listingPages('/says-big', source(3, 100, undefined, 1000).load));
    expect(cache.peekListing('/says-big')).toBeUndefined();
  });

  it('keeps nothing of a listing whose page failed, or whose reader stopped early', async () => {
    const cache = cacheOf(10_000_000);
    await expect(collect(cache.listingPages('/f', source(3, 10, 2).load))).rejects.toThrow('page failed');
    expect(cache.peekListing('/f')).toBeUndefined();
    for await (const page of cache.listingPages('/g', source(3, 10).load)) {
      expect(page).toHaveLength(10);
      break;
    }
    expect(cache.peekListing('/g')).toBeUndefined();
  });

  it('shares one load between concurrent readers; a reader joining a load too big to keep streams its own', async () => {
    const cache = cacheOf(10_000_000);
    const src = source(2, 50);
    const [a, b] = await Promise.all([collect(cache.listingPages('/s', src.load)), collect(cache.listingPages('/s', src.load))]);
    expect(a).toHaveLength(100);
    expect(b).toHaveLength(100);
    expect(src.state.loads).toBe(1);
    const small = cacheOf(200_000, 1_000);
    const big = source(2, 50);
    const [c, d] = await Promise.all([collect(small.listingPages('/s', big.load)), collect(small.listingPages('/s', big.load))]);
    expect(c).toHaveLength(100);
    expect(d).toHaveLength(100);
    expect(big.state.loads).toBe(2);
  });

  it('holds no page of a listing streamed past it while the next page loads (a 100,000-item folder is never held whole)', async () => {
    const cache = cacheOf(200_000, 100_000);
    const refs: Array<WeakRef<object>> = [];
    const previousAlive: boolean[] = [];
    const made = (p: number) => {
      const page = Array.from({ length: 400 }, (_, i) => item(p * 400 + i));
      refs.push(new WeakRef(page));
      return page;
    };
    const load = (): PagedLoad<CacheableItem> => ({
      pages: (async function* () {
        for (let p = 0; p < 4; p++) {
          // A later macrotask (a WeakRef holds its target until the job that made it ends), then a full GC.
          await new Promise((r) => setTimeout(r, 0));
          gc();
          if (p > 0) previousAlive.push(refs[p - 1].deref() !== undefined);
          yield made(p);
        }
      })(),
      folderId: () => 'folder',
    });
    // The reader keeps nothing either (as PROPFIND reads: util/page-puller.ts).
    const pages = pull(cache.listingPages('/big', load));
    let listed = 0;
    for (let page = await pages.next(); page; page = await pages.next()) listed += page.value.length;
    expect(listed).toBe(1600);
    expect(cache.peekListing('/big')).toBeUndefined();
    expect(previousAlive).toEqual([false, false, false]);
  });
});
