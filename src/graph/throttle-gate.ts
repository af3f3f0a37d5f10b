import type { Clock } from '../util/clock.js';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Real timers; rejects with the signal's reason when aborted. */
export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * "Throttled until": after Graph says 429/503 with Retry-After, every request to that origin waits
 * for the same moment instead of storming the service with attempts that will be refused too.
 */
export class ThrottleGate {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly sleep: Sleep,
  ) {}

  /** Keeps `origin` closed for at least `ms` from now (never shortens an earlier close). */
  closeFor(origin: string, ms: number): void {
    const until = this.clock.now() + ms;
    if (until > (this.until.get(origin) ?? 0)) this.until.set(origin, until);
  }

  /** Milliseconds `origin` stays closed; 0 when open. */
  remaining(origin: string): number {
    const until = this.until.get(origin);
    if (until === undefined) return 0;
    const left = until - this.clock.now();
    if (left <= 0) {
      this.until.delete(origin);
      return 0;
    }
    return left;
  }

  /** Waits while the gate is closed; returns how long it waited. */
  async pass(origin: string, signal?: AbortSignal): Promise<number> {
    let waited = 0;
    // Bounded: a gate re-closed while we slept is waited for again, a few times at most.
    for (let round = 0, left = this.remaining(origin); left > 0 && round < 8; round++, left = this.remaining(origin)) {
      await this.sleep(left, signal);
      waited += left;
    }
    return waited;
  }
}
