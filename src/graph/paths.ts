import { childPath, splitPath } from '../util/drive-path.js';

/**
 * The one place that turns drive paths into Graph URL paths (the path algebra itself is
 * util/drive-path.ts). Drive paths are already normalised
 * by the caller (`/`, `/a`, `/a/b c.txt`: NFC, no trailing slash, no `.`/`..`); here each segment
 * is percent-encoded so that spaces, `#`, `%`, `+`, `?`, `:` and non-ASCII reach Graph as the name
 * itself, never as URL syntax.
 */

/** Where the drive lives in Graph's URL space. */
export type DriveBase =
  | { type: 'me' }
  | { type: 'id'; id: string }
  | { type: 'user'; user: string }
  /** `site` is a site id (`host,guid,guid`) or `host:/sites/path`. */
  | { type: 'site'; site: string };

/** `/me/drive`, `/drives/{id}`, `/users/{upn}/drive`, `/sites/{id}/drive` (or `/sites/{host}:/{path}:/drive`). */
export function driveBasePath(base: DriveBase): string {
  switch (base.type) {
    case 'me':
      return '/me/drive';
    case 'id':
      return `/drives/${encodeSegment(base.id)}`;
    case 'user':
      return `/users/${encodeSegment(base.user)}/drive`;
    case 'site': {
      const colon = base.site.indexOf(':/');
      if (colon >= 0) {
        const host = base.site.slice(0, colon);
        const path = base.site.slice(colon + 1);
        return `/sites/${encodeSegment(host)}:${encodePath(path)}:/drive`;
      }
      return `/sites/${encodeSegment(base.site)}/drive`;
    }
  }
}

/** One path segment (a file or folder name) for a URL. */
export function encodeSegment(name: string): string {
  // encodeURIComponent leaves only A-Z a-z 0-9 - _ . ! ~ * ' ( ) alone; quote and parentheses are
  // OData syntax in some Graph routes, so those are encoded too. `!` stays: drive ids (`b!…`) carry it.
  return encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `/a/b c` → `/a/b%20c`. */
export function encodePath(path: string): string {
  return splitPath(path)
    .map((s) => `/${encodeSegment(s)}`)
    .join('');
}

/**
 * The item-address part of a Graph URL for a drive path, relative to the drive base:
 * `/root` for `/`, `/root:/a/b%20c.txt:` otherwise. Append `/children`, `/content`, … after it.
 */
export function itemByPath(path: string): string {
  const segments = splitPath(path);
  if (segments.length === 0) return '/root';
  return `/root:${segments.map((s) => `/${encodeSegment(s)}`).join('')}:`;
}

/** `/items/{id}` relative to the drive base. */
export function itemById(id: string): string {
  return `/items/${encodeSegment(id)}`;
}

/** A path that names a child of a known item: `/items/{parent-id}:/{name}:`. */
export function childOfItem(parentId: string, name: string): string {
  return `/items/${encodeSegment(parentId)}:/${encodeSegment(name)}:`;
}

/**
 * A child of a known folder by name without path syntax: `/items/{parent-id}/children('{name}')`,
 * quotes doubled as OData string literals want them. What 21Vianet serves where `:/{name}:` fails.
 * rclone/rclone backend/onedrive/onedrive.go newOptsCallWithIDPath
 */
export function childOfItemByName(parentId: string, name: string): string {
  return `/items/${encodeSegment(parentId)}/children('${encodeSegment(name.replace(/'/g, "''"))}')`;
}

/**
 * A driveItem's drive path from its `parentReference.path` (`/drive/root:/a/b`, percent-encoded by
 * some services, plain by others) and its name. Undefined when the item is outside the root tree.
 */
export function pathFromParentReference(parentRefPath: string | undefined, name: string): string | undefined {
  if (parentRefPath === undefined) return undefined;
  const marker = parentRefPath.indexOf('root:');
  if (marker < 0) return undefined;
  let rest = parentRefPath.slice(marker + 'root:'.length);
  try {
    rest = decodeURIComponent(rest);
  } catch {
    // Already decoded and containing a lone `%`: keep it as it is.
  }
  const parent = rest === '' ? '/' : rest;
  return childPath(parent, name);
}
