/**
 * Reads asked for in the same tick, sent as one. A Depth 1 PROPFIND asks the stores about every
 * child at once (views.ts, through Promise.all): with Redis that was one HGET and one HVALS per
 * child, thousands of commands per listing, enough under load to run into the command timeout and
 * answer 503 with Redis healthy (bench table 5). The batch is sent once the current tick's callers
 * have all asked, so every caller's answer is read after its own call, as fresh as a read of its own.
 */
export class SameTickReads<K, V> {
  private waiting: Array<{ key: K; resolve(value: V): void; reject(err: unknown): void }> | undefined;

  /** `readAll(keys)` answers in the order of `keys`. */
  constructor(private readonly readAll: (keys: K[]) => Promise<V[]>) {}

  read(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      if (!this.waiting) {
        this.waiting = [];
        queueMicrotask(() => this.send());
      }
      this.waiting.push({ key, resolve, reject });
    });
  }

  private send(): void {
    const batch = this.waiting!;
    this.waiting = undefined;
    this.readAll(batch.map((w) => w.key)).then(
      (values) => batch.forEach((w, i) => w.resolve(values[i])),
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    );
  }
}
