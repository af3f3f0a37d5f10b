import { describe, expect, it } from 'vitest';
import { MetadataCache, type CacheableItem } from '../../src/cache/metadata-cache.js';
import { DeltaPoller } from '../../src/cache/delta-poller.js';
import { ManualClock } from '../../src/util/clock.js';
import { FOLDED_NAMES } from '../../src/util/drive-path.js';

interface Item extends CacheableItem {
  size: number;
}
const file = (id: string, name: string, size = 1): Item => ({ id, name, isFolder: false, size });
const folder = (id: string, name: string): Item => ({ id, name, isFolder: true, size: 0 });

function makeCache(clock = new ManualClock(1_000_000), overrides: Partial<{ ttlMs: number; maxEntries: number; maxBytes: number }> = {}) {
  return new MetadataCache<Item>({ ttlMs: 60_000, maxEntries: 1000, maxBytes: 10_000_000, clock, names: FOLDED_NAMES, ...overrides });
}

function counter<T>(value: () => T) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    load: async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      return value();
    },
  };
}

describe('folders known from a child (noteFolder)', () => {
  it('answers folderId until the TTL, and yields to what the cache knows of the path itself', () => {
    const clock = new ManualClock(1_000_000);
    const cache = makeCache(clock);
    cache.noteFolder('/a/B', 'b-id');
    expect(cache.folderId('/A/b')).toBe('b-id');
    expect(cache.peekItem('/a/b')).toBeUndefined(); // not an item: no stat is answered from it
    clock.advance(60_001);
    expect(cache.folderId('/a/b')).toBeUndefined();
    cache.noteFolder('/a/b', 'b-id');
    cache.setItem('/a/b', file('f', 'b'));
    expect(cache.folderId('/a/b')).toBeUndefined(); // a file is there now
  });

  it('is forgotten with its path, below a moved or deleted ancestor, and when delta reports it by id', () => {
    const cache = makeCache();
    cache.noteFolder('/a/b', 'b-id');
    cache.invalidateItem('/a/b');
    expect(cache.folderId('/a/b')).toBeUndefined();
    cache.noteFolder('/a/b', 'b-id');
    cache.recordRemoval('/a');
    expect(cache.folderId('/a/b')).toBeUndefined();
    cache.noteFolder('/x/y', 'y-id');
    cache.applyRemoteChanges([{ id: 'y-id', deleted: true, isFolder: true }]);
    expect(cache.folderId('/x/y')).toBeUndefined();
  });

  it('is not kept when an invalidation overtook the lookup that learned it', () => {
    const cache = makeCache();
    const generation = cache.generation;
    cache.invalidateItem('/elsewhere');
    cache.noteFolder('/a/b', 'b-id', generation);
    expect(cache.folderId('/a/b')).toBeUndefined();
  });
});

describe('metadata cache', () => {
  it('serves items until the TTL passes on the injected clock', async () => {
    const clock = new ManualClock();
    const cache = makeCache(clock);
    const loader = counter(() => file('1', 'a.txt'));
    expect(await cache.item('/a.txt', loader.load)).toMatchObject({ id: '1' });
    expect(await cache.item('/A.TXT', loader.load)).toMatchObject({ id: '1' }); // case-insensitive
    expect(loader.calls).toBe(1);
    clock.advance(59_999);
    await cache.item('/a.txt', loader.load);
    expect(loader.calls).toBe(1);
    clock.advance(2);
    await cache.item('/a.txt', loader.load);
    expect(loader.calls).toBe(2);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 2 });
  });

  it('coalesces concurrent misses into one load', async () => {
    const cache = makeCache();
    const loader = counter(() => [file('1', 'x'), file('2', 'y')]);
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.listing('/d', async () => ({ children: await loader.load() }))));
    expect(loader.calls).toBe(1);
    expect(results.every((r) => r.length === 2)).toBe(true);
    expect(cache.stats().coalesced).toBe(9);
  });

  it('answers children of a big listing by name, and follows the listing as writes change it', () => {
    const cache = makeCache();
    cache.setListing('/big', Array.from({ length: 500 }, (_, i) => file(String(i), `File-${i}.txt`)), 'B');
    expect(cache.peekItem('/big/file-250.TXT')).toMatchObject({ id: '250' });
    expect(cache.peekItem('/big/file-500.txt')).toBeNull();
    cache.recordItem('/big/File-500.txt', file('500', 'File-500.txt'));
    expect(cache.peekItem('/big/file-500.txt')).toMatchObject({ id: '500' });
    cache.recordItem('/big/File-250.txt', file('250b', 'File-250.txt', 7));
    expect(cache.peekItem('/big/File-250.txt')).toMatchObject({ id: '250b', size: 7 });
    cache.recordRemoval('/big/File-7.txt');
    expect(cache.peekItem('/big/File-7.txt')).toBeNull();
    expect(cache.peekListing('/big')).toHaveLength(500);
  });

  it('answers like a plain model of the folder through 2,000 random writes, removals and renames (name index carried over)', () => {
    let seed = 42;
    const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const cache = makeCache(new ManualClock(1_000_000), { maxEntries: 100_000, maxBytes: 1e9 });
    const model = new Map<string, Item>(); // folded name → item
    const initial = Array.from({ length: 300 }, (_, i) => file(`id${i}`, `Name-${i}.txt`));
    for (const item of initial) model.set(item.name.toLowerCase(), item);
    cache.setListing('/f', initial, 'F');
    let next = 300;
    const removed: string[] = [];
    for (let step = 0; step < 2000; step++) {
      const names = [...model.values()].map((c) => c.name);
      const pick = () => names[random(names.length)];
      const op = random(4);
      if (op === 0 || names.length < 10) {
        // A write: a new file, or a file replaced (in other letter case half the time).
        const name = random(2) === 0 ? `Name-${next++}.txt` : pick();
        const shown = random(2) === 0 ? name.toUpperCase() : name;
        const item = file(model.get(name.toLowerCase())?.id ?? `id${next++}`, shown, step);
        cache.recordItem(`/f/${shown}`, item);
        model.set(shown.toLowerCase(), item);
      } else if (op === 1) {
        const name = pick();
        cache.recordRemoval(`/f/${name}`);
        model.delete(name.toLowerCase());
        removed.push(name);
      } else if (op === 2) {
        const from = model.get(pick().toLowerCase())!;
        const to = `Renamed-${next++}.txt`;
        cache.recordMove(`/f/${from.name}`, `/f/${to}`, { ...from, name: to }, (item) => item);
        model.delete(from.name.toLowerCase());
        model.set(to.toLowerCase(), { ...from, name: to });
      } else {
        // The same item written under a new name (its old name must not linger beside it).
        const from = model.get(pick().toLowerCase())!;
        const to = `Again-${next++}.txt`;
        cache.recordItem(`/f/${to}`, { ...from, name: to });
        model.delete(from.name.toLowerCase());
        model.set(to.toLowerCase(), { ...from, name: to });
        removed.push(from.name);
      }
      if (step % 50 === 0 || step === 1999) {
        const listed = cache.peekListing('/f')!;
        expect(new Set(listed.map((c) => c.id)).size).toBe(listed.length);
        expect(new Map(listed.map((c) => [c.name.toLowerCase(), c]))).toEqual(model);
      }
      const probe = [...model.keys()][random(model.size)];
      expect(cache.peekItem(`/f/${probe.toUpperCase()}`)).toEqual(model.get(probe));
      expect(cache.peekItem(`/f/gone-${step}.txt`)).toBeNull();
      const lost = removed[random(removed.length)];
      if (lost !== undefined) expect(cache.peekItem(`/f/${lost}`)).toEqual(model.get(lost.toLowerCase()) ?? null);
    }
  });

  it('changes one child of a big listing without folding or sizing the others, and keeps its size honest', () => {
    let sized = 0;
    let folded = 0;
    const names = { ...FOLDED_NAMES, nameKey: (name: string) => (folded++, FOLDED_NAMES.nameKey(name)) };
    const sizeOf = (item: Item) => (sized++, 100 + item.name.length);
    const cache = new MetadataCache<Item>({ ttlMs: 60_000, maxEntries: 1000, maxBytes: 10_000_000, clock: new ManualClock(1_000_000), names, sizeOf });
    cache.setListing('/big', Array.from({ length: 1000 }, (_, i) => file(String(i), `File-${i}.txt`)), 'B');
    expect(cache.peekItem('/big/file-3.txt')).toMatchObject({ id: '3' }); // builds the name index once
    [sized, folded] = [0, 0];
    cache.recordItem('/big/New.txt', file('new', 'New.txt'));
    cache.recordItem('/big/File-10.txt', file('10', 'File-10.txt', 9));
    cache.recordRemoval('/big/File-20.txt');
    cache.recordMove('/big/File-30.txt', '/big/Thirty.txt', file('30', 'Thirty.txt'), (item) => item);
    // Each change touches the children it changes: a handful of calls, not one per child.
    expect(sized).toBeLessThan(20);
    expect(folded).toBeLessThan(40);

    // The index followed every change, old array to new.
    expect(cache.peekItem('/big/new.TXT')).toMatchObject({ id: 'new' });
    expect(cache.peekItem('/big/file-10.txt')).toMatchObject({ id: '10', size: 9 });
    expect(cache.peekItem('/big/file-20.txt')).toBeNull();
    expect(cache.peekItem('/big/file-30.txt')).toBeNull();
    expect(cache.peekItem('/big/THIRTY.txt')).toMatchObject({ id: '30' });
    expect(cache.peekItem('/big/file-999.txt')).toMatchObject({ id: '999' });
    const listed = cache.peekListing('/big')!;
    expect(listed).toHaveLength(1000);
    expect(listed.filter((c) => c.id === '30')).toHaveLength(1);

    // Its size is what the same knowledge weighs when stored afresh: the listing as it is now, and
    // the written paths' own entries.
    const rebuilt = new MetadataCache<Item>({ ttlMs: 60_000, maxEntries: 1000, maxBytes: 10_000_000, clock: new ManualClock(1_000_000), names, sizeOf });
    rebuilt.setListing('/big', [...listed], 'B');
    rebuilt.setItem('/big/New.txt', file('new', 'New.txt'));
    rebuilt.setItem('/big/File-10.txt', file('10', 'File-10.txt', 9));
    rebuilt.setItem('/big/Thirty.txt', file('30', 'Thirty.txt'));
    rebuilt.setItem('/big/File-20.txt', null);
    rebuilt.setItem('/big/File-30.txt', null);
    expect(cache.stats().bytes).toBe(rebuilt.stats().bytes);
  });

  it('answers children (present and absent) from a cached listing', async () => {
    const cache = makeCache();
    cache.setListing('/d', [file('1', 'x.txt'), folder('2', 'Sub')], 'D');
    expect(cache.peekItem('/d/x.txt')).toMatchObject({ id: '1' });
    expect(cache.peekItem('/d/sub')).toMatchObject({ id: '2' });
    expect(cache.peekItem('/d/missing')).toBeNull();
    expect(cache.peekItem('/other/x')).toBeUndefined();
  });

  it('does not store a load that raced with an invalidation', async () => {
    const cache = makeCache();
    let release!: () => void;
    const slow = cache.item('/a', () => new Promise<Item>((r) => (release = () => r(file('old', 'a')))));
    await Promise.resolve();
    cache.recordItem('/a', file('new', 'a'));
    release();
    expect((await slow)?.id).toBe('old'); // the caller gets what it asked for…
    expect(cache.peekItem('/a')?.id).toBe('new'); // …but the cache keeps the write's result
  });

  it('records a write in place: item entry and parent listing, nothing else', () => {
    const cache = makeCache();
    cache.setListing('/', [folder('d', 'd'), file('s', 'sibling')], 'ROOT');
    cache.setListing('/d', [file('1', 'x')], 'd');
    cache.setListing('/other', [file('o', 'o')], 'O');
    cache.recordItem('/d/new', file('n', 'new', 5));
    expect(cache.peekListing('/d')?.map((c) => c.name).sort()).toEqual(['new', 'x']);
    expect(cache.peekItem('/d/new')).toMatchObject({ id: 'n', size: 5 });
    expect(cache.peekListing('/other')).toHaveLength(1);
    expect(cache.peekListing('/')).toHaveLength(2);
    cache.recordItem('/d/NEW', file('n', 'NEW', 6)); // replace keeps one entry per name
    expect(cache.peekListing('/d')).toHaveLength(2);
  });

  it('forgets a removed folder and everything below it', () => {
    const cache = makeCache();
    cache.setListing('/', [folder('d', 'd'), file('k', 'keep')], 'ROOT');
    cache.setListing('/d', [folder('s', 's')], 'd');
    cache.setListing('/d/s', [file('1', 'deep')], 's');
    cache.setItem('/dx', file('dx', 'dx'));
    cache.recordRemoval('/d');
    expect(cache.peekListing('/d')).toBeUndefined();
    expect(cache.peekListing('/d/s')).toBeUndefined();
    expect(cache.peekItem('/d')).toBeNull();
    expect(cache.peekItem('/dx')).toMatchObject({ id: 'dx' }); // prefix means path segments, not characters
    expect(cache.peekListing('/')?.map((c) => c.name)).toEqual(['keep']);
  });

  it('applies remote changes by id when the feed gives no path', () => {
    const cache = makeCache();
    cache.setListing('/', [folder('d', 'd'), folder('e', 'e')], 'ROOT');
    cache.setListing('/d', [file('1', 'x')], 'd');
    cache.setListing('/e', [file('2', 'y')], 'e');
    cache.applyRemoteChanges([{ id: '1', deleted: true }]);
    expect(cache.peekListing('/d')).toBeUndefined();
    expect(cache.peekListing('/e')).toHaveLength(1);
    cache.applyRemoteChanges([{ id: 'new', deleted: false, parentId: 'e' }]);
    expect(cache.peekListing('/e')).toBeUndefined();
  });

  it('stays within maxBytes and maxEntries', () => {
    const cache = makeCache(new ManualClock(), { maxBytes: 20_000, maxEntries: 50 });
    for (let i = 0; i < 500; i++) cache.setItem(`/f${i}`, file(String(i), `f${i}`));
    const stats = cache.stats();
    expect(stats.bytes).toBeLessThanOrEqual(20_000);
    expect(stats.entries).toBeLessThanOrEqual(50);
    expect(stats.evictions).toBeGreaterThan(0);
  });

  it('stores nothing with a TTL of 0 but still coalesces', async () => {
    const cache = makeCache(new ManualClock(), { ttlMs: 0 });
    const loader = counter(() => file('1', 'a'));
    await Promise.all([cache.item('/a', loader.load), cache.item('/a', loader.load)]);
    await cache.item('/a', loader.load);
    expect(loader.calls).toBe(2);
  });

  it('keeps download URLs until shortly before they expire', async () => {
    const clock = new ManualClock();
    const cache = new MetadataCache<Item>({ ttlMs: 600_000, maxEntries: 100, maxBytes: 1e6, clock, names: FOLDED_NAMES, downloadUrlMarginMs: 1000 });
    let n = 0;
    const load = async () => ({ url: `u${++n}`, expiresAt: clock.now() + 10_000 });
    expect((await cache.downloadUrl('/f', load)).url).toBe('u1');
    clock.advance(8_999);
    expect((await cache.downloadUrl('/f', load)).url).toBe('u1');
    clock.advance(2);
    expect((await cache.downloadUrl('/f', load)).url).toBe('u2');
  });
});

describe('delta poller', () => {
  it('starts from the latest link, applies changes, and resyncs on 410', async () => {
    const cache = makeCache();
    cache.setListing('/d', [file('1', 'x')], 'd');
    const links: string[] = [];
    let answer: () => { changes: { id: string; deleted: boolean }[]; deltaLink: string } = () => ({ changes: [], deltaLink: 'L1' });
    const poller = new DeltaPoller({ changes: async (link) => (links.push(link), answer()) }, cache, 1000);
    expect(await poller.pollOnce()).toBe(0);
    answer = () => ({ changes: [{ id: '1', deleted: true }], deltaLink: 'L2' });
    expect(await poller.pollOnce()).toBe(1);
    expect(cache.peekListing('/d')).toBeUndefined();
    cache.setItem('/z', file('z', 'z'));
    answer = () => {
      throw Object.assign(new Error('resync'), { status: 410 });
    };
    await poller.pollOnce();
    expect(cache.peekItem('/z')).toBeUndefined();
    answer = () => ({ changes: [], deltaLink: 'L3' });
    await poller.pollOnce();
    expect(links).toEqual(['latest', 'L1', 'L2', 'latest']);
  });
});

describe('remote changes on folders', () => {
  it('keeps listings when an unmoved ancestor is reported, drops everything below a renamed folder', () => {
    const cache = makeCache();
    cache.setListing('/', [folder('d', 'd')], 'ROOT');
    cache.setListing('/d', [folder('s', 's')], 'd');
    cache.setListing('/d/s', [file('1', 'x')], 's');
    cache.applyRemoteChanges([
      { id: 'ROOT', deleted: false, isFolder: true, isRoot: true },
      { id: 'd', deleted: false, isFolder: true, name: 'd', parentId: 'ROOT' },
    ]);
    expect(cache.peekListing('/d')).toHaveLength(1);
    expect(cache.peekListing('/d/s')).toHaveLength(1);
    cache.applyRemoteChanges([{ id: 'd', deleted: false, isFolder: true, name: 'renamed', parentId: 'ROOT' }]);
    expect(cache.peekListing('/d')).toBeUndefined();
    expect(cache.peekListing('/d/s')).toBeUndefined();
    expect(cache.peekListing('/')).toBeUndefined();
  });

  it('drops a reported folder\'s entry in its parent\'s listing (its tags changed) but keeps what is below it', () => {
    const cache = makeCache();
    cache.setListing('/', [folder('d', 'd')], 'ROOT');
    cache.setListing('/d', [file('1', 'x')], 'd');
    cache.applyRemoteChanges([{ id: 'd', deleted: false, isFolder: true, name: 'd', parentId: 'ROOT' }]);
    expect(cache.peekListing('/')).toBeUndefined();
    expect(cache.peekListing('/d')).toHaveLength(1);
  });

  it('treats a folder whose old parent it never learned as moved, and an unknown folder as the possible old home of anything below an unknown id', () => {
    const cache = makeCache();
    cache.setListing('/a/d', [folder('s', 's')], 'd'); // /a itself never seen
    cache.setListing('/a/d/s', [file('1', 'x')], 's');
    cache.applyRemoteChanges([{ id: 'd', deleted: false, isFolder: true, name: 'd', parentId: 'elsewhere' }]);
    expect(cache.peekListing('/a/d/s')).toBeUndefined();

    cache.setListing('/', [folder('k', 'known')], 'ROOT');
    cache.setListing('/known', [file('2', 'y')], 'k');
    cache.setItem('/p/q/f.txt', file('3', 'f.txt')); // looked up directly: /p and /p/q unknown
    cache.applyRemoteChanges([{ id: 'unknown-folder', deleted: false, isFolder: true, name: 'z', parentId: 'nobody' }]);
    expect(cache.peekItem('/p/q/f.txt')).toBeUndefined();
    expect(cache.peekListing('/known')).toHaveLength(1);
  });
});
