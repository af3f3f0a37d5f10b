import { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../util/logger.js';
import { isLoopbackHost } from '../util/loopback.js';
import { viaRedis } from './errors.js';

export interface SharedRedisOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
  /** Put before every key and channel, so that several onedav fleets (or other apps) can share one Redis. */
  keyPrefix: string;
  /** AUTH password when it is kept out of the URL (ONEDAV_REDIS_PASSWORD). */
  password?: string;
  logger?: Logger;
}

/**
 * ioredis's own per-command timeout, a backstop only: it counts wall time, so at 2 s a saturated
 * replica took a healthy Redis for a dead one (10 of 240, then 71 of 160 PROPFINDs answered 503 in
 * test/redis/saturation.test.ts). The outage deadline is viaRedis's, counted in event-loop time
 * (deadline.ts); this one only ends commands sent outside it (publish) on a Redis that hangs.
 */
const BACKSTOP_COMMAND_TIMEOUT_MS = 30_000;

/**
 * One Redis server shared by the replicas of a fleet. Commands fail at once while the connection is
 * down (no offline queue: a lock request must not wait in a queue and be granted a minute later);
 * the connection itself retries forever with a capped backoff, so onedav recovers by itself when
 * Redis comes back. Pub/sub needs a connection of its own (`subscriber()`).
 */
export class SharedRedis {
  readonly commands: Redis;
  readonly keyPrefix: string;
  readonly loopback: boolean;
  private readonly subscribers: Redis[] = [];
  private readonly logger: Logger;

  constructor(private readonly options: SharedRedisOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`redis.url must start with redis:// or rediss:// (got ${url.protocol}//)`);
    this.keyPrefix = options.keyPrefix;
    this.loopback = isLoopbackRedisUrl(options.url);
    this.logger = options.logger ?? silentLogger;
    this.commands = this.open('commands', true);
  }

  /** A new connection for SUBSCRIBE (a subscribed connection can run no other command); closed with this. */
  subscriber(): Redis {
    const connection = this.open('subscriber', false);
    this.subscribers.push(connection);
    return connection;
  }

  /** A channel name with the fleet's prefix (ioredis prefixes keys, not channels). */
  channel(name: string): string {
    return `${this.keyPrefix}${name}`;
  }

  /** Resolves once the first connection is up; rejects after `timeoutMs` (the connection keeps trying). */
  async ready(timeoutMs = 5000): Promise<void> {
    if (this.commands.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Redis at ${redactedUrl(this.options.url)} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.commands.off('ready', onReady);
      };
      this.commands.on('ready', onReady);
    });
  }

  async ping(): Promise<void> {
    await viaRedis('ping', () => this.commands.ping());
  }

  async close(): Promise<void> {
    await Promise.all([this.commands, ...this.subscribers].map((c) => c.quit().catch(() => c.disconnect())));
  }

  private open(role: string, prefixed: boolean): Redis {
    const connection = new Redis(this.options.url, {
      ...(prefixed ? { keyPrefix: this.options.keyPrefix } : {}),
      ...(this.options.password ? { password: this.options.password } : {}),
      connectionName: `onedav-${role}`,
      enableOfflineQueue: role === 'subscriber',
      // A Depth 1 PROPFIND asks the stores about every child at once: commands issued in the same
      // tick go to Redis as one pipeline (one round trip) instead of one each.
      enableAutoPipelining: role !== 'subscriber',
      maxRetriesPerRequest: 0,
      commandTimeout: BACKSTOP_COMMAND_TIMEOUT_MS,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      lazyConnect: false,
    });
    let down = false;
    connection.on('error', (err: Error) => {
      if (!down) this.logger.warn('redis connection failed; retrying', { redis: redactedUrl(this.options.url), role, err: err.message });
      down = true;
    });
    connection.on('ready', () => {
      if (down) this.logger.info('redis connection back', { redis: redactedUrl(this.options.url), role });
      down = false;
    });
    return connection;
  }
}

/** Whether the Redis of `url` runs on this machine (where unsealed secrets may be acceptable). */
export function isLoopbackRedisUrl(text: string): boolean {
  try {
    return isLoopbackHost(new URL(text).hostname);
  } catch {
    return false;
  }
}

/** The URL without its password, for logs and errors. */
export function redactedUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable redis url)';
  }
}
