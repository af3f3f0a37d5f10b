import type { DriveEntry } from '../../drive/types.js';
import { hrefOfLock } from './conditions.js';
import type { DavRequest } from '../http/context.js';
import { DavError } from './errors.js';
import { secondsLeft } from '../stores/lock-system.js';
import { resourceAt, type DriveTarget } from '../http/mounts.js';
import { hrefFor } from './paths.js';
import type { ResourceView } from './properties.js';

/** A drive item as PROPFIND describes it. `url` and `path` are the item's own (not the parent's). */
export async function driveView(ctx: DavRequest, target: DriveTarget, url: string[], path: string, entry: DriveEntry): Promise<ResourceView> {
  const { state } = ctx;
  const { drive } = target.mount;
  const resource = resourceAt(target.mount, path);
  const [dead, locks] = await Promise.all([state.properties.get(resource), state.locks.covering(resource)]);
  const now = state.clock.now();
  return {
    href: hrefFor(url, entry.isFolder),
    isCollection: entry.isFolder,
    displayName: url.length > 0 ? url[url.length - 1] : entry.name,
    entry,
    dead: dead.properties,
    locks,
    lockRootHref: (lock) => hrefOfLock(ctx, target, lock),
    secondsLeft: (lock) => secondsLeft(lock, now),
    // RFC 4331 properties only for drives that know their size; the drive remembers its quota.
    quota: drive.capabilities.quota && drive.quota ? () => drive.quota!() : undefined,
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
