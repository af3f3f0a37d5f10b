import type { DriveEntry, Quota } from '../../drive/types.js';
import { DavError } from './errors.js';
import type { LockRecord } from '../stores/lock-system.js';
import { contentTypeFor } from '../http/mime.js';
import type { PropertyMap } from '../stores/property-store.js';
import { DAV_NS, childElements, clark, element, escapeText, parseXml, serializeElement, type XmlElement } from './xml.js';

/**
 * PROPFIND: what was asked (allprop / propname / named properties), and the `<D:response>` of one
 * resource built only from what the drive already returned (DriveEntry), the lock store and the
 * dead-property store — no extra drive calls per child, so a cached Depth 1 listing is free.
 */
export type PropfindRequest =
  | { kind: 'allprop'; include: PropName[] }
  | { kind: 'propname' }
  | { kind: 'prop'; names: PropName[] };

export interface PropName {
  ns: string;
  local: string;
}

export function parsePropfind(body: string): PropfindRequest {
  if (body.trim() === '') return { kind: 'allprop', include: [] };
  const root = parseXml(body);
  if (root.ns !== DAV_NS || root.local !== 'propfind') throw new DavError(400, 'A PROPFIND body must be a DAV:propfind element.');
  const children = childElements(root).filter((c) => c.ns === DAV_NS);
  const names = (el: XmlElement) => childElements(el).map((c) => ({ ns: c.ns, local: c.local }));
  const include = children.find((c) => c.local === 'include');
  if (children.some((c) => c.local === 'allprop')) return { kind: 'allprop', include: include ? names(include) : [] };
  if (children.some((c) => c.local === 'propname')) return { kind: 'propname' };
  const prop = children.find((c) => c.local === 'prop');
  if (prop) return { kind: 'prop', names: names(prop) };
  throw new DavError(400, 'A DAV:propfind must contain DAV:allprop, DAV:propname or DAV:prop.');
}

/** Everything needed to describe one resource. */
export interface ResourceView {
  href: string;
  isCollection: boolean;
  displayName: string;
  /** Absent for the virtual folders above the mounts. */
  entry?: DriveEntry;
  dead: PropertyMap;
  /** Active locks whose scope includes this resource. */
  locks: LockRecord[];
  lockRootHref(lock: LockRecord): string;
  secondsLeft(lock: LockRecord): number;
  /** Drive quota (RFC 4331), only fetched when asked for by name. */
  quota?: () => Promise<Quota>;
}

/** The quota is looked up before rendering (only when asked for) and handed to every view. */
type Live = (view: ResourceView, quota: Quota | undefined) => string | undefined;

const SUPPORTED_LOCK =
  '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
  '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>';

/** DAV: live properties: name → inner XML (already escaped), undefined when not applicable. */
const LIVE: Record<string, Live> = {
  creationdate: (v) => (v.entry ? escapeText(isoDate(v.entry.created)) : undefined),
  displayname: (v) => escapeText(v.displayName),
  getcontentlength: (v) => (v.entry && !v.isCollection ? String(v.entry.size) : undefined),
  getcontenttype: (v) => (v.entry && !v.isCollection ? escapeText(contentTypeFor(v.entry.name, v.entry.mimeType)) : undefined),
  getetag: (v) => (v.entry ? escapeText(entityTag(v.entry)) : undefined),
  getlastmodified: (v) => (v.entry ? escapeText(httpDate(v.entry.modified)) : undefined),
  lockdiscovery: (v) => v.locks.map((l) => activeLockXml(l, v.lockRootHref(l), v.secondsLeft(l))).join(''),
  resourcetype: (v) => (v.isCollection ? '<D:collection/>' : ''),
  supportedlock: (v) => (v.entry ? SUPPORTED_LOCK : undefined),
  'quota-available-bytes': (v, q) => (v.quota && q ? String(Math.max(0, q.remaining)) : undefined),
  'quota-used-bytes': (v, q) => (v.quota && q ? String(Math.max(0, q.used)) : undefined),
};

/** Live properties left out of allprop (RFC 4331 §3: quota is only returned when asked for). */
const NOT_IN_ALLPROP = new Set(['quota-available-bytes', 'quota-used-bytes']);

export function isLiveProperty(name: PropName): boolean {
  return name.ns === DAV_NS && name.local in LIVE;
}

const DAV_SCOPE = new Map([[DAV_NS, 'D']]);

/** Whether answering `request` needs the drive quota (RFC 4331 properties asked for by name). */
function wantsQuota(request: PropfindRequest): boolean {
  const names = request.kind === 'prop' ? request.names : request.kind === 'allprop' ? request.include : [];
  return names.some((n) => n.ns === DAV_NS && NOT_IN_ALLPROP.has(n.local));
}

/**
 * The `<D:response>` of every view. Everything is synchronous but the quota (only when asked for;
 * the drive remembers it, so a listing costs one lookup): a 10,000-item listing is one loop over
 * strings, not 100,000 awaited promises.
 */
export async function renderResponses(views: readonly ResourceView[], request: PropfindRequest): Promise<string[]> {
  let quotas: Array<Quota | undefined> | undefined;
  if (wantsQuota(request)) quotas = await Promise.all(views.map((v) => (v.quota ? v.quota().catch(() => undefined) : undefined)));
  const emptyTags = new Map<string, string>();
  const emptyTag = (name: PropName): string => {
    const key = clark(name.ns, name.local);
    let tag = emptyTags.get(key);
    if (tag === undefined) emptyTags.set(key, (tag = serializeElement(element(name.ns, name.local), DAV_SCOPE)));
    return tag;
  };
  const allLive = Object.keys(LIVE).filter((l) => !NOT_IN_ALLPROP.has(l));
  return views.map((view, i) => renderOne(view, request, quotas?.[i], emptyTag, allLive));
}

function renderOne(view: ResourceView, request: PropfindRequest, quota: Quota | undefined, emptyTag: (name: PropName) => string, allLive: string[]): string {
  let found = '';
  let missing = '';
  const live = (local: string): string | undefined => {
    let value: string | undefined;
    try {
      value = LIVE[local](view, quota);
    } catch {
      value = undefined;
    }
    return value === undefined ? undefined : `<D:${local}>${value}</D:${local}>`;
  };

  if (request.kind === 'propname') {
    for (const local of Object.keys(LIVE)) {
      // Quota is named when the resource has one, without asking the drive for the numbers.
      const defined = NOT_IN_ALLPROP.has(local) ? view.quota !== undefined : LIVE[local](view, quota) !== undefined;
      if (defined) found += `<D:${local}/>`;
    }
    for (const key of Object.keys(view.dead)) found += emptyTag(parseClark(key));
  } else if (request.kind === 'allprop' && request.include.length === 0) {
    for (const local of allLive) found += live(local) ?? '';
    for (const key of Object.keys(view.dead)) if (!isLiveProperty(parseClark(key))) found += view.dead[key];
  } else {
    const names: PropName[] =
      request.kind === 'prop' ? request.names : [...allLive.map((local) => ({ ns: DAV_NS, local })), ...Object.keys(view.dead).map(parseClark), ...request.include];
    const seen = new Set<string>();
    for (const name of names) {
      const key = clark(name.ns, name.local);
      if (seen.has(key)) continue;
      seen.add(key);
      const value = isLiveProperty(name) ? live(name.local) : view.dead[key];
      if (value !== undefined) found += value;
      else if (request.kind === 'prop' || request.include.some((i) => i.ns === name.ns && i.local === name.local)) missing += emptyTag(name);
    }
  }

  let xml = `<D:response><D:href>${escapeText(view.href)}</D:href>`;
  if (found !== '' || missing === '') xml += `<D:propstat><D:prop>${found}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>`;
  if (missing !== '') xml += `<D:propstat><D:prop>${missing}</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>`;
  return `${xml}</D:response>`;
}

export function activeLockXml(lock: LockRecord, rootHref: string, secondsLeft: number): string {
  return (
    `<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:${lock.scope}/></D:lockscope>` +
    `<D:depth>${lock.depth === 0 ? '0' : 'infinity'}</D:depth>` +
    (lock.owner !== undefined ? `<D:owner>${lock.owner}</D:owner>` : '') +
    `<D:timeout>Second-${secondsLeft}</D:timeout>` +
    `<D:locktoken><D:href>${escapeText(lock.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${escapeText(rootHref)}</D:href></D:lockroot></D:activelock>`
  );
}

export function parseClark(key: string): PropName {
  const close = key.indexOf('}');
  return { ns: key.slice(1, close), local: key.slice(close + 1) };
}

/** The entity tag of an item: the drive chooses it (DriveEntry.etag; GraphDrive's policy is drive/entity-tag.ts). */
export function entityTag(entry: DriveEntry): string {
  return entry.etag;
}

/** RFC 3339 without fractions (what creationdate clients parse best). */
export function isoDate(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** RFC 9110 IMF-fixdate. */
export function httpDate(date: Date): string {
  return date.toUTCString();
}

export const MULTISTATUS_OPEN = '<D:multistatus xmlns:D="DAV:">';
export const MULTISTATUS_CLOSE = '</D:multistatus>';

export function multistatus(responses: readonly string[]): string {
  return `${MULTISTATUS_OPEN}${responses.join('')}${MULTISTATUS_CLOSE}`;
}
