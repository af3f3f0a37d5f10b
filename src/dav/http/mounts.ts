import type { RemoteDrive } from '../../drive/types.js';
import type { Principal } from '../access/basic-auth.js';
import type { DownloadMode } from './download-mode.js';
import { DavError } from '../protocol/errors.js';
import { checkName } from '../protocol/paths.js';
import type { ResourceRef } from '../stores/lock-system.js';
import { FOLDED_NAMES, joinPath, nameFolding, parentPath, splitPath, type NameFolding } from '../../util/drive-path.js';
import { statOrNull } from './context.js';

/**
 * How mount prefixes are matched against URLs: case-insensitively, as they always were (they are
 * onedav's own names, not the drive's, and clients such as Windows change their case).
 */
export const MOUNT_NAMES: NameFolding = FOLDED_NAMES;

export interface DavMount {
  /** '/' or '/team' (no trailing slash). */
  prefix: string;
  drive: RemoteDrive;
  /** This mount's own download mode; the server's when absent (see download-mode.ts). */
  download?: { mode: DownloadMode };
  /** How the lock and property stores name this mount; the prefix when absent. Per-person drives all sit at `/` and need their own. */
  storeScope?: string;
}

export interface Mount extends DavMount {
  segments: string[];
  /** What this mount's file GETs use: its own mode or the server's, `proxy` without download URLs. */
  downloadMode: DownloadMode;
  /** How the drive compares names (from `drive.capabilities.caseInsensitive`): lock and property keys follow it. */
  names: NameFolding;
}

/**
 * A drive path of a mount as the lock and property stores see it: its key; the item there when
 * the caller looked it up (its id; or null, nothing there: no record tied to an id is at this
 * path); and (asked only when a Depth-infinity lock tied to an id could cover it) its ancestors
 * with their ids, from the drive's cache like any stat.
 */
export function resourceAt(mount: Mount, path: string, item?: { id: string } | null): ResourceRef {
  return { mount: storeScopeOf(mount), path, key: mount.names.pathKey(path), ...(item ? { id: item.id } : {}), absent: item === null, ancestors: () => ancestorsOf(mount, path) };
}

async function ancestorsOf(mount: Mount, path: string): Promise<ResourceRef[]> {
  const paths: string[] = [];
  for (let p = path; p !== '/' && p !== ''; ) {
    p = parentPath(p);
    paths.unshift(p);
  }
  const entries = await Promise.all(paths.map((p) => statOrNull(mount.drive, p)));
  return paths.map((p, i) => ({ mount: storeScopeOf(mount), path: p, key: mount.names.pathKey(p), ...(entries[i] ? { id: entries[i].id } : {}) }));
}

/** Whose locks and properties: the mount's own scope (one person's, in the gateway), else its prefix. */
function storeScopeOf(mount: Mount): string {
  return mount.storeScope ?? mount.prefix;
}

/** A URL that names something inside a drive. */
export interface DriveTarget {
  kind: 'drive';
  mount: Mount;
  /** URL segments (decoded) of the request. */
  url: string[];
  /** Drive path after the principal's root, e.g. `/Users/alice/a.txt`. */
  path: string;
  /** True for the principal's root inside the mount (cannot be deleted, moved or locked away). */
  isRoot: boolean;
}

/** A URL above the mounts (e.g. `/` when drives are mounted at `/a` and `/b`): a read-only folder. */
export interface VirtualTarget {
  kind: 'virtual';
  url: string[];
  /** Names of the mounts (or intermediate folders) directly below. */
  children: string[];
}

export type Target = DriveTarget | VirtualTarget;

/** Maps URLs to (mount, drive path) for one principal, and back. */
export class MountTable {
  readonly mounts: Mount[];

  /** `downloadModeOf` gives each mount's download mode (see download-mode.ts). */
  constructor(mounts: readonly DavMount[], downloadModeOf: (mount: DavMount) => DownloadMode) {
    this.mounts = mounts
      .map((m) => {
        const segments = splitPath(m.prefix);
        segments.forEach(checkName);
        return { ...m, prefix: joinPath(segments), segments, downloadMode: downloadModeOf(m), names: nameFolding(m.drive.capabilities.caseInsensitive) };
      })
      .sort((a, b) => b.segments.length - a.segments.length);
    const seen = new Set<string>();
    for (const m of this.mounts) {
      const key = MOUNT_NAMES.pathKey(m.prefix);
      if (seen.has(key)) throw new Error(`two mounts share the prefix ${m.prefix}`);
      seen.add(key);
    }
  }

  resolve(url: readonly string[], principal: Principal): Target {
    const mount = this.mounts.find((m) => isPrefix(m.segments, url, MOUNT_NAMES));
    if (mount) {
      const rest = url.slice(mount.segments.length);
      return { kind: 'drive', mount, url: [...url], path: joinPath([...principal.root, ...rest]), isRoot: rest.length === 0 };
    }
    const children = this.childMounts(url);
    if (children.length === 0) throw new DavError(404, 'Nothing is mounted here.');
    return { kind: 'virtual', url: [...url], children };
  }

  /** Names of mount prefixes (or their next segment) directly below `url`. */
  childMounts(url: readonly string[]): string[] {
    const names: string[] = [];
    for (const m of this.mounts) {
      if (m.segments.length > url.length && isPrefix(url, m.segments, MOUNT_NAMES)) {
        const next = m.segments[url.length];
        if (!names.some((n) => MOUNT_NAMES.sameName(n, next))) names.push(next);
      }
    }
    return names.sort();
  }

  /** URL segments at which `path` of `mount` appears for `principal`, or undefined if outside its root. */
  urlFor(mount: Mount, path: string, principal: Principal): string[] | undefined {
    const segments = splitPath(path);
    if (!isPrefix(principal.root, segments, mount.names)) return undefined;
    return [...mount.segments, ...segments.slice(principal.root.length)];
  }
}

function isPrefix(prefix: readonly string[], of: readonly string[], names: NameFolding): boolean {
  return prefix.length <= of.length && prefix.every((s, i) => names.sameName(s, of[i]));
}
