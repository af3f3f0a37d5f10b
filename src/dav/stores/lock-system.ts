import { isAncestor } from '../../util/drive-path.js';

/**
 * The lock provider seam (mod_dav keeps locks as a provider of its own; golang.org/x/net/webdav's
 * LockSystem is the model): WebDAV write locks (RFC 4918 §6–7) behind an async interface, so that
 * one process keeps them in a file and several replicas share them in a network store.
 *
 * Every method is one atomic step of the store: `create` takes a lock only if no conflicting lock
 * is active at that moment (of two racing creates exactly one wins), `refresh`/`unlock` act by
 * token and only for the lock's holder, and the store itself honours expiry (an expired lock is
 * never returned and never conflicts). The queries (`covering`, `within`, `conflicts`) answer for
 * the moment they are asked; the handlers use them for checks and descriptions.
 */

/**
 * Where a resource is, as the stores see it: the mount prefix ('/' or '/team'), the drive path
 * (case kept for display) and its key, the path as the mount's drive compares names
 * (`NameFolding.pathKey`: folded on a case-insensitive drive, the path itself otherwise), and the
 * drive item's id when the item exists.
 *
 * Records are tied to the id where there is one, so that a rename or move made by another OneDrive
 * client keeps a file's locks and dead properties, and a new file at the old path (a new id) gets
 * none of them: a rename or move is an update of the same item, addressed by its id ("Update the
 * metadata for a driveItem … You can also use update to move an item to another parent by updating
 * the item's parentReference property", https://learn.microsoft.com/graph/api/driveitem-update),
 * and rclone relies on it (rclone/rclone backend/onedrive/onedrive.go Move: a PATCH of srcObj.id,
 * the moved Object keeps that id); an id is "the unique identifier of the item within the Drive"
 * (https://learn.microsoft.com/graph/api/resources/driveitem), so a new file never has a deleted
 * one's. Without an id (nothing there yet, or a record written before ids were kept) the key
 * decides, as before.
 */
export interface ResourceRef {
  readonly mount: string;
  readonly path: string;
  readonly key: string;
  readonly id?: string;
  /** Known to have no item now (looked up, not found): no record tied to an id is rooted here. */
  readonly absent?: boolean;
  /**
   * The folders above the resource, the drive root first, each with its id. Asked only when a
   * Depth-infinity lock tied to an id may cover the resource from above, so that a folder renamed
   * by another client still covers its members at their new paths. Without it, ancestry is by key.
   */
  readonly ancestors?: () => Promise<readonly ResourceRef[]>;
}

export type LockDepth = 0 | 'infinity';
export type LockScope = 'exclusive' | 'shared';

/** What LOCK asks for. */
export interface LockRequest extends ResourceRef {
  depth: LockDepth;
  scope: LockScope;
  /** The `<D:owner>` content as serialised XML, returned verbatim in lockdiscovery. */
  owner?: string;
  /** Who takes the lock ('anonymous' for anonymous users); only they may use, refresh or remove it. */
  principal: string;
  timeoutSeconds: number;
}

export interface LockRecord extends Omit<LockRequest, 'ancestors'> {
  /** The locked item's id (absent for a lock taken before ids were kept, until its item is seen). */
  id?: string;
  /** `opaquelocktoken:<uuid>`. */
  token: string;
  /** Epoch ms, by the store's clock. */
  expiresAt: number;
}

export interface RemoveOptions {
  keepRoot?: boolean;
  rootIdNow?: string;
}

export type CreateOutcome = { ok: true; lock: LockRecord } | { ok: false; conflicts: LockRecord[] };
export type UnlockOutcome = 'unlocked' | 'no-such-lock' | 'forbidden';

export interface LockSystem {
  /** Takes the lock unless an active lock conflicts (checked and taken in one atomic step). */
  create(request: LockRequest): Promise<CreateOutcome>;
  /** Gives the holder's active lock a new timeout; undefined when there is none (unknown, expired, or another principal's). */
  refresh(token: string, principal: string, timeoutSeconds: number): Promise<LockRecord | undefined>;
  /** Removes the lock if `principal` holds it. */
  unlock(token: string, principal: string): Promise<UnlockOutcome>;
  /** The active lock with this token. */
  get(token: string): Promise<LockRecord | undefined>;
  /** Active locks whose scope includes the resource: rooted at it, or at an ancestor with Depth infinity. */
  covering(resource: ResourceRef): Promise<LockRecord[]>;
  /** Active locks rooted at the resource or anywhere below it. */
  within(resource: ResourceRef): Promise<LockRecord[]>;
  /** Active locks that would make `create(request)` fail now. */
  conflicts(request: LockRequest): Promise<LockRecord[]>;
  /**
   * Drops the locks rooted at or below the resource (after DELETE, on the source of a MOVE, on an
   * overwritten destination). With `keepRoot`, the locks rooted at the resource stay, tied to
   * `rootIdNow` when given (the item that now stands at the destination URL they lock).
   */
  removeWithin(resource: ResourceRef, options?: RemoveOptions): Promise<void>;
  /** Finishes pending writes and lets go of the store. */
  close(): Promise<void>;
}

export const MAX_LOCK_SECONDS = 24 * 3600;
export const DEFAULT_LOCK_SECONDS = 3600;

/** Whether `lock` is rooted at the resource: by item id when both know one, else by key. */
export function rootedAt(lock: { id?: string; key: string }, resource: ResourceRef): boolean {
  if (lock.id !== undefined && resource.absent) return false;
  return lock.id !== undefined && resource.id !== undefined ? lock.id === resource.id : lock.key === resource.key;
}

/**
 * Where the root of `lock` is now, if the lock covers the resource: the resource itself, or (Depth
 * infinity) the ancestor it is rooted at. `ancestors` (resolved) place a lock tied to an id; without
 * them, a recorded key that is an ancestor's does.
 */
export function coveringRoot(lock: LockRecord, resource: ResourceRef, ancestors?: readonly ResourceRef[]): ResourceRef | undefined {
  if (lock.mount !== resource.mount) return undefined;
  if (rootedAt(lock, resource)) return resource;
  if (lock.depth !== 'infinity') return undefined;
  if (ancestors && lock.id !== undefined) return ancestors.find((a) => rootedAt(lock, a));
  return isAncestor(lock.key, resource.key) ? lock : undefined;
}

/** Whether `lock` is rooted at the resource or (by recorded key) below it. */
export function isWithin(lock: LockRecord, resource: ResourceRef): boolean {
  return lock.mount === resource.mount && (rootedAt(lock, resource) || isAncestor(resource.key, lock.key));
}

/** The resource's ancestors, resolved only when an active Depth-infinity lock tied to an id might cover it from above. */
export async function ancestorsFor(active: readonly LockRecord[], resource: ResourceRef): Promise<readonly ResourceRef[] | undefined> {
  if (!resource.ancestors) return undefined;
  const needed = active.some((l) => l.mount === resource.mount && l.depth === 'infinity' && l.id !== undefined && !rootedAt(l, resource));
  return needed ? resource.ancestors() : undefined;
}

/** Active locks covering the resource, each with the path and key its root has now (a lock whose item was renamed elsewhere shows where it is). */
export function coveringAmong(active: readonly LockRecord[], resource: ResourceRef, ancestors?: readonly ResourceRef[]): LockRecord[] {
  const out: LockRecord[] = [];
  for (const lock of active) {
    const root = coveringRoot(lock, resource, ancestors);
    if (root) out.push(root.key === lock.key ? { ...lock } : { ...lock, path: root.path, key: root.key });
  }
  return out;
}

/** The record a store keeps for a granted request: the request's data only (no resolver), its id when known. */
export function recordOf(request: LockRequest, token: string, expiresAt: number): LockRecord {
  const { mount, path, key, id, depth, scope, owner, principal, timeoutSeconds } = request;
  return { mount, path, key, ...(id !== undefined ? { id } : {}), depth, scope, ...(owner !== undefined ? { owner } : {}), principal, timeoutSeconds, token, expiresAt };
}

/**
 * The conflict rule, for every implementation: among `active` locks, those that forbid `request`.
 * An exclusive request conflicts with any lock in its scope, a shared one only with exclusive
 * locks; the scope is the resource and its Depth-infinity ancestors, plus everything below it (by
 * recorded key) when the request is Depth infinity.
 */
export function conflictsAmong(active: readonly LockRecord[], request: LockRequest, ancestors?: readonly ResourceRef[]): LockRecord[] {
  return active.filter((l) => {
    if (l.mount !== request.mount) return false;
    const inScope = coveringRoot(l, request, ancestors) !== undefined || (request.depth === 'infinity' && isAncestor(request.key, l.key));
    return inScope && (request.scope === 'exclusive' || l.scope === 'exclusive');
  });
}

/** Seconds a lock has left at `now` (for the Timeout element). */
export function secondsLeft(lock: LockRecord, now: number): number {
  return Math.max(0, Math.round((lock.expiresAt - now) / 1000));
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
