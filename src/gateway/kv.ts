import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SharedRedis } from '../redis/connection.js';
import { viaRedis } from '../redis/errors.js';
import { readTextIfExists, writeFileAtomic } from '../util/atomic-file.js';
import type { Clock } from '../util/clock.js';

/**
 * The gateway's small records (people, sessions, sign-ins under way) as JSON values by key: one file
 * per key under `<dataDir>/gateway/` (mode 0600) for one process, Redis for a fleet of replicas.
 * Nothing here is cached in memory, so `onedav users revoke` run beside a live server takes effect
 * at the server's next request.
 */
export interface GatewayKv {
  get<T>(key: string): Promise<T | undefined>;
  /** `ttlMs`: the value disappears after that long. */
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /** Reads and removes in one step: of two callers at most one gets the value (single-use sign-in state). */
  take<T>(key: string): Promise<T | undefined>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`. */
  keys(prefix: string): Promise<string[]>;
}

interface FileEntry {
  value: unknown;
  expiresAt?: number;
}

export class FileGatewayKv implements GatewayKv {
  constructor(
    readonly dir: string,
    private readonly clock: Clock,
  ) {}

  private path(key: string): string {
    return join(this.dir, `${encodeURIComponent(key).replace(/\./g, '%2E')}.json`);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = await readTextIfExists(this.path(key));
    if (text === undefined) return undefined;
    const entry = JSON.parse(text) as FileEntry;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.clock.now()) {
      await this.delete(key);
      return undefined;
    }
    return entry.value as T;
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const entry: FileEntry = { value, expiresAt: ttlMs === undefined ? undefined : this.clock.now() + ttlMs };
    await writeFileAtomic(this.path(key), JSON.stringify(entry), 0o600);
  }

  async take<T>(key: string): Promise<T | undefined> {
    const value = await this.get<T>(key);
    if (value === undefined) return undefined;
    // Whoever unlinks the file took it; a caller that finds it gone lost the race.
    try {
      await unlink(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return value;
  }

  async delete(key: string): Promise<void> {
    await unlink(this.path(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async keys(prefix: string): Promise<string[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    return files
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => decodeURIComponent(f.slice(0, -'.json'.length)))
      .filter((k) => k.startsWith(prefix))
      .sort();
  }
}

/** The same records in the fleet's Redis, under `<keyPrefix>gateway:`. */
export class RedisGatewayKv implements GatewayKv {
  constructor(private readonly connection: SharedRedis) {}

  private key(key: string): string {
    return `gateway:${key}`;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = await viaRedis('read gateway record', () => this.connection.commands.get(this.key(key)));
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const json = JSON.stringify(value);
    await viaRedis('write gateway record', () =>
      ttlMs === undefined ? this.connection.commands.set(this.key(key), json) : this.connection.commands.set(this.key(key), json, 'PX', Math.max(1, Math.ceil(ttlMs))),
    );
  }

  async take<T>(key: string): Promise<T | undefined> {
    // GETDEL (Redis 6.2): one command, so two replicas cannot both redeem one sign-in state.
    const text = await viaRedis('take gateway record', () => this.connection.commands.getdel(this.key(key)));
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async delete(key: string): Promise<void> {
    await viaRedis('delete gateway record', () => this.connection.commands.del(this.key(key)));
  }

  async keys(prefix: string): Promise<string[]> {
    // SCAN patterns do not get ioredis's keyPrefix: add it, and take it off the answers.
    const full = `${this.connection.keyPrefix}${this.key(prefix)}`;
    const strip = `${this.connection.keyPrefix}gateway:`.length;
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await viaRedis('list gateway records', () => this.connection.commands.scan(cursor, 'MATCH', `${full.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500));
      cursor = next;
      found.push(...batch.map((k) => k.slice(strip)));
    } while (cursor !== '0');
    return [...new Set(found)].sort();
  }
}
