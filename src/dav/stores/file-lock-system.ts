import { randomUUID } from 'node:crypto';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { JsonFile } from './json-file.js';
import { FOLDED_NAMES } from '../../util/drive-path.js';
import {
  ancestorsFor,
  conflictsAmong,
  coveringAmong,
  isWithin,
  recordOf,
  rootedAt,
  type CreateOutcome,
  type LockRecord,
  type LockRequest,
  type LockSystem,
  type RemoveOptions,
  type ResourceRef,
  type UnlockOutcome,
} from './lock-system.js';


interface StoredLocks {
  version: 1;
  locks: LockRecord[];
}

/**
 * The LockSystem of one process: locks in memory, persisted under the data dir so that a restart
 * does not silently drop locks clients still hold (without a path, memory only). Each method
 * checks and changes the map without awaiting in between, which makes it atomic in one process.
 * Locks are advisory towards OneDrive (other OneDrive clients ignore them) but enforced for every
 * WebDAV request.
 */
export class FileLockSystem implements LockSystem {
  private locks = new Map<string, LockRecord>();

  private constructor(
    private readonly file: JsonFile<StoredLocks>,
    private readonly clock: Clock,
  ) {}

  static async open(path: string | undefined, clock: Clock, logger: Logger): Promise<FileLockSystem> {
    const { file, data } = await JsonFile.load<StoredLocks>(path, { version: 1, locks: [] }, logger);
    const store = new FileLockSystem(file, clock);
    for (const lock of Array.isArray(data.locks) ? data.locks : []) {
      if (typeof lock?.token !== 'string' || !(lock.expiresAt > clock.now())) continue;
      // Files of onedav before keys were stored served OneDrive mounts only, whose keys are folded.
      store.locks.set(lock.token, { ...lock, key: typeof lock.key === 'string' ? lock.key : FOLDED_NAMES.pathKey(lock.path) });
    }
    return store;
  }

  async covering(resource: ResourceRef): Promise<LockRecord[]> {
    const active = this.active();
    const ancestors = await ancestorsFor(active, resource);
    this.attach(resource);
    return coveringAmong(this.active(), resource, ancestors);
  }

  async within(resource: ResourceRef): Promise<LockRecord[]> {
    this.attach(resource);
    return copies(this.activeWithin(resource));
  }

  async conflicts(request: LockRequest): Promise<LockRecord[]> {
    const ancestors = await ancestorsFor(this.active(), request);
    return copies(conflictsAmong(this.active(), request, ancestors));
  }

  async get(token: string): Promise<LockRecord | undefined> {
    const lock = this.lookup(token);
    return lock && { ...lock };
  }

  async create(request: LockRequest): Promise<CreateOutcome> {
    // The ancestors are resolved before the atomic step (they may need the drive); the step itself does not await.
    const ancestors = await ancestorsFor(this.active(), request);
    const conflicts = conflictsAmong(this.active(), request, ancestors);
    if (conflicts.length > 0) return { ok: false, conflicts: copies(conflicts) };
    const lock = recordOf(request, `opaquelocktoken:${randomUUID()}`, this.clock.now() + request.timeoutSeconds * 1000);
    this.locks.set(lock.token, lock);
    await this.persist();
    return { ok: true, lock: { ...lock } };
  }

  async refresh(token: string, principal: string, timeoutSeconds: number): Promise<LockRecord | undefined> {
    const lock = this.lookup(token);
    if (!lock || lock.principal !== principal) return undefined;
    lock.timeoutSeconds = timeoutSeconds;
    lock.expiresAt = this.clock.now() + timeoutSeconds * 1000;
    await this.persist();
    return { ...lock };
  }

  async unlock(token: string, principal: string): Promise<UnlockOutcome> {
    const lock = this.lookup(token);
    if (!lock) return 'no-such-lock';
    if (lock.principal !== principal) return 'forbidden';
    this.locks.delete(token);
    await this.persist();
    return 'unlocked';
  }

  async removeWithin(resource: ResourceRef, options: RemoveOptions = {}): Promise<void> {
    let changed = false;
    for (const lock of this.activeWithin(resource)) {
      if (options.keepRoot && rootedAt(lock, resource)) {
        if (options.rootIdNow !== undefined && lock.id !== options.rootIdNow) {
          lock.id = options.rootIdNow;
          changed = true;
        }
        continue;
      }
      this.locks.delete(lock.token);
      changed = true;
    }
    if (changed) await this.persist();
  }

  close(): Promise<void> {
    return this.file.flush();
  }

  private lookup(token: string): LockRecord | undefined {
    const lock = this.locks.get(token);
    return lock && lock.expiresAt > this.clock.now() ? lock : undefined;
  }

  private activeWithin(resource: ResourceRef): LockRecord[] {
    return this.active().filter((l) => isWithin(l, resource));
  }

  /**
   * Locks written before ids were kept (or taken where no item stood) are tied to the item found at
   * their path the first time one is seen there.
   */
  private attach(resource: ResourceRef): void {
    if (resource.id === undefined) return;
    let changed = false;
    for (const lock of this.active()) {
      if (lock.id === undefined && lock.mount === resource.mount && lock.key === resource.key) {
        lock.id = resource.id;
        changed = true;
      }
    }
    if (changed) void this.persist();
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

/** Callers get snapshots, as from a network store: changing them changes nothing here. */
function copies(locks: LockRecord[]): LockRecord[] {
  return locks.map((l) => ({ ...l }));
}
