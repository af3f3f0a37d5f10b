import { EmulatorHttpError } from '../request-io.js';

/**
 * Parses Graph v1.0 drive paths (after `/v1.0`), percent-encoded as they arrived. Colons delimit
 * path-based addressing (`root:/a/b.txt:/content`), so the raw path is split before decoding:
 * an encoded `%3A` inside a name stays part of the name.
 */
export type SiteRef = { by: 'root' } | { by: 'id'; id: string } | { by: 'path'; hostname: string; path: string };
export type DriveRef = { by: 'me' } | { by: 'user'; user: string } | { by: 'id'; id: string } | { by: 'site'; site: SiteRef };
export type ItemBase = { by: 'root' } | { by: 'id'; id: string };

export type GraphRoute =
  | { kind: 'me' }
  | { kind: 'user'; user: string }
  | { kind: 'followedSites' }
  | { kind: 'drives'; owner: DriveRef }
  | { kind: 'site'; site: SiteRef }
  | { kind: 'drive'; drive: DriveRef }
  | { kind: 'item'; drive: DriveRef; base: ItemBase; segments?: string[]; addressing?: ItemAddressing; action: string; version?: VersionRef }
  | { kind: 'monitor'; id: string }
  | { kind: 'unknown' };

/**
 * How `segments` were spelled: `path` for `root:/a/b:` / `items/{id}:/a/b:`, `name` for the OData
 * key form `children('{name}')` or `children('@a1')?@a1='{path}'`, which 21Vianet serves where path
 * addressing fails (rclone/rclone backend/onedrive/onedrive.go "URL Build routine area").
 */
export type ItemAddressing = 'path' | 'name';

/** `…/versions/{version-id}[/content|/restoreVersion]` (the action is lower-cased, '' for the version itself). */
export interface VersionRef {
  id: string;
  action: string;
}

export interface ParsedRoute {
  route: GraphRoute;
  /** Counter template, e.g. `/drives/{drive-id}/items/{item-id}:/{path}:/content`. */
  template: string;
}

const ACTIONS = new Set(['children', 'content', 'createuploadsession', 'copy', 'delta']);
const VERSION_ACTIONS = new Set(['content', 'restoreversion']);

/** `query` resolves parameter aliases (`children('@a1')?@a1='a/b'`). */
export function parseGraphPath(raw: string, query?: URLSearchParams): ParsedRoute {
  const unknown: ParsedRoute = { route: { kind: 'unknown' }, template: raw };
  let m: RegExpExecArray | null;
  if ((m = /^\/monitor\/([^/]+)$/.exec(raw))) return { route: { kind: 'monitor', id: decode(m[1]) }, template: '/monitor/{id}' };
  if (raw === '/me') return { route: { kind: 'me' }, template: '/me' };
  if (raw === '/me/drives') return { route: { kind: 'drives', owner: { by: 'me' } }, template: '/me/drives' };
  if (raw === '/me/followedSites') return { route: { kind: 'followedSites' }, template: '/me/followedSites' };
  if ((m = /^\/(me\/drive|drive)(?=\/|$)(.*)$/.exec(raw))) return driveRest({ by: 'me' }, `/${m[1]}`, m[2], query) ?? unknown;
  if ((m = /^\/users\/([^/]+)(.*)$/.exec(raw))) {
    const user = decode(m[1]);
    const rest = m[2];
    if (rest === '') return { route: { kind: 'user', user }, template: '/users/{user-id}' };
    if (rest === '/drives') return { route: { kind: 'drives', owner: { by: 'user', user } }, template: '/users/{user-id}/drives' };
    if (/^\/drive(\/|$)/.test(rest)) return driveRest({ by: 'user', user }, '/users/{user-id}/drive', rest.slice('/drive'.length), query) ?? unknown;
    return unknown;
  }
  if ((m = /^\/drives\/([^/:]+)(.*)$/.exec(raw))) return driveRest({ by: 'id', id: decode(m[1]) }, '/drives/{drive-id}', m[2], query) ?? unknown;
  if (raw.startsWith('/sites/')) {
    const parsed = parseSite(raw.slice('/sites/'.length));
    if (!parsed) return unknown;
    const { site, rest, template } = parsed;
    if (rest === '') return { route: { kind: 'site', site }, template };
    if (rest === '/drives') return { route: { kind: 'drives', owner: { by: 'site', site } }, template: `${template}/drives` };
    if (/^\/drive(\/|$)/.test(rest)) return driveRest({ by: 'site', site }, `${template}/drive`, rest.slice('/drive'.length), query) ?? unknown;
    return unknown;
  }
  return unknown;
}

function parseSite(text: string): { site: SiteRef; rest: string; template: string } | null {
  const slash = text.indexOf('/');
  const colon = text.indexOf(':');
  if (colon >= 0 && (slash < 0 || colon < slash)) {
    // {hostname}:/{server-relative-path}[:/rest]
    const hostname = decode(text.slice(0, colon)).toLowerCase();
    const after = text.slice(colon + 1);
    const end = after.indexOf(':');
    const rawPath = end >= 0 ? after.slice(0, end) : after;
    const rest = end >= 0 ? after.slice(end + 1) : '';
    const path = decodeSegments(rawPath).join('/');
    return { site: { by: 'path', hostname, path: path ? `/${path}` : '' }, rest, template: '/sites/{hostname}:/{path}:' };
  }
  const seg = slash >= 0 ? text.slice(0, slash) : text;
  const rest = slash >= 0 ? text.slice(slash) : '';
  if (seg === 'root') return { site: { by: 'root' }, rest, template: '/sites/root' };
  return { site: { by: 'id', id: decode(seg) }, rest, template: '/sites/{site-id}' };
}

function driveRest(drive: DriveRef, driveTemplate: string, rest: string, query?: URLSearchParams): ParsedRoute | null {
  if (rest === '' || rest === '/') return { route: { kind: 'drive', drive }, template: driveTemplate };
  let base: ItemBase;
  let after: string;
  let template = driveTemplate;
  let m: RegExpExecArray | null;
  if (/^\/root(?=$|[:/])/.test(rest)) {
    base = { by: 'root' };
    after = rest.slice('/root'.length);
    template += '/root';
  } else if ((m = /^\/items\/([^/:]+)(.*)$/.exec(rest))) {
    base = { by: 'id', id: decode(m[1]) };
    after = m[2];
    template += '/items/{item-id}';
  } else {
    return null;
  }
  let segments: string[] | undefined;
  let addressing: ItemAddressing | undefined;
  const named = /^\/children\(([^)]*)\)(.*)$/i.exec(after);
  if (after.startsWith(':')) {
    const body = after.slice(1);
    const end = body.indexOf(':');
    const rawPath = end >= 0 ? body.slice(0, end) : body;
    after = end >= 0 ? body.slice(end + 1) : '';
    segments = decodeSegments(rawPath);
    addressing = 'path';
    template += ':/{path}:';
  } else if (named) {
    const key = namedKey(named[1], query);
    segments = key.segments;
    addressing = 'name';
    after = named[2];
    template += key.alias ? "/children('@a1')" : "/children('{name}')";
  }
  let action = '';
  const versions = /^\/versions(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/i.exec(after);
  if (versions) {
    template += '/versions';
    let version: VersionRef | undefined;
    if (versions[1] !== undefined) {
      const sub = (versions[2] ?? '').replace(/^microsoft\.graph\./i, '').replace(/\(\)$/, '');
      if (sub && !VERSION_ACTIONS.has(sub.toLowerCase())) return null;
      version = { id: decode(versions[1]), action: sub.toLowerCase() };
      template += `/{version-id}${sub ? `/${sub}` : ''}`;
    }
    return { route: { kind: 'item', drive, base, segments, addressing, action: 'versions', version }, template };
  }
  if (after !== '' && after !== '/') {
    const name = after.replace(/^\//, '').replace(/^microsoft\.graph\./i, '').replace(/\(\)$/, '');
    if (name.includes('/') || !ACTIONS.has(name.toLowerCase())) return null;
    action = name.toLowerCase();
    template += `/${name}`;
  }
  return { route: { kind: 'item', drive, base, segments, addressing, action }, template };
}

/**
 * The key of `children({key})`: a quoted name (`'a b.txt'`, quotes doubled inside, one level only)
 * or a parameter alias (`'@a1'` or `@a1`) whose query value is a quoted path (`'a/b c.txt'`, any depth).
 * rclone/rclone backend/onedrive/onedrive.go newOptsCallWithIDPath (both forms, alias quoted as rclone sends it)
 */
function namedKey(rawKey: string, query: URLSearchParams | undefined): { segments: string[]; alias: boolean } {
  const key = decode(rawKey);
  const alias = /^'?(@[A-Za-z_][A-Za-z0-9_]*)'?$/.exec(key);
  if (alias) {
    const value = query?.get(alias[1]);
    if (value === null || value === undefined) throw new EmulatorHttpError(400, 'invalidRequest', `The parameter alias ${alias[1]} has no value in the query string.`);
    const segments = unquote(value).split('/').filter((s) => s !== '');
    if (segments.length === 0) throw new EmulatorHttpError(400, 'invalidRequest', `The parameter alias ${alias[1]} names no item.`);
    return { segments, alias: true };
  }
  const name = unquote(key);
  if (name === '' || name.includes('/')) throw new EmulatorHttpError(400, 'invalidRequest', "children('{name}') takes one item name; use children('@a1')?@a1='{path}' for a path.");
  return { segments: [name], alias: false };
}

/** An OData string literal: `'it''s'` → `it's`. */
function unquote(literal: string): string {
  const m = /^'((?:[^']|'')*)'$/s.exec(literal);
  if (!m) throw new EmulatorHttpError(400, 'invalidRequest', `'${literal}' is not a quoted OData string literal.`);
  return m[1].replace(/''/g, "'");
}

function decodeSegments(rawPath: string): string[] {
  return rawPath
    .split('/')
    .filter((s) => s !== '')
    .map(decode);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new EmulatorHttpError(400, 'invalidRequest', `The path segment '${text}' is not valid percent-encoding.`);
  }
}
