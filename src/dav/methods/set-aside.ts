import { asideNameFor, DriveError, type DriveEntry, type RemoteDrive } from '../../drive/index.js';
import { childPath, parentPath } from '../../util/drive-path.js';
import type { Logger } from '../../util/logger.js';
import { isNotFound } from '../http/context.js';

/** Longest aside name we make (OneDrive's name limit, drive/names.ts); a longer path is refused by the drive before anything moves. */
const ASIDE_NAME_MAX = 255;

/**
 * Replaces `existing` at `path` by what `place` puts there, for work the drive cannot do itself
 * (a COPY streamed through onedav between mounts, a Depth 0 COPY of a folder): the same guarantee
 * as drive/replace.ts, built from the drive's own move and remove.
 *
 * 1. the old item is renamed aside in its folder (`.onedav-aside-<random>-<name>`, the drive's move);
 * 2. `place` puts the new item at `path`; if it fails, the old item is renamed back;
 * 3. when `place` reports everything placed, the aside item is deleted only if it is still what was
 *    set aside (`ifUnchanged`: its version and entity tag as the rename returned them); else it is kept
 *    and logged with its name.
 *
 * When `place` placed the top item but not all its members (a 207), RFC 4918 §9.8.8 lets the copy
 * keep what succeeded, and §9.8.4 would have deleted the old destination; but then the request failed
 * and the user would have less than before. To keep data safe the old item stays aside, and its name
 * is returned so the client can be told (the multistatus says it).
 * Returns the aside name when the old item is kept, else undefined.
 */
export async function replaceThroughAside(
  drive: RemoteDrive,
  path: string,
  existing: DriveEntry | null,
  place: () => Promise<boolean>,
  logger: Logger,
): Promise<string | undefined> {
  if (!existing) {
    await place();
    return undefined;
  }
  const asidePath = childPath(parentPath(path), asideNameFor(existing.name, ASIDE_NAME_MAX));
  let aside: DriveEntry;
  try {
    aside = await drive.move(path, asidePath);
  } catch (err) {
    // Gone already (another client): there is nothing to keep, and the way is free.
    if (!isNotFound(err)) throw err;
    await place();
    return undefined;
  }
  let complete: boolean;
  try {
    complete = await place();
  } catch (err) {
    await putBack(drive, aside, path, existing, err);
    throw err;
  }
  if (!complete) {
    logger.warn('kept the item a COPY or MOVE replaced, because not all of the new one arrived', { aside: aside.path, path });
    return aside.name;
  }
  try {
    await drive.remove(aside.path, { ifUnchanged: { version: aside.version, etag: aside.etag } });
  } catch (err) {
    if (!isNotFound(err)) logger.warn('kept the item set aside while replacing it; delete it by hand once it is not needed', { aside: aside.path, path, why: err instanceof Error ? err.message : String(err) });
  }
  return undefined;
}

async function putBack(drive: RemoteDrive, aside: DriveEntry, path: string, existing: DriveEntry, cause: unknown): Promise<void> {
  try {
    await drive.move(aside.path, path);
  } catch {
    const message = cause instanceof Error ? cause.message : String(cause);
    const what = existing.isFolder ? 'folder' : 'file';
    throw new DriveError('upstream', `${message} The ${what} that was at "${existing.name}" is safe in the same folder as "${aside.name}"; rename it back to recover it.`, { cause });
  }
}
