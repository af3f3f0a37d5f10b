import { createHash } from 'node:crypto';
import type { DriveItem } from '../graph/items.js';

/**
 * The entity tag GraphDrive gives an item (DriveEntry.etag), a quoted strong tag.
 *
 * Files use the content tag (cTag), which changes only when the bytes change: setting the mtime or
 * a rename (which change eTag) must not make a client think the content changed, and GET/PUT
 * preconditions are about content.
 * Folders use a tag that changes when the folder's members change: a GET of a collection returns its
 * listing, whose entity tag must then change. davfs2, gvfs, KIO and rclone re-list folders on their
 * own schedule and never skip a listing because a collection's getetag is unchanged
 * (docs/clients/collection-etags.md); sync clients that compare folder etags do, and they get a tag
 * that moves with the membership.
 */
export function entityTagOf(item: DriveItem, isFolder: boolean): string {
  const raw = (isFolder ? folderTag(item) : item.cTag) ?? item.eTag ?? item.id;
  const cleaned = (raw || item.id)
    .replace(/^W\//, '')
    .replace(/^"+|"+$/g, '')
    .replace(/[^\x21\x23-\x7e]/g, '_');
  return `"${cleaned}"`;
}

/**
 * A tag for a folder that changes when its members change.
 * Graph's folder eTag does not: "The eTag value is only modified when the folder's properties are
 * changed, except for properties that are derived from descendants (like childCount or
 * lastModifiedDateTime)" (https://learn.microsoft.com/graph/api/resources/driveitem).
 * Personal OneDrive's folder cTag changes whenever anything below changes, so it is used as is;
 * OneDrive for Business and SharePoint return no folder cTag, so the tag is derived from the eTag
 * and the two properties the same note names as derived from descendants. It comes from the folder's
 * own item alone, so a folder has the same tag whichever request (stat, listing, delta) brought it.
 */
export function folderTag(item: DriveItem): string | undefined {
  if (item.cTag) return item.cTag;
  if (!item.eTag) return undefined;
  const basis = `${item.eTag}\n${item.lastModifiedDateTime ?? ''}\n${item.folder?.childCount ?? ''}`;
  return `f:${createHash('sha256').update(basis).digest('base64url').slice(0, 27)}`;
}
