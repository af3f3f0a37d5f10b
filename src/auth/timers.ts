import type { Clock } from '../util/clock.js';

/** How the refresher waits. Injected so tests drive time by hand. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Resolves after `ms`. */
  sleep(ms: number): Promise<void>;
}

/** Real timers, unref'd so a pending refresh never keeps the process alive. */
export const systemTimers: Timers = {
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, Math.max(0, ms));
    handle.unref?.();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
  sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  },
};

interface Pending {
  at: number;
  callback: () => void;
  id: number;
}

/**
 * Timers that fire when a ManualClock is advanced through `advance()`: due callbacks run in time
 * order and `advance` waits for the work they start (via `settle`).
 */
export class ManualTimers implements Timers {
  private pending: Pending[] = [];
  private nextId = 1;

  constructor(private readonly clock: Clock & { advance(ms: number): void }) {}

  setTimeout(callback: () => void, ms: number): unknown {
    const entry = { at: this.clock.now() + Math.max(0, ms), callback, id: this.nextId++ };
    this.pending.push(entry);
    return entry.id;
  }

  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  get scheduled(): number {
    return this.pending.length;
  }

  /**
   * Moves the clock forward by `ms`, firing each due timer at its own time. After each one,
   * `settle()` is awaited so the refresh it started (real HTTP) completes before time moves on.
   */
  async advance(ms: number, settle: () => Promise<void> = () => new Promise((r) => setImmediate(r))): Promise<void> {
    const end = this.clock.now() + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.pending[0];
      if (!next || next.at > end) break;
      this.pending.shift();
      if (next.at > this.clock.now()) this.clock.advance(next.at - this.clock.now());
      next.callback();
      await settle();
    }
    if (end > this.clock.now()) this.clock.advance(end - this.clock.now());
    await settle();
  }
}
