import { randomBytes } from 'node:crypto';
import type { DriveApi } from '../graph/drive-api.js';
import { GraphError } from '../graph/errors.js';
import { DriveError } from './errors.js';
import type { DriveItem } from '../graph/items.js';
import type { Logger } from '../util/logger.js';
import { folderTag } from './entity-tag.js';

/**
 * Replacing an item (a file or a folder with everything in it) by moving or copying another onto its
 * name, without ever losing the one replaced.
 *
 * Graph has no replace we can trust for a move: `@microsoft.graph.conflictBehavior=replace` on the
 * PATCH is reported to work on personal OneDrive (OneDrive/onedrive-api-docs#820) and to answer
 * nameAlreadyExists on business drives (OneDrive/onedrive-api-docs#1383); the driveItem-move page
 * does not list it (https://learn.microsoft.com/en-us/graph/api/driveitem-move). A copy's replace
 * is unreliable too (OneDrive/onedrive-api-docs#1769). So, on every drive:
 *
 * 1. rename the old item aside in its own folder (by id, If-Match its eTag, conflictBehavior fail)
 *    to `.onedav-aside-<random>-<name>`, a name only onedav makes;
 * 2. move or copy the source onto the freed name;
 * 3. if that failed and the work did not land after all, rename the old item back;
 *    if it succeeded, delete the old item by its id and the eTag the rename gave it (If-Match),
 *    so nothing but the item onedav set aside can be deleted.
 *
 * A folder's eTag does not change when something is written below it ("The eTag value is only
 * modified when the folder's properties are changed, except for properties that are derived from
 * descendants", https://learn.microsoft.com/graph/api/resources/driveitem), so If-Match alone would
 * not notice a file someone saved into the aside folder meanwhile. The docs are silent on a DELETE
 * guarded by a cTag; to keep data safe, the aside folder is read again first and deleted only when
 * its folder tag (cTag, or eTag + lastModifiedDateTime + childCount: entity-tag.ts) is what the rename
 * returned; otherwise it is kept, and logged with its name.
 *
 * Should onedav die between 1 and 3 the old item is still in the destination folder under its
 * aside name (OneDrive's web view shows dot files): renaming it back recovers it.
 */
export const ASIDE_PREFIX = '.onedav-aside-';

export interface Replacement {
  api: DriveApi;
  /** The item being replaced, as just read: id, name, eTag and mtime (kept across the renames). */
  old: { id: string; name: string; eTag: string; modified: Date; isFolder: boolean };
  /** Longest name the aside copy may have there (the drive's name and path limits). */
  maxNameLength: number;
  /** Moves or copies the source onto the old file's name (conflictBehavior fail). */
  place: () => Promise<DriveItem>;
  /** After `place` failed: the new item if the work happened anyway (its answer was lost). */
  landed: () => Promise<DriveItem | undefined>;
  /** Told when the aside item is kept (its deletion refused or unsafe). */
  logger?: Logger;
}

export async function replaceItem(r: Replacement): Promise<DriveItem> {
  const asideName = asideNameFor(r.old.name, r.maxNameLength);
  const aside = await setAside(r, asideName);
  let placed: DriveItem;
  try {
    placed = await r.place();
  } catch (err) {
    const landed = await r.landed().catch(() => undefined);
    if (!landed) {
      await restore(r, aside, err);
      throw err;
    }
    placed = landed;
  }
  await discard(r, aside);
  return placed;
}
/** `.onedav-aside-<12 hex>-<name>`, the name cut (and trimmed) to fit `max` characters. */
export function asideNameFor(name: string, max: number): string {
  const prefix = `${ASIDE_PREFIX}${randomBytes(6).toString('hex')}-`;
  const rest = name.slice(0, Math.max(0, max - prefix.length)).replace(/[\s.]+$/, '');
  return prefix + rest;
}

async function setAside(r: Replacement, asideName: string): Promise<DriveItem> {
  try {
    // The rename carries the mtime: a PATCH that renames resets it otherwise (rclone/rclone backend/onedrive/onedrive.go Move).
    return await r.api.update({ id: r.old.id }, { name: asideName, lastModified: r.old.modified }, { conflictBehavior: 'fail', ifMatch: r.old.eTag || undefined });
  } catch (err) {
    // A lost answer whose retry met its own change (412): the rename did happen.
    const now = await r.api.getItem({ id: r.old.id }).catch(() => undefined);
    if (now?.name === asideName) return now;
    throw err;
  }
}

async function restore(r: Replacement, aside: DriveItem, cause: unknown): Promise<void> {
  try {
    await r.api.update({ id: aside.id }, { name: r.old.name, lastModified: r.old.modified }, { conflictBehavior: 'fail' });
  } catch {
    const message = cause instanceof Error ? cause.message : String(cause);
    const what = r.old.isFolder ? 'folder' : 'file';
    throw new DriveError(
      'upstream',
      `${message} The ${what} that was at "${r.old.name}" is safe in the same folder as "${aside.name}"; rename it back to recover it.`,
      { cause },
    );
  }
}

/** Deletes the set-aside item, only if it is still exactly what onedav set aside. */
async function discard(r: Replacement, aside: DriveItem): Promise<void> {
  const keep = (why: string) => r.logger?.warn('kept the item set aside while replacing it; delete it by hand once it is not needed', { aside: aside.name, name: r.old.name, why });
  if (!aside.eTag) return keep('the rename returned no eTag');
  try {
    if (r.old.isFolder) {
      const now = await r.api.getItem({ id: aside.id });
      if (now.name !== aside.name || folderTag(now) !== folderTag(aside)) return keep('something changed in it since it was set aside');
    }
    await r.api.delete({ id: aside.id }, { ifMatch: aside.eTag });
  } catch (err) {
    // Gone already (a retried DELETE), changed by someone since (412), or Graph unreachable: the
    // move is done either way, and an item we cannot prove is ours stays where it is.
    if (!(err instanceof GraphError && err.isNotFound)) keep(err instanceof Error ? err.message : String(err));
  }
}
