import { EmulatorHttpError } from '../request-io.js';
import { MAX_NAME_LENGTH, MAX_PATH_LENGTH } from './model.js';

/**
 * OneDrive / SharePoint naming rules ("Restrictions and limitations in OneDrive and SharePoint"):
 * no `" * : < > ? / \ |`, no leading/trailing spaces, none of the reserved device names,
 * no `_vti_` anywhere, not `.lock` or `desktop.ini`, no `~$` prefix, `forms` not at a library root,
 * a 400-character decoded path. Graph rejects them with 400 invalidRequest.
 */
const INVALID_CHARS = /["*:<>?/\\|\u0000-\u001f]/;
const RESERVED = new Set(['.lock', 'con', 'prn', 'aux', 'nul', 'desktop.ini', ...range('com'), ...range('lpt')]);

function range(prefix: string): string[] {
  return Array.from({ length: 10 }, (_, i) => `${prefix}${i}`);
}

/**
 * The key under which a folder holds a name: OneDrive's collation compares names without case
 * (https://learn.microsoft.com/onedrive/developer/rest-api/concepts/case-sensitivity), without
 * regard to Unicode normalization (rclone/rclone#8634: an NFD name and its NFC form are one name;
 * the name keeps the form it was given) and with `æ` equal to `ae`
 * (OneDrive/onedrive-api-docs#856: "the collation ... considers "ae" == "æ"", 409 nameAlreadyExists).
 */
export function nameKey(name: string): string {
  const lower = name.normalize('NFC').toLowerCase();
  return lower.includes('æ') ? lower.replaceAll('æ', 'ae') : lower;
}

/** Throws Graph's error for a name OneDrive would refuse. */
export function assertValidName(name: string, options: { atLibraryRoot?: boolean } = {}): void {
  if (name.length === 0 || name === '.' || name === '..') {
    throw invalid('The name is empty or invalid. Give the item a non-empty name.');
  }
  if (INVALID_CHARS.test(name)) {
    throw invalid(`The provided name cannot contain any illegal characters (" * : < > ? / \\ |): '${name}'.`, 'invalidPath');
  }
  if (name !== name.trim() || /^\s|\s$/.test(name)) {
    throw invalid(`The provided name cannot begin or end with a space: '${name}'.`, 'invalidPath');
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw invalid(`The provided name is longer than ${MAX_NAME_LENGTH} characters.`, 'parameterIsTooLong');
  }
  const lower = name.toLowerCase();
  if (RESERVED.has(lower)) {
    throw invalid(`The name '${name}' is reserved by OneDrive and SharePoint. Choose another name.`, 'invalidPath');
  }
  if (lower.includes('_vti_')) throw invalid(`Names containing '_vti_' are not allowed: '${name}'.`, 'invalidPath');
  if (name.startsWith('~$')) throw invalid(`Names beginning with '~$' are not allowed: '${name}'.`, 'invalidPath');
  if (options.atLibraryRoot && lower === 'forms') {
    throw invalid("The name 'forms' is reserved at the root of a document library.", 'invalidPath');
  }
}

/** Throws when the decoded path (`a/b/c.txt`, no leading slash) would exceed OneDrive's limit. */
export function assertPathLength(pathFromRoot: string): void {
  if (pathFromRoot.length > MAX_PATH_LENGTH) {
    throw new EmulatorHttpError(
      400,
      'invalidRequest',
      `The item path is ${pathFromRoot.length} characters long; OneDrive allows at most ${MAX_PATH_LENGTH}. Use a shorter name or a shallower folder.`,
      {},
      'pathIsTooLong',
    );
  }
}

function invalid(message: string, innerCode?: string): EmulatorHttpError {
  return new EmulatorHttpError(400, 'invalidRequest', message, {}, innerCode);
}

/**
 * The name OneDrive picks for `rename` conflict behaviour: "name 1.txt", "name 2.txt", …
 * (the number goes before the extension; folders have none).
 */
export function renamedCandidate(name: string, isFolder: boolean, n: number): string {
  const dot = isFolder ? -1 : name.lastIndexOf('.');
  if (dot <= 0) return `${name} ${n}`;
  return `${name.slice(0, dot)} ${n}${name.slice(dot)}`;
}
