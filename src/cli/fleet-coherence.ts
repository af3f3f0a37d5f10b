import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RedisInvalidationBus } from '../cache/redis-invalidation-bus.js';
import { RedisPollLease } from '../cache/redis-poll-lease.js';
import type { SharedDriveState } from '../drive/index.js';
import type { SharedRedis } from '../redis/connection.js';
import { SecretBox } from '../redis/secret-box.js';
import { RedisUploadOwnership } from '../redis/upload-ownership.js';
import { RedisUploadSessions, type CancelSession } from '../redis/upload-sessions.js';
import type { Logger } from '../util/logger.js';

/** A poll lease outlives this many poll intervals: a dead holder is replaced within them. */
const POLL_LEASE_INTERVALS = 3;

/**
 * What keeps several replicas' views of their drives one: the invalidation bus, the delta-poll
 * lease per drive, upload ownership per path and the registry of open upload sessions.
 */
export class FleetCoherence {
  /** New at every start, so a restarted replica never takes over its former self's leases or sessions. */
  readonly replica = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly bus: RedisInvalidationBus;
  readonly sessions: RedisUploadSessions;
  private readonly ownership: RedisUploadOwnership;

  constructor(
    private readonly redis: SharedRedis,
    private readonly options: { deltaPollSeconds: number; logger: Logger },
  ) {
    this.bus = new RedisInvalidationBus(redis, this.replica, options.logger);
    this.ownership = new RedisUploadOwnership(redis, this.replica, { logger: options.logger });
    this.sessions = new RedisUploadSessions(redis, this.replica, { box: SecretBox.fromEnvironment(), logger: options.logger });
  }

  /** The shared state of one drive, named by the account and the drive it resolves to (the same on every replica). */
  driveState(account: string, drive: unknown): SharedDriveState {
    const name = createHash('sha256').update(`${account}\n${JSON.stringify(drive)}`).digest('hex').slice(0, 24);
    const leaseMs = Math.max(1000, POLL_LEASE_INTERVALS * this.options.deltaPollSeconds * 1000);
    return { drive: name, bus: this.bus, pollLease: new RedisPollLease(this.redis, name, this.replica, leaseMs), writeOwnership: this.ownership };
  }

  /** Before serving: listening to the bus, heartbeat running, dead peers' sessions cancelled. */
  async start(cancel: CancelSession): Promise<number> {
    await this.bus.ready();
    return this.sessions.start(cancel);
  }

  async close(): Promise<void> {
    await this.sessions.close();
  }
}
