/**
 * Drive paths, for every layer: `/`, `/a`, `/a/b c.txt` — drive-relative, already normalised by
 * whoever made them (NFC, no trailing slash, no `.`/`..`, names never contain `/`). Pure string
 * algebra; how names compare is the drive's business (`NameFolding` below).
 */

/** `/a/b/c` → `['a','b','c']`; `/` → `[]`. */
export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

/** `['a','b']` → `/a/b`; `[]` → `/`. The inverse of `splitPath`. */
export function joinPath(segments: readonly string[]): string {
  return `/${segments.join('/')}`;
}

/** `/a/b/c` → `/a/b`; `/a` → `/`; `/` → `/`. */
export function parentPath(path: string): string {
  const segments = splitPath(path);
  segments.pop();
  return joinPath(segments);
}

/** `/a/b/c` → `c`; `/` → ``. */
export function baseName(path: string): string {
  const segments = splitPath(path);
  return segments.length ? segments[segments.length - 1] : '';
}

/** `('/a', 'b')` → `/a/b`; `('/', 'b')` → `/b`. */
export function childPath(parent: string, name: string): string {
  return parent === '/' || parent === '' ? `/${name}` : `${parent}/${name}`;
}

/** True when `path` lies strictly below `ancestor` (compare keys, `NameFolding.pathKey`, where case may differ). */
export function isAncestor(ancestor: string, path: string): boolean {
  if (ancestor === path) return false;
  return ancestor === '/' || ancestor === '' ? path.startsWith('/') && path !== '/' : path.startsWith(`${ancestor}/`);
}

/** `path` itself or anything below it. */
export function isSameOrBelow(path: string, ancestor: string): boolean {
  return path === ancestor || isAncestor(ancestor, path);
}

/** `path` at or below `from`, moved to `to`: `/a/b/c` from `/a` to `/x` → `/x/b/c`. */
export function rebase(path: string, from: string, to: string): string {
  if (path === from) return to;
  const rest = from === '/' ? path : path.slice(from.length);
  return to === '/' ? rest : to + rest;
}

/**
 * How a drive compares names, chosen once per drive from `RemoteDrive.capabilities.caseInsensitive`
 * and used by everything keyed by a name or path of that drive (its cache, its write queue, the
 * WebDAV lock and property stores): two names are the same item exactly when their keys are equal.
 */
export interface NameFolding {
  readonly caseInsensitive: boolean;
  /** The key of one name. */
  nameKey(name: string): string;
  /** The key of a whole path (each name's key; `/` stays `/`). */
  pathKey(path: string): string;
  sameName(a: string, b: string): boolean;
}

/** Names are the same only when identical (a Linux file system, MemoryDrive by default). */
export const EXACT_NAMES: NameFolding = {
  caseInsensitive: false,
  nameKey: (name) => name,
  pathKey: (path) => path,
  sameName: (a, b) => a === b,
};

/**
 * OneDrive's own collation, as far as it is known: names that differ only in case are one
 * (https://learn.microsoft.com/onedrive/developer/rest-api/concepts/case-sensitivity); so are
 * canonically equivalent spellings, the NFD names macOS Finder sends and the NFC everybody else
 * sends (rclone/rclone#8634: OneDrive keeps the form it was given but treats both as one name); and `æ` is `ae` (OneDrive/onedrive-api-docs#856: nameAlreadyExists). Folding at
 * least as much as OneDrive keeps onedav from taking two names for two files where OneDrive has
 * one, and writing over the other. NFC names without `æ` (nearly all) fold to what onedav always
 * stored its lock and property keys with, so existing stores keep their meaning.
 */
export const FOLDED_NAMES: NameFolding = {
  caseInsensitive: true,
  nameKey: foldName,
  pathKey: foldName,
  sameName: (a, b) => a === b || foldName(a) === foldName(b),
};

function foldName(name: string): string {
  const lower = /^[\x00-\x7f]*$/.test(name) ? name.toLowerCase() : name.normalize('NFC').toLowerCase();
  return lower.includes('æ') ? lower.replaceAll('æ', 'ae') : lower;
}

export function nameFolding(caseInsensitive: boolean): NameFolding {
  return caseInsensitive ? FOLDED_NAMES : EXACT_NAMES;
}
