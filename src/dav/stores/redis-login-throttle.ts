import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedRedis } from '../../redis/connection.js';
import { SharedStateUnavailableError, viaRedis } from '../../redis/errors.js';
import { systemClock, type Clock } from '../../util/clock.js';
import type { FailedLoginCounter, LoginThrottleOptions } from '../access/login-throttle.js';
import { DavError } from '../protocol/errors.js';

/**
 * Forgets failures older than the window, adds this one, keeps only the newest `failures`, and
 * lets the key expire with the window: the same sliding window as the in-memory LoginThrottle, in
 * one script so that two replicas counting at once cannot lose a failure.
 */
const RECORD_FAILURE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
local n = redis.call('ZCARD', KEYS[1])
local keep = tonumber(ARGV[3])
if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - keep - 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n`;

/** Milliseconds until the address may try again (0: now): when the oldest of its last `failures` leaves the window. */
const RETRY_AFTER = `
local horizon = tonumber(ARGV[1]) - tonumber(ARGV[2])
local n = redis.call('ZCOUNT', KEYS[1], '(' .. horizon, '+inf')
local limit = tonumber(ARGV[3])
if n < limit then return 0 end
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. horizon, '+inf', 'WITHSCORES', 'LIMIT', n - limit, 1)
return tonumber(oldest[2]) + tonumber(ARGV[2]) - tonumber(ARGV[1])`;

interface ThrottleCommands extends Redis {
  onedavRecordLoginFailure(key: string, now: string, windowMs: string, failures: string, member: string): Promise<number>;
  onedavLoginRetryAfter(key: string, now: string, windowMs: string, failures: string): Promise<number>;
}

/**
 * Failed Basic logins per client address, counted in Redis for every replica of a fleet, so a
 * guesser gets one budget whichever replica the load balancer sends it to. While Redis is out of
 * reach, logins with credentials answer 503 (fail closed: a blind replica would hand out budgets).
 */
export class RedisLoginThrottle implements FailedLoginCounter {
  private readonly redis: ThrottleCommands;
  private readonly failures: number;
  private readonly windowMs: number;

  constructor(
    connection: SharedRedis,
    options: Omit<LoginThrottleOptions, 'maxClients'> = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.redis = connection.commands as ThrottleCommands;
    this.failures = options.failures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    if (!this.redis.onedavRecordLoginFailure) {
      this.redis.defineCommand('onedavRecordLoginFailure', { numberOfKeys: 1, lua: RECORD_FAILURE });
      this.redis.defineCommand('onedavLoginRetryAfter', { numberOfKeys: 1, lua: RETRY_AFTER });
    }
  }

  async retryAfterSeconds(address: string): Promise<number> {
    const ms = await this.run('check the login throttle', () => this.redis.onedavLoginRetryAfter(keyOf(address), String(this.clock.now()), String(this.windowMs), String(this.failures)));
    return ms <= 0 ? 0 : Math.max(1, Math.ceil(ms / 1000));
  }

  async recordFailure(address: string): Promise<void> {
    const member = `${this.clock.now()}:${randomBytes(6).toString('hex')}`;
    await this.run('count a failed login', () =>
      this.redis.onedavRecordLoginFailure(keyOf(address), String(this.clock.now()), String(this.windowMs), String(this.failures), member),
    );
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await viaRedis(what, fn);
    } catch (err) {
      if (err instanceof SharedStateUnavailableError) {
        throw new DavError(503, 'Logins cannot be checked right now (shared state is unavailable); try again shortly.', { headers: { 'Retry-After': String(err.retryAfter) } });
      }
      throw err;
    }
  }
}

function keyOf(address: string): string {
  return `login-failures:${address}`;
}
