import type { DriveApi } from '../graph/drive-api.js';
import type { DriveItem } from '../graph/items.js';
import type { NameFolding } from '../util/drive-path.js';

/** What is needed of a copy's source: its id, whether it is a folder, its mtime (ms). */
export interface CopySource {
  id: string;
  isFolder: boolean;
  modified: number | undefined;
}

/**
 * A server-side copy stamps every item it creates with the time of the copy ("Copy does NOT copy
 * the modTime from the source", rclone/rclone backend/onedrive/onedrive.go Copy). WebDAV clients
 * expect getlastmodified to survive a COPY, so once the copy is done the source's times are written
 * onto it, folder by folder (one listing of each side per folder, one PATCH per item that differs).
 */
export async function carryModifiedTimes(api: DriveApi, source: CopySource, copy: DriveItem, names: NameFolding, signal?: AbortSignal): Promise<DriveItem> {
  const updated = await carryOne(api, source.modified, copy, signal);
  if (source.isFolder && copy.folder !== undefined) await carryChildren(api, source.id, copy.id, names, signal);
  return updated;
}

async function carryChildren(api: DriveApi, sourceId: string, copyId: string, names: NameFolding, signal?: AbortSignal): Promise<void> {
  const [sources, copies] = await Promise.all([api.listChildren({ id: sourceId }, signal), api.listChildren({ id: copyId }, signal)]);
  const byName = new Map(copies.map((c) => [names.nameKey(c.name), c]));
  for (const source of sources) {
    const copy = byName.get(names.nameKey(source.name));
    if (!copy) continue;
    await carryOne(api, modifiedOf(source), copy, signal);
    if (source.folder !== undefined && copy.folder !== undefined) await carryChildren(api, source.id, copy.id, names, signal);
  }
}

/** Writes `wanted` as the copy's lastModifiedDateTime when it differs. */
async function carryOne(api: DriveApi, wanted: number | undefined, copy: DriveItem, signal?: AbortSignal): Promise<DriveItem> {
  if (wanted === undefined || modifiedOf(copy) === wanted) return copy;
  return api.update({ id: copy.id }, { lastModified: new Date(wanted) }, { signal });
}

/** fileSystemInfo.lastModifiedDateTime (what WebDAV shows as getlastmodified), in ms. */
function modifiedOf(item: DriveItem): number | undefined {
  const text = item.fileSystemInfo?.lastModifiedDateTime ?? item.lastModifiedDateTime;
  const ms = text ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}
