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
 * (`NameFolding.pathKey`: folded on a case-insensitive drive, the path itself otherwise). Stores
 * compare keys only. Passed as one object so that a store keyed by item id (issue 13) can take the
 * id beside the path without changing every signature.
 */
export interface ResourceRef {
  readonly mount: string;
  readonly path: string;
  readonly key: string;
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

export interface LockRecord extends LockRequest {
  /** `opaquelocktoken:<uuid>`. */
  token: string;
  /** Epoch ms, by the store's clock. */
  expiresAt: number;
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
  /** Drops the locks rooted at or below the resource (after DELETE, on the source of a MOVE, on an overwritten destination). */
  removeWithin(resource: ResourceRef, options?: { keepRoot?: boolean }): Promise<void>;
  /** Finishes pending writes and lets go of the store. */
  close(): Promise<void>;
}

export const MAX_LOCK_SECONDS = 24 * 3600;
export const DEFAULT_LOCK_SECONDS = 3600;

/**
 * The conflict rule, for every implementation: among `active` locks (compared by key), those that
 * forbid `request`. An exclusive request conflicts with any lock in
 * its scope, a shared one only with exclusive locks; the scope is the resource and its
 * Depth-infinity ancestors, plus everything below it when the request is Depth infinity.
 */
export function conflictsAmong(active: readonly LockRecord[], request: LockRequest): LockRecord[] {
  const { key } = request;
  return active.filter((l) => {
    if (l.mount !== request.mount) return false;
    const lockKey = l.key;
    const inScope = lockKey === key || (l.depth === 'infinity' && isAncestor(lockKey, key)) || (request.depth === 'infinity' && isAncestor(key, lockKey));
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
