import { splitPath } from '../util/drive-path.js';
import { DriveError } from './errors.js';

/**
 * OneDrive and SharePoint naming rules ("Restrictions and limitations in OneDrive and SharePoint"),
 * checked before calling Graph so the client gets a clear reason and Graph is spared the call:
 * no `" * : < > ? / \ |` or control characters, no leading or trailing space, at most 255
 * characters, none of the reserved names (`.lock`, `CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`,
 * `LPT0`–`LPT9`, `desktop.ini`), no `_vti_` anywhere, no `~$` prefix, `forms` not at the root of
 * a document library, and a decoded path of at most 400 characters.
 */
const INVALID_CHARS = /["*:<>?/\\|\u0000-\u001f\u007f]/;
const RESERVED = new Set([
  '.lock',
  'con',
  'prn',
  'aux',
  'nul',
  'desktop.ini',
  ...Array.from({ length: 10 }, (_, i) => `com${i}`),
  ...Array.from({ length: 10 }, (_, i) => `lpt${i}`),
]);
export const MAX_NAME_LENGTH = 255;
export const MAX_PATH_LENGTH = 400;

/** Why OneDrive would refuse `name`, or undefined when it is fine. */
export function nameProblem(name: string, options: { atLibraryRoot?: boolean } = {}): string | undefined {
  if (name.length === 0 || name === '.' || name === '..') return 'the name is empty';
  const bad = INVALID_CHARS.exec(name);
  if (bad) return `OneDrive does not allow the character ${JSON.stringify(bad[0])} in names (not allowed: " * : < > ? / \\ | and control characters)`;
  if (/^\s|\s$/.test(name)) return 'OneDrive does not allow names that begin or end with a space';
  if (name.length > MAX_NAME_LENGTH) return `the name is ${name.length} characters long; OneDrive allows ${MAX_NAME_LENGTH}`;
  const lower = name.toLowerCase();
  if (RESERVED.has(lower)) return `"${name}" is a reserved name in OneDrive`;
  if (lower.includes('_vti_')) return 'OneDrive does not allow "_vti_" in names';
  if (name.startsWith('~$')) return 'OneDrive does not allow names beginning with "~$"';
  if (options.atLibraryRoot && lower === 'forms') return '"forms" is reserved at the root of a document library';
  return undefined;
}

/** Why OneDrive would refuse the drive path, checking its last segment and its length. */
export function pathProblem(path: string, options: { documentLibrary?: boolean } = {}): string | undefined {
  const segments = splitPath(path);
  const name = segments[segments.length - 1] ?? '';
  const problem = nameProblem(name, { atLibraryRoot: options.documentLibrary && segments.length === 1 });
  if (problem) return problem;
  const decodedLength = segments.join('/').length;
  if (decodedLength > MAX_PATH_LENGTH) return `the path is ${decodedLength} characters long; OneDrive allows ${MAX_PATH_LENGTH}`;
  return undefined;
}

/** Throws an `invalidName` DriveError naming the rule, before any Graph call. */
export function assertValidPath(path: string, options: { documentLibrary?: boolean } = {}): void {
  const problem = pathProblem(path, options);
  if (problem) throw new DriveError('invalidName', `Cannot use ${JSON.stringify(path)}: ${problem}. Choose another name.`);
}
