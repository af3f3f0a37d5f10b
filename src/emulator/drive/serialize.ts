import type { Directory } from '../directory.js';
import type { DriveRecord, ItemRecord } from './model.js';
import { profileOf } from './profile.js';
import type { DriveStore } from './store.js';

/** How items are shown for one request: the drive, how Graph spells parent paths, and how files are downloaded. */
export interface ItemView {
  store: DriveStore;
  drive: DriveRecord;
  directory: Directory;
  /** `/drive/root:` (for /me/drive, /users/x/drive, /sites/x/drive) or `/drives/{id}/root:`. */
  pathPrefix: string;
  downloadUrl(item: ItemRecord): string;
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function eTagOf(item: ItemRecord): string {
  return `"{${item.tagGuid}},${item.eTagVersion}"`;
}

function cTagOf(item: ItemRecord): string {
  return `"c:{${item.tagGuid}},${item.cTagVersion}"`;
}

/** True when an If-Match / If-None-Match value names the item's current eTag or cTag (or is `*`). */
export function tagMatches(header: string, item: ItemRecord): boolean {
  const trimmed = header.trim();
  if (trimmed === '*') return true;
  const quoted = [...trimmed.matchAll(/(?:W\/)?"([^"]*)"/g)].map((m) => m[1]);
  const given = quoted.length > 0 ? quoted : [trimmed];
  const current = [eTagOf(item), cTagOf(item)].map((t) => t.slice(1, -1));
  return given.some((tag) => current.includes(tag));
}

export function identityOf(view: ItemView, who: string | undefined): Record<string, unknown> | undefined {
  if (!who) return undefined;
  if (who.startsWith('app:')) return { application: { id: who.slice(4), displayName: 'Application' } };
  const user = view.directory.users.find((u) => u.id === who);
  if (!user) return undefined;
  return { user: { email: user.mail, id: user.id, displayName: user.displayName } };
}

/** The driveItem resource as Graph v1.0 sends it. */
export function itemJson(view: ItemView, item: ItemRecord, options: { delta?: boolean } = {}): Record<string, unknown> {
  const { drive, store } = view;
  if (item.deletedAt) {
    return {
      id: item.id,
      name: item.name,
      deleted: { state: 'deleted' },
      parentReference: { driveType: drive.type, driveId: drive.id, id: item.parentId ?? undefined },
      ...(item.isFolder ? { folder: { childCount: 0 } } : { file: {} }),
    };
  }
  const path = store.pathOf(item);
  const json: Record<string, unknown> = {};
  if (!item.isFolder && !options.delta) json['@microsoft.graph.downloadUrl'] = view.downloadUrl(item);
  json.createdDateTime = isoSeconds(item.createdAt);
  json.eTag = eTagOf(item);
  json.id = item.id;
  json.lastModifiedDateTime = isoSeconds(item.modifiedAt);
  json.name = item.name;
  json.webUrl = path ? `${drive.webUrl}/${path.split('/').map(encodeURIComponent).join('/')}` : drive.webUrl;
  if (!item.isFolder || profileOf(drive, view.directory).folderCTag) json.cTag = cTagOf(item);
  json.size = item.size;
  const createdBy = identityOf(view, item.createdBy);
  const modifiedBy = identityOf(view, item.modifiedBy);
  if (createdBy) json.createdBy = createdBy;
  if (modifiedBy) json.lastModifiedBy = modifiedBy;
  if (item.description !== undefined) json.description = item.description;
  if (item.parentId === null) {
    json.parentReference = { driveType: drive.type, driveId: drive.id };
  } else {
    const parent = store.anyItem(item.parentId);
    const parentPath = parent ? store.pathOf(parent) : '';
    const ref: Record<string, unknown> = { driveType: drive.type, driveId: drive.id, id: item.parentId };
    if (parent && parent.parentId !== null) ref.name = parent.name;
    // Graph leaves parentReference.path out of delta responses.
    if (!options.delta) ref.path = parentPath ? `${view.pathPrefix}/${parentPath}` : view.pathPrefix;
    if (drive.siteId) ref.siteId = drive.siteId;
    json.parentReference = ref;
  }
  if (item.isFolder) {
    json.folder = { childCount: store.childCount(item.id) };
  } else {
    const hashes: Record<string, string> = { quickXorHash: item.quickXorHash ?? '' };
    if (profileOf(drive, view.directory).sha1Hash && item.sha1Hash) hashes.sha1Hash = item.sha1Hash;
    json.file = { mimeType: item.mimeType ?? 'application/octet-stream', hashes };
  }
  json.fileSystemInfo = { createdDateTime: isoSeconds(item.fsCreatedAt), lastModifiedDateTime: isoSeconds(item.fsModifiedAt) };
  if (item.parentId === null) json.root = {};
  return json;
}

/**
 * `$select`: only the named properties. Graph leaves `@microsoft.graph.downloadUrl` out unless it is
 * selected by that name (or as `content.downloadUrl`).
 */
export function applySelect(json: Record<string, unknown>, select: string[] | undefined): Record<string, unknown> {
  if (!select) return json;
  const wanted = new Set(select.map((s) => s.toLowerCase()));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key === '@microsoft.graph.downloadUrl') {
      if (wanted.has('@microsoft.graph.downloadurl') || wanted.has('content.downloadurl')) out[key] = value;
    } else if (wanted.has(key.toLowerCase())) {
      out[key] = value;
    }
  }
  return out;
}

/** The drive resource, quota included. */
export function driveJson(view: Omit<ItemView, 'pathPrefix' | 'downloadUrl'>): Record<string, unknown> {
  const { drive, store } = view;
  const { used, deleted } = store.usage(drive.id);
  const remaining = Math.max(0, drive.quotaTotal - used);
  const ratio = drive.quotaTotal > 0 ? used / drive.quotaTotal : 1;
  const state = ratio >= 1 ? 'exceeded' : ratio >= 0.99 ? 'critical' : ratio >= 0.9 ? 'nearing' : 'normal';
  const root = store.root(drive.id);
  const json: Record<string, unknown> = {
    createdDateTime: isoSeconds(drive.createdAt),
    description: '',
    id: drive.id,
    lastModifiedDateTime: isoSeconds(root.modifiedAt),
    name: drive.name,
    webUrl: drive.webUrl,
    driveType: drive.type,
    createdBy: { user: { displayName: 'System Account' } },
  };
  const owner = drive.ownerUserId ? view.directory.users.find((u) => u.id === drive.ownerUserId) : undefined;
  json.owner = owner
    ? { user: { email: owner.mail, id: owner.id, displayName: owner.displayName } }
    : { group: { displayName: drive.name } };
  json.quota = { deleted, remaining, state, total: drive.quotaTotal, used };
  return json;
}
