/**
 * Takes the values of an async iterable one at a time, handing each out in a fresh box and
 * emptying the previous box before the next value is awaited.
 *
 * Why not `for await` or `yield*`: a suspended async function or generator keeps its whole frame,
 * and V8 keeps in it the loop variable (and `yield*`'s last result) of the previous turn until the
 * next value arrives. Along a listing's chain of generators (Graph pages → entries → cache →
 * PROPFIND) every link so held one 1,000-item page through the next page's request: pages lived
 * long enough to be promoted out of V8's young generation, and a 100,000-item listing left ~100 MiB
 * of garbage for full collections to find (issue 16: RSS growth of a big PROPFIND). A stale box
 * holds nothing.
 *
 *   const pages = pull(source);
 *   try {
 *     for (let page = await pages.next(); page; page = await pages.next()) yield page.value;
 *   } finally {
 *     await pages.close();
 *   }
 */
export class PagePuller<T> {
  private iterator: AsyncIterator<T> | undefined;
  private last: { value: T } | undefined;
  private done = false;

  constructor(private readonly source: AsyncIterable<T> | (() => Promise<AsyncIterable<T>>)) {}

  /** The next value, or undefined when there is none. The box handed out before is emptied. */
  async next(): Promise<{ value: T } | undefined> {
    if (this.last) this.last.value = undefined as T;
    this.last = undefined;
    if (this.done) return undefined;
    try {
      this.iterator ??= (typeof this.source === 'function' ? await this.source() : this.source)[Symbol.asyncIterator]();
      const step = await this.iterator.next();
      if (step.done) {
        this.done = true;
        return undefined;
      }
      return (this.last = { value: step.value });
    } catch (err) {
      this.done = true;
      throw err;
    }
  }

  /** As a `for await` left early: tells the source to stop (its `finally` blocks run). Idempotent. */
  async close(): Promise<void> {
    if (this.last) this.last.value = undefined as T;
    this.last = undefined;
    if (this.done) return;
    this.done = true;
    await this.iterator?.return?.();
  }
}

/** A PagePuller over `source` (or over what `source()` resolves to, asked for on the first `next()`). */
export function pull<T>(source: AsyncIterable<T> | (() => Promise<AsyncIterable<T>>)): PagePuller<T> {
  return new PagePuller(source);
}
