import { EmulatorHttpError } from '../http.js';

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
  | { kind: 'item'; drive: DriveRef; base: ItemBase; segments?: string[]; action: string; version?: VersionRef }
  | { kind: 'monitor'; id: string }
  | { kind: 'unknown' };

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

export function parseGraphPath(raw: string): ParsedRoute {
  const unknown: ParsedRoute = { route: { kind: 'unknown' }, template: raw };
  let m: RegExpExecArray | null;
  if ((m = /^\/monitor\/([^/]+)$/.exec(raw))) return { route: { kind: 'monitor', id: decode(m[1]) }, template: '/monitor/{id}' };
  if (raw === '/me') return { route: { kind: 'me' }, template: '/me' };
  if (raw === '/me/drives') return { route: { kind: 'drives', owner: { by: 'me' } }, template: '/me/drives' };
  if (raw === '/me/followedSites') return { route: { kind: 'followedSites' }, template: '/me/followedSites' };
  if ((m = /^\/(me\/drive|drive)(?=\/|$)(.*)$/.exec(raw))) return driveRest({ by: 'me' }, `/${m[1]}`, m[2]) ?? unknown;
  if ((m = /^\/users\/([^/]+)(.*)$/.exec(raw))) {
    const user = decode(m[1]);
    const rest = m[2];
    if (rest === '') return { route: { kind: 'user', user }, template: '/users/{user-id}' };
    if (rest === '/drives') return { route: { kind: 'drives', owner: { by: 'user', user } }, template: '/users/{user-id}/drives' };
    if (/^\/drive(\/|$)/.test(rest)) return driveRest({ by: 'user', user }, '/users/{user-id}/drive', rest.slice('/drive'.length)) ?? unknown;
    return unknown;
  }
  if ((m = /^\/drives\/([^/:]+)(.*)$/.exec(raw))) return driveRest({ by: 'id', id: decode(m[1]) }, '/drives/{drive-id}', m[2]) ?? unknown;
  if (raw.startsWith('/sites/')) {
    const parsed = parseSite(raw.slice('/sites/'.length));
    if (!parsed) return unknown;
    const { site, rest, template } = parsed;
    if (rest === '') return { route: { kind: 'site', site }, template };
    if (rest === '/drives') return { route: { kind: 'drives', owner: { by: 'site', site } }, template: `${template}/drives` };
    if (/^\/drive(\/|$)/.test(rest)) return driveRest({ by: 'site', site }, `${template}/drive`, rest.slice('/drive'.length)) ?? unknown;
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

function driveRest(drive: DriveRef, driveTemplate: string, rest: string): ParsedRoute | null {
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
  if (after.startsWith(':')) {
    const body = after.slice(1);
    const end = body.indexOf(':');
    const rawPath = end >= 0 ? body.slice(0, end) : body;
    after = end >= 0 ? body.slice(end + 1) : '';
    segments = decodeSegments(rawPath);
    template += ':/{path}:';
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
    return { route: { kind: 'item', drive, base, segments, action: 'versions', version }, template };
  }
  if (after !== '' && after !== '/') {
    const name = after.replace(/^\//, '').replace(/^microsoft\.graph\./i, '').replace(/\(\)$/, '');
    if (name.includes('/') || !ACTIONS.has(name.toLowerCase())) return null;
    action = name.toLowerCase();
    template += `/${name}`;
  }
  return { route: { kind: 'item', drive, base, segments, action }, template };
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
