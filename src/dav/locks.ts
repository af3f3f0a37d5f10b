import { randomUUID } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { JsonFile } from './json-file.js';
import { storeKey } from './paths.js';

/**
 * WebDAV write locks (RFC 4918 §6–7), kept by mount and drive path, persisted under the data dir
 * so that a restart does not silently drop locks clients still hold. Locks are advisory towards
 * OneDrive (other OneDrive clients ignore them) but enforced for every WebDAV request.
 */
export interface LockRecord {
  token: string;
  /** Mount prefix the lock lives in ('/' or '/team'). */
  mount: string;
  /** Drive path of the lock root, as it was locked (case kept for display). */
  path: string;
  depth: 0 | 'infinity';
  scope: 'exclusive' | 'shared';
  /** The `<D:owner>` content as serialised XML, returned verbatim in lockdiscovery. */
  owner?: string;
  /** Who took the lock ('anonymous' for anonymous users); only they may use or remove it. */
  principal: string;
  timeoutSeconds: number;
  /** Epoch ms. */
  expiresAt: number;
}

interface StoredLocks {
  version: 1;
  locks: LockRecord[];
}

export const MAX_LOCK_SECONDS = 24 * 3600;
export const DEFAULT_LOCK_SECONDS = 3600;

export class LockStore {
  private locks = new Map<string, LockRecord>();

  private constructor(
    private readonly file: JsonFile<StoredLocks>,
    private readonly clock: Clock,
  ) {}

  static async open(path: string | undefined, clock: Clock, logger: Logger): Promise<LockStore> {
    const { file, data } = await JsonFile.load<StoredLocks>(path, { version: 1, locks: [] }, logger);
    const store = new LockStore(file, clock);
    for (const lock of Array.isArray(data.locks) ? data.locks : []) {
      if (typeof lock?.token === 'string' && lock.expiresAt > clock.now()) store.locks.set(lock.token, lock);
    }
    return store;
  }

  /** Active locks whose scope includes `path`: rooted at it, or at an ancestor with Depth infinity. */
  covering(mount: string, path: string): LockRecord[] {
    const key = storeKey(path);
    return this.active().filter((l) => l.mount === mount && (storeKey(l.path) === key || (l.depth === 'infinity' && isAncestor(storeKey(l.path), key))));
  }

  /** Active locks rooted at `path` or anywhere below it. */
  within(mount: string, path: string): LockRecord[] {
    const key = storeKey(path);
    return this.active().filter((l) => l.mount === mount && (storeKey(l.path) === key || isAncestor(key, storeKey(l.path))));
  }

  /** Locks that forbid a new lock of `scope` and `depth` at `path`. */
  conflicts(mount: string, path: string, depth: 0 | 'infinity', scope: 'exclusive' | 'shared'): LockRecord[] {
    const candidates = new Set(this.covering(mount, path));
    if (depth === 'infinity') for (const l of this.within(mount, path)) candidates.add(l);
    return [...candidates].filter((l) => scope === 'exclusive' || l.scope === 'exclusive');
  }

  get(token: string): LockRecord | undefined {
    const lock = this.locks.get(token);
    return lock && lock.expiresAt > this.clock.now() ? lock : undefined;
  }

  async create(lock: Omit<LockRecord, 'token' | 'expiresAt'>): Promise<LockRecord> {
    const record: LockRecord = { ...lock, token: `opaquelocktoken:${randomUUID()}`, expiresAt: this.clock.now() + lock.timeoutSeconds * 1000 };
    this.locks.set(record.token, record);
    await this.persist();
    return record;
  }

  async refresh(token: string, timeoutSeconds: number): Promise<LockRecord | undefined> {
    const lock = this.get(token);
    if (!lock) return undefined;
    lock.timeoutSeconds = timeoutSeconds;
    lock.expiresAt = this.clock.now() + timeoutSeconds * 1000;
    await this.persist();
    return lock;
  }

  async remove(token: string): Promise<boolean> {
    const removed = this.locks.delete(token);
    if (removed) await this.persist();
    return removed;
  }

  /** Drops the locks rooted at or below `path` (after DELETE, or on the source of a MOVE). */
  async removeWithin(mount: string, path: string, options: { keepRoot?: boolean } = {}): Promise<void> {
    const key = storeKey(path);
    let changed = false;
    for (const lock of this.within(mount, path)) {
      if (options.keepRoot && storeKey(lock.path) === key) continue;
      this.locks.delete(lock.token);
      changed = true;
    }
    if (changed) await this.persist();
  }

  /** Seconds a lock has left (for the Timeout element). */
  secondsLeft(lock: LockRecord): number {
    return Math.max(0, Math.round((lock.expiresAt - this.clock.now()) / 1000));
  }

  flush(): Promise<void> {
    return this.file.flush();
  }

  private active(): LockRecord[] {
    const now = this.clock.now();
    const out: LockRecord[] = [];
    for (const [token, lock] of this.locks) {
      if (lock.expiresAt > now) out.push(lock);
      else this.locks.delete(token);
    }
    return out;
  }

  private persist(): Promise<void> {
    return this.file.save(() => ({ version: 1, locks: this.active() }));
  }
}

/** True when `ancestorKey` is a strict ancestor of `key` (both store keys). */
export function isAncestor(ancestorKey: string, key: string): boolean {
  if (ancestorKey === key) return false;
  return ancestorKey === '/' ? key.startsWith('/') : key.startsWith(`${ancestorKey}/`);
}

/** Parses `Timeout: Second-600, Infinite`; the first usable value, capped at MAX_LOCK_SECONDS. */
export function parseTimeout(header: string | undefined): number {
  if (!header) return DEFAULT_LOCK_SECONDS;
  for (const part of header.split(',')) {
    const value = part.trim();
    if (/^infinite$/i.test(value)) return MAX_LOCK_SECONDS;
    const match = /^second-(\d+)$/i.exec(value);
    if (match) return Math.min(MAX_LOCK_SECONDS, Math.max(1, Number(match[1])));
  }
  return DEFAULT_LOCK_SECONDS;
}
