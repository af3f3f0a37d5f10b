/**
 * The one place that turns WebDAV request targets into path segments and back.
 *
 * A request target is split on `/` BEFORE percent-decoding, so an encoded slash (`%2F`) can never
 * create a segment boundary; each segment is then decoded and NFC-normalised. Segments that would
 * let a client climb out of its root or confuse the drive (`.`, `..`, `%2e%2e`, decoded `/` or `\`,
 * NUL and other control characters, `#` fragments) are refused with 400: they are never valid names,
 * so there is nothing to resolve. Because the drive path is built from checked segments only, a user
 * confined to a root folder cannot leave it.
 */
export class DavPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DavPathError';
  }
}

export interface RequestPath {
  /** Decoded, NFC-normalised segments; `[]` is the root. */
  segments: string[];
  /** The target ended with `/` (a client saying "collection"). */
  trailingSlash: boolean;
}

/** Parses the path of a request target (origin-form `/a/b?q`, or absolute-form `http://h/a/b`). */
export function parseRequestTarget(target: string): RequestPath {
  if (target.includes('#')) throw new DavPathError('The request URI contains a fragment ("#"); encode "#" in names as %23.');
  let path = target;
  const schemeEnd = /^[a-z][a-z0-9+.-]*:\/\//i.exec(path);
  if (schemeEnd) {
    const slash = path.indexOf('/', schemeEnd[0].length);
    path = slash === -1 ? '/' : path.slice(slash);
  }
  const query = path.indexOf('?');
  if (query !== -1) path = path.slice(0, query);
  if (!path.startsWith('/')) throw new DavPathError('The request path must start with "/".');
  const segments: string[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    segments.push(decodeSegment(raw));
  }
  return { segments, trailingSlash: path.length > 1 && path.endsWith('/') };
}

/** Decodes one raw segment and checks that it is a usable name. */
export function decodeSegment(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new DavPathError(`The path segment "${raw}" has malformed percent-encoding.`);
  }
  checkName(decoded);
  return decoded.normalize('NFC');
}

/** Throws when `name` cannot be a single path segment. */
export function checkName(name: string): void {
  if (name === '') throw new DavPathError('Empty names are not allowed.');
  if (name === '.' || name === '..') throw new DavPathError('"." and ".." are not allowed in paths.');
  if (name.includes('/')) throw new DavPathError('Encoded slashes (%2F) are not allowed inside a name.');
  if (name.includes('\\')) throw new DavPathError('Backslashes are not allowed in names.');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new DavPathError('Control characters (including NUL) are not allowed in names.');
}

/** `['a', 'b c']` → `/a/b%20c` (with a trailing slash for collections; the root is always `/`). */
export function hrefFor(segments: readonly string[], collection: boolean): string {
  if (segments.length === 0) return '/';
  const path = `/${segments.map(encodeSegment).join('/')}`;
  return collection ? `${path}/` : path;
}

/**
 * Percent-encodes one segment: everything but RFC 3986 unreserved characters and a few sub-delims
 * that every client reads back literally. `#`, `%`, `+`, `?`, `;` and spaces are always encoded.
 */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Parses a configured folder (`/Users/alice`, `Users/alice/`) into checked segments. */
export function parseConfiguredRoot(root: string): string[] {
  return root
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      checkName(s);
      return s.normalize('NFC');
    });
}
