import { randomUUID } from 'node:crypto';
import { silentLogger, type Logger } from '../util/logger.js';
import type { SharedRedis } from './connection.js';
import { SharedStateUnavailableError } from './errors.js';
import { RedisLease } from './lease.js';

export interface UploadOwnershipOptions {
  /** The lease outlives a dead holder this long (renewed every third of it while the upload runs). */
  ttlMs?: number;
  /** A second writer of the same path waits at most this long before it is answered busy. */
  waitMs?: number;
  logger?: Logger;
}

const DEFAULT_TTL_MS = 30_000;
const DEFAULT_WAIT_MS = 10_000;

/**
 * One upload per target path fleet-wide: an `upload:<key>` lease per (drive, path), taken before the
 * upload session opens and released when it ends. A write of a path another replica is uploading
 * waits for it (as writes of one path wait for each other in one process), up to `waitMs`.
 */
export class RedisUploadOwnership {
  private readonly ttlMs: number;
  private readonly waitMs: number;
  private readonly logger: Logger;

  constructor(
    private readonly redis: SharedRedis,
    private readonly replica: string,
    options: UploadOwnershipOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
    this.logger = options.logger ?? silentLogger;
  }

  async run<T>(key: string, work: () => Promise<T>): Promise<{ value: T } | { busy: string; retryAfter: number }> {
    // Each write holds its own token: two writes of one path in this replica never share a lease.
    const lease = new RedisLease(this.redis, `upload:${key}`, `${this.replica}:${randomUUID()}`, this.ttlMs);
    try {
      if (!(await this.take(lease))) {
        return { busy: 'Another onedav replica is uploading this file; try again shortly.', retryAfter: Math.ceil(this.waitMs / 1000) };
      }
    } catch (err) {
      if (err instanceof SharedStateUnavailableError) return { busy: 'Shared state (Redis) is unavailable; try again shortly.', retryAfter: err.retryAfter };
      throw err;
    }
    const renew = setInterval(() => {
      lease.hold().then(
        (held) => held || this.logger.warn('lost the upload lease of a running upload (it outlived the lease TTL)'),
        () => undefined, // Redis down: the lease lives on until its TTL; the next renewal tries again
      );
    }, Math.max(100, Math.floor(this.ttlMs / 3)));
    renew.unref();
    try {
      return { value: await work() };
    } finally {
      clearInterval(renew);
      await lease.release().catch(() => undefined); // unreleased, it expires after ttlMs
    }
  }

  private async take(lease: RedisLease): Promise<boolean> {
    const deadline = Date.now() + this.waitMs;
    for (let pause = 25; ; pause = Math.min(pause * 2, 250)) {
      if (await lease.hold()) return true;
      if (Date.now() + pause > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
