import type { DriveEntry } from '../../drive/types.js';
import { hrefOfLock } from './conditions.js';
import type { DavRequest } from '../http/context.js';
import { DavError } from './errors.js';
import { secondsLeft, type LockRecord } from '../stores/lock-system.js';
import { resourceAt, type DriveTarget } from '../http/mounts.js';
import { hrefFor } from './paths.js';
import type { ResourceView } from './properties.js';

/** A drive item as PROPFIND describes it. `url` and `path` are the item's own (not the parent's). */
export async function driveView(ctx: DavRequest, target: DriveTarget, url: string[], path: string, entry: DriveEntry): Promise<ResourceView> {
  const resource = resourceAt(target.mount, path, entry);
  const [dead, locks] = await Promise.all([ctx.state.properties.get(resource), ctx.state.locks.covering(resource)]);
  return viewOf(viewShared(ctx, target), url, entry, dead.properties, locks);
}

/** One item of a folder's listing: its URL, drive path and entry. */
export interface ListedItem {
  url: string[];
  path: string;
  entry: DriveEntry;
}

/**
 * The locks of a folder that bear on its members, computed once per listing however many pages it
 * has: the folder's covering locks of Depth infinity (they cover every member), and the mount's
 * locks by item id and by key, so a member's own lock is found by its id even when another client
 * moved the file here (the stores read all of a mount's locks for `within` anyway).
 */
export interface FolderLocks {
  inherited: LockRecord[];
  byId: Map<string, LockRecord[]>;
  byKey: Map<string, LockRecord[]>;
}

export async function folderLocks(ctx: DavRequest, target: DriveTarget, folderEntry: DriveEntry): Promise<FolderLocks> {
  const { locks } = ctx.state;
  const folder = resourceAt(target.mount, target.path, folderEntry);
  const [covering, all] = await Promise.all([locks.covering(folder), locks.within(resourceAt(target.mount, '/'))]);
  const byId = new Map<string, LockRecord[]>();
  const byKey = new Map<string, LockRecord[]>();
  for (const lock of all) {
    const [index, key] = lock.id !== undefined ? [byId, lock.id] : [byKey, lock.key];
    const list = index.get(key);
    if (list) list.push(lock);
    else index.set(key, [lock]);
  }
  return { inherited: covering.filter((l) => l.depth === 'infinity'), byId, byKey };
}

/**
 * The views of a folder's members (one page of a listing), with one dead-property call for the page
 * and the folder's locks looked up once (not two store calls per member: 10,000 children would
 * otherwise cost 20,000 awaited store calls, and as many Redis round trips with shared stores).
 * The ids come with the listing: no drive call is added.
 */
export async function memberViews(ctx: DavRequest, target: DriveTarget, members: readonly ListedItem[], locks: FolderLocks): Promise<ResourceView[]> {
  const resources = members.map((m) => resourceAt(target.mount, m.path, m.entry));
  const dead = await ctx.state.properties.getMany(resources);
  const { inherited, byId, byKey } = locks;
  const shared = viewShared(ctx, target);
  return members.map((m, i) => {
    const here = resources[i];
    const ownById = byId.get(m.entry.id);
    const ownByKey = byKey.get(here.key);
    if (!ownById && !ownByKey) return viewOf(shared, m.url, m.entry, dead[i], inherited);
    const own = [...(ownById ?? []), ...(ownByKey ?? [])].map((l) => (l.key === here.key ? l : { ...l, path: here.path, key: here.key }));
    return viewOf(shared, m.url, m.entry, dead[i], own.length > 0 ? [...inherited, ...own] : inherited);
  });
}

/** What every view of one request has in common: made once, not once per member of a 100,000-item listing. */
type ViewShared = Pick<ResourceView, 'lockRootHref' | 'secondsLeft' | 'quota'>;

function viewShared(ctx: DavRequest, target: DriveTarget): ViewShared {
  const { drive } = target.mount;
  const now = ctx.state.clock.now();
  return {
    lockRootHref: (lock) => hrefOfLock(ctx, target, lock),
    secondsLeft: (lock) => secondsLeft(lock, now),
    // RFC 4331 properties only for drives that know their size; the drive remembers its quota.
    quota: drive.capabilities.quota && drive.quota ? () => drive.quota!() : undefined,
  };
}

function viewOf(shared: ViewShared, url: string[], entry: DriveEntry, dead: ResourceView['dead'], locks: LockRecord[]): ResourceView {
  return {
    href: hrefFor(url, entry.isFolder),
    isCollection: entry.isFolder,
    displayName: url.length > 0 ? url[url.length - 1] : entry.name,
    entry,
    dead,
    locks,
    lockRootHref: shared.lockRootHref,
    secondsLeft: shared.secondsLeft,
    quota: shared.quota,
  };
}

/** A folder above the mounts (or a mount point seen from its parent). */
export function virtualView(url: string[]): ResourceView {
  return {
    href: hrefFor(url, true),
    isCollection: true,
    displayName: url.length > 0 ? url[url.length - 1] : '',
    dead: {},
    locks: [],
    lockRootHref: () => '',
    secondsLeft: () => 0,
  };
}

/** Parses a Depth header; `allowed` lists the values the method accepts. */
export function parseDepth<T extends '0' | '1' | 'infinity'>(value: string | undefined, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  const depth = value.trim().toLowerCase() as T;
  if (!allowed.includes(depth)) throw new DavError(400, `Depth: ${value} is not valid here (use ${allowed.join(' or ')}).`);
  return depth;
}
