import type { Clock } from '../../util/clock.js';

export interface LoginThrottleOptions {
  /** Failed logins one client address may make within `windowMs` (default 10). */
  failures?: number;
  /** The sliding window (default one minute). */
  windowMs?: number;
  /** Addresses remembered at once; the stalest are forgotten first (default 10,000). */
  maxClients?: number;
}

/**
 * Counts failed Basic logins per client address. In memory for one process (LoginThrottle); in
 * Redis for a fleet (stores/redis-login-throttle.ts), hence the answers may come later.
 */
export interface FailedLoginCounter {
  /** Seconds the address must wait before trying again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number | Promise<number>;
  recordFailure(address: string): void | Promise<void>;
}

/**
 * Failed Basic logins per client address, in a sliding window: past the limit the address gets
 * 429 with Retry-After until its oldest failure leaves the window, whatever it sends (a correct
 * password too, or guessing would go on). Checked before any password work, so a blocked client
 * costs no scrypt time; an allowed one still gets the same constant-time check as before.
 */
export class LoginThrottle implements FailedLoginCounter {
  private readonly failures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  /** Address → times of its failures inside the window, oldest first. */
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    options: LoginThrottleOptions = {},
  ) {
    this.failures = options.failures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** Seconds the address must wait before trying again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const times = this.live(address);
    if (times.length < this.failures) return 0;
    const freeAt = times[times.length - this.failures] + this.windowMs;
    return Math.max(1, Math.ceil((freeAt - this.clock.now()) / 1000));
  }

  recordFailure(address: string): void {
    const times = this.live(address);
    times.push(this.clock.now());
    if (times.length > this.failures) times.splice(0, times.length - this.failures);
    this.recent.delete(address); // re-inserted last: Map order is least recently failed first
    this.recent.set(address, times);
    if (this.recent.size > this.maxClients) this.recent.delete(this.recent.keys().next().value!);
  }

  private live(address: string): number[] {
    const times = this.recent.get(address);
    if (!times) return [];
    const horizon = this.clock.now() - this.windowMs;
    while (times.length > 0 && times[0] <= horizon) times.shift();
    if (times.length === 0) this.recent.delete(address);
    return times;
  }
}
