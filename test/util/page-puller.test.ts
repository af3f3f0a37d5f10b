import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { pull } from '../../src/util/page-puller.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Pages made by a call (no local of the source holds one), each watched through a WeakRef. */
function watchedPages(count: number) {
  const refs: Array<WeakRef<object>> = [];
  const made = (p: number) => {
    const page = Array.from({ length: 100 }, (_, i) => ({ n: p * 100 + i }));
    refs.push(new WeakRef(page));
    return page;
  };
  /** Whether the page before the one being made is still reachable, per page. */
  const previousAlive: boolean[] = [];
  const source = (async function* () {
    for (let p = 0; p < count; p++) {
      // A later macrotask: a WeakRef keeps its target only until the job that made it ends.
      await new Promise((resolve) => setTimeout(resolve, 0));
      gc();
      if (p > 0) previousAlive.push(refs[p - 1].deref() !== undefined);
      yield made(p);
    }
  })();
  return { source, previousAlive };
}

describe('PagePuller', () => {
  it('hands out every value in order, then undefined', async () => {
    const pages = pull((async function* () { yield* [1, 2, 3]; })());
    const seen: number[] = [];
    for (let v = await pages.next(); v; v = await pages.next()) seen.push(v.value);
    expect(seen).toEqual([1, 2, 3]);
    expect(await pages.next()).toBeUndefined();
  });

  it('keeps no value reachable while the next is awaited, where `for await` keeps the last one', async () => {
    const pulled = watchedPages(4);
    const pages = pull(pulled.source);
    let total = 0;
    for (let page = await pages.next(); page; page = await pages.next()) total += page.value.length;
    expect(total).toBe(400);
    expect(pulled.previousAlive).toEqual([false, false, false]);

    // The same loop as `for await` (what the listing chain did): each page outlives its turn.
    const looped = watchedPages(4);
    for await (const page of looped.source) total += page.length;
    expect(looped.previousAlive).toEqual([true, true, true]);
  });

  it('close() stops the source (its finally runs) and is idempotent; a source that fails is done', async () => {
    let finished = false;
    const pages = pull(
      (async function* () {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          finished = true;
        }
      })(),
    );
    expect((await pages.next())?.value).toBe(0);
    await pages.close();
    await pages.close();
    expect(finished).toBe(true);
    expect(await pages.next()).toBeUndefined();

    const failing = pull(async () => {
      throw new Error('no source');
    });
    await expect(failing.next()).rejects.toThrow('no source');
    expect(await failing.next()).toBeUndefined();
  });
});
