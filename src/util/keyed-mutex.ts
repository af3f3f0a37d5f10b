/**
 * Runs tasks one at a time per key, in arrival order; tasks under different keys run freely.
 * A key's entry is dropped when its last task ends, so the map holds only keys in use.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => done);
    this.tails.set(key, tail);
    await before;
    try {
      return await task();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a task running or waiting (tests). */
  get busyKeys(): number {
    return this.tails.size;
  }
}
