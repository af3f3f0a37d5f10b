import { createHash } from 'node:crypto';
import type { DriveItem } from '../graph/items.js';

/**
 * A tag for a folder that changes when its members change, for the folder's WebDAV getetag.
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
