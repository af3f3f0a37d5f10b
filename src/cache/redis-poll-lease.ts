import type { SharedRedis } from '../redis/connection.js';
import { viaRedis } from '../redis/errors.js';
import { RedisLease } from '../redis/lease.js';
import type { PollLease } from './delta-poller.js';

/** Delta tokens expire on Graph's side long before this (410 then); the key only must not linger forever. */
const LINK_TTL_SECONDS = 30 * 24 * 3600;

/**
 * One replica per drive polls the delta feed: the holder of `delta-lease:<drive>`. The lease
 * outlives a few poll intervals, so a holder that dies is replaced within that time, and the delta
 * link is kept beside it (a delta link is no credential: it needs the drive's own token).
 */
export class RedisPollLease implements PollLease {
  private readonly lease: RedisLease;
  private readonly linkKey: string;

  constructor(
    private readonly redis: SharedRedis,
    drive: string,
    replica: string,
    ttlMs: number,
  ) {
    this.lease = new RedisLease(redis, `delta-lease:${drive}`, replica, ttlMs);
    this.linkKey = `delta-link:${drive}`;
  }

  hold(): Promise<boolean> {
    return this.lease.hold();
  }

  release(): Promise<void> {
    return this.lease.release();
  }

  async savedLink(): Promise<string | undefined> {
    return (await viaRedis('delta link', () => this.redis.commands.get(this.linkKey))) ?? undefined;
  }

  async saveLink(link: string): Promise<void> {
    await viaRedis('delta link', () => this.redis.commands.set(this.linkKey, link, 'EX', LINK_TTL_SECONDS));
  }
}
