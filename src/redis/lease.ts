import type { Redis } from 'ioredis';
import type { SharedRedis } from './connection.js';
import { viaRedis } from './errors.js';

type LeaseCommands = Redis & {
  onedavLeaseHold(key: string, owner: string, ttlMs: number): Promise<number>;
  onedavLeaseExtend(key: string, owner: string, ttlMs: number): Promise<number>;
  onedavLeaseRelease(key: string, owner: string): Promise<number>;
};

// Take the lease when free, or extend it when `owner` holds it: one atomic step, so two replicas
// can never both be told they hold it.
const HOLD = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

// Extend only our own lease: one that ran out is not taken again, whether free or taken by another.
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

// Delete only our own lease: one that expired and was taken by another replica stays theirs.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

function commandsOf(redis: SharedRedis): LeaseCommands {
  const commands = redis.commands as LeaseCommands;
  if (typeof commands.onedavLeaseHold !== 'function') {
    commands.defineCommand('onedavLeaseHold', { numberOfKeys: 1, lua: HOLD });
    commands.defineCommand('onedavLeaseExtend', { numberOfKeys: 1, lua: EXTEND });
    commands.defineCommand('onedavLeaseRelease', { numberOfKeys: 1, lua: RELEASE });
  }
  return commands;
}

/**
 * A lease in Redis: a key holding its owner's id with a TTL, taken or renewed by `hold`, extended
 * only by its holder, released by compare-and-delete (all in Lua). A holder that dies loses it
 * after `ttlMs`. Failures to reach Redis throw SharedStateUnavailableError.
 */
export class RedisLease {
  private readonly commands: LeaseCommands;

  constructor(
    redis: SharedRedis,
    readonly key: string,
    readonly owner: string,
    readonly ttlMs: number,
  ) {
    this.commands = commandsOf(redis);
  }

  /** Takes the lease when it is free, extends it when we hold it; false while someone else holds it. */
  async hold(): Promise<boolean> {
    return (await viaRedis('take lease', () => this.commands.onedavLeaseHold(this.key, this.owner, this.ttlMs))) === 1;
  }

  /**
   * Extends the lease for `ttlMs` only while we still hold it; false once it has run out (someone
   * else may hold it now). Unlike `hold`, it never takes a lease that ran out: work begun under the
   * old lease must not go on as if it had been held throughout.
   */
  async extend(ttlMs = this.ttlMs): Promise<boolean> {
    return (await viaRedis('extend lease', () => this.commands.onedavLeaseExtend(this.key, this.owner, ttlMs))) === 1;
  }

  /** Frees the lease when we hold it; a no-op when it ran out or is someone else's. */
  async release(): Promise<void> {
    await viaRedis('release lease', () => this.commands.onedavLeaseRelease(this.key, this.owner));
  }
}
