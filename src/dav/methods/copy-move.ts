import { STATUS_CODES } from 'node:http';
import type { DriveEntry } from '../../drive/types.js';
import { checkIfHeader, checkLocks, checkWriteValidators } from '../protocol/conditions.js';
import { driveTarget, forget, header, lookup, send, sendXml, type DavRequest } from '../http/context.js';
import { ownerOf } from '../stores/property-store.js';
import { DavError, destinationRefusal, toDavError } from '../protocol/errors.js';
import { resourceAt, type DriveTarget } from '../http/mounts.js';
import { hrefFor, parseRequestTarget } from '../protocol/paths.js';
import { parseDepth } from '../protocol/views.js';
import { childPath, isAncestor, parentPath } from '../../util/drive-path.js';
import { checkMacMetadata, writeTargetChecks } from './write-checks.js';
import { escapeText } from '../protocol/xml.js';
import { replaceThroughAside } from './set-aside.js';

/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9). Within one mount the drive does the work server-side.
 * An existing destination with `Overwrite: T` ends up deleted as §9.8.4 asks, but only once the work
 * is done: the drive replaces it (file or folder) so that a failure leaves it in place
 * (drive/replace.ts), and work done here sets it aside the same way (set-aside.ts). Between mounts the
 * bytes are streamed through onedav item by item; members that fail are reported in a 207
 * multistatus, and a MOVE only deletes its source when every member arrived.
 */
export async function copyOrMove(ctx: DavRequest, kind: 'copy' | 'move'): Promise<void> {
  const source = driveTarget(ctx, kind === 'copy' ? 'Copying' : 'Moving');
  writeTargetChecks(ctx);
  if (kind === 'move' && source.isRoot) throw new DavError(403, 'The root of a mount cannot be moved.');
  const dest = destinationOf(ctx);
  if (dest.isRoot) throw new DavError(403, 'The root of a mount cannot be overwritten.');
  const overwrite = parseOverwrite(header(ctx.req, 'overwrite'));

  const entry = await lookup(ctx, source);
  if (!entry) throw new DavError(404, 'The source does not exist.');
  const depth = entry.isFolder && kind === 'move' ? parseDepth(header(ctx.req, 'depth'), 'infinity', ['infinity']) : parseDepth(header(ctx.req, 'depth'), 'infinity', ['0', 'infinity']);

  const sameMount = dest.mount === source.mount;
  // Names that differ only in case are one item only where the drive says so.
  const key = (path: string) => source.mount.names.pathKey(path);
  const sameKey = sameMount && key(source.path) === key(dest.path);
  const caseRename = sameKey && kind === 'move' && source.path !== dest.path;
  if (sameKey && !caseRename) throw new DavError(403, 'The source and the destination are the same.');
  if (sameMount && isAncestor(key(source.path), key(dest.path))) throw new DavError(403, 'A folder cannot be copied or moved into itself.');
  // Replacing a folder that holds the source would delete the source before it is copied or moved.
  if (sameMount && isAncestor(key(dest.path), key(source.path))) throw new DavError(403, 'The destination is a folder that contains the source; copy or move to another place.');
  if (!entry.isFolder) checkMacMetadata(ctx, dest.url[dest.url.length - 1]);

  await checkIfHeader(ctx, source);
  checkWriteValidators(ctx, entry);
  const destEntry = caseRename ? null : await lookup(ctx, dest);
  // A missing destination folder is the drive's parentMissing (409), raised before it changes anything.
  const destParent = parentPath(dest.path);
  if (destEntry && !overwrite) throw new DavError(412, 'The destination exists and Overwrite is F.');
  if (kind === 'move') await checkLocks(ctx, source, { within: [source.path], members: [parentPath(source.path)] });
  await checkLocks(ctx, dest, { covering: [dest.path], within: destEntry ? [dest.path] : [], members: [destParent] });

  const owner = ownerOf(ctx.principal);
  const from = resourceAt(source.mount, source.path, entry);
  const replaced = resourceAt(dest.mount, dest.path, destEntry ?? undefined);
  const copyOptions = { user: owner, depth0: depth === '0' };
  // A copy duplicates dead properties: refuse it before any drive work if they would not fit.
  const noRoom = kind === 'copy' ? await ctx.state.properties.copyProblem(from, replaced, copyOptions) : undefined;
  if (noRoom) throw new DavError(507, noRoom);

  const failures: Failure[] = [];
  let keptAside: string | undefined;
  /** The item now at the destination, when the drive said: the copy's records are tied to its id. */
  let placed: DriveEntry | undefined;
  try {
    // A drive without server-side copy gets its copies streamed through, as between mounts.
    if (sameMount && (kind === 'move' || source.mount.drive.capabilities.serverSideCopy)) {
      const drive = source.mount.drive;
      const overwrite = destEntry !== null;
      if (kind === 'copy' && entry.isFolder && depth === '0') {
        await replaceThroughAside(drive, dest.path, destEntry, async () => ((placed = await drive.mkdir(dest.path)), true), ctx.state.logger);
      } else if (kind === 'copy') placed = await drive.copy(source.path, dest.path, { overwrite });
      else placed = await drive.move(source.path, dest.path, { overwrite });
    } else {
      keptAside = await replaceThroughAside(
        dest.mount.drive,
        dest.path,
        destEntry,
        async () => {
          placed = await streamTree(ctx, source, source.path, entry, dest, dest.path, dest.url, depth === 'infinity', failures, true);
          return failures.length === 0;
        },
        ctx.state.logger,
      );
      if (kind === 'move' && failures.length === 0) await source.mount.drive.remove(source.path);
    }
  } catch (err) {
    throw destinationRefusal(err);
  }
  forget(ctx, source);
  forget(ctx, dest);

  const { locks, properties } = ctx.state;
  const to = resourceAt(dest.mount, dest.path, placed);
  const moved = kind === 'move' && failures.length === 0;
  // The source's locks go (before the destination's kept locks are tied to the moved item, which has the source's id).
  if (moved) await locks.removeWithin(from);
  if (destEntry) {
    // Locks on the destination URL stay, on the item now there; what was below it, and the replaced item's properties, go.
    await locks.removeWithin(replaced, { keepRoot: true, rootIdNow: placed?.id });
    if (placed?.id !== destEntry.id) await properties.removeTree(replaced);
  }
  if (moved) {
    await properties.move(from, to);
  } else {
    const copied = await properties.copy(from, to, copyOptions);
    // Another request used up the room since the check above: the bytes are copied, their dead properties are not.
    if (!copied.ok && failures.length === 0) throw new DavError(507, `The copy was made without its dead properties. ${copied.message}`);
  }

  if (failures.length > 0) {
    const responses = failures.map((f) => `<D:response><D:href>${escapeText(f.href)}</D:href><D:status>HTTP/1.1 ${f.status} ${STATUS_CODES[f.status] ?? ''}</D:status><D:responsedescription>${escapeText(f.reason)}</D:responsedescription></D:response>`);
    const kept = keptAside ? `<D:responsedescription>${escapeText(`What was at the destination before is kept beside it as "${keptAside}"; delete it once it is not needed.`)}</D:responsedescription>` : '';
    return sendXml(ctx.res, 207, `<D:multistatus xmlns:D="DAV:">${responses.join('')}${kept}</D:multistatus>`);
  }
  send(ctx.res, destEntry ? 204 : 201);
}

interface Failure {
  href: string;
  status: number;
  reason: string;
}

/** Copies one item (and, for folders with `deep`, everything below) from one drive to another. */
async function streamTree(
  ctx: DavRequest,
  from: DriveTarget,
  fromPath: string,
  entry: DriveEntry,
  to: DriveTarget,
  toPath: string,
  toUrl: string[],
  deep: boolean,
  failures: Failure[],
  top: boolean,
): Promise<DriveEntry | undefined> {
  let made: DriveEntry;
  try {
    if (entry.isFolder) {
      made = await to.mount.drive.mkdir(toPath);
    } else {
      const source = await from.mount.drive.read(fromPath);
      try {
        made = await to.mount.drive.write(toPath, source.body, { size: entry.size, mtime: entry.modified, signal: ctx.signal });
      } catch (err) {
        // Refused before or while reading (a missing destination folder is refused before): let go of the download.
        source.body.on('error', () => {});
        source.body.destroy();
        throw err;
      }
    }
  } catch (err) {
    if (top) throw err;
    const mapped = destinationRefusal(err);
    failures.push({ href: hrefFor(toUrl, entry.isFolder), status: mapped.status, reason: mapped.message });
    return undefined;
  }
  if (!entry.isFolder || !deep) return made;
  let children: DriveEntry[];
  try {
    children = await from.mount.drive.list(fromPath);
  } catch (err) {
    const mapped = toDavError(err);
    failures.push({ href: hrefFor(toUrl, true), status: mapped.status, reason: mapped.message });
    return made;
  }
  for (const child of children) {
    await streamTree(ctx, from, childPath(fromPath, child.name), child, to, childPath(toPath, child.name), [...toUrl, child.name], true, failures, false);
  }
  return made;
}

function destinationOf(ctx: DavRequest): DriveTarget {
  const value = header(ctx.req, 'destination');
  if (!value) throw new DavError(400, 'COPY and MOVE need a Destination header.');
  const hostMatch = /^[a-z][a-z0-9+.-]*:\/\/([^/]+)/i.exec(value);
  if (!hostMatch && /^[a-z][a-z0-9+.-]*:/i.test(value)) throw new DavError(400, 'The Destination header is not a URL with a host, nor a path starting with "/".');
  if (hostMatch && !/^https?:/i.test(value)) throw new DavError(502, 'The destination is on another server.');
  if (hostMatch) {
    const host = header(ctx.req, 'host');
    if (host && sameServer(hostMatch[1], host) === false) {
      throw new DavError(502, 'The destination is on another server.');
    }
  }
  const path = parseRequestTarget(value);
  let resolved;
  try {
    resolved = ctx.state.mounts.resolve(path.segments, ctx.principal);
  } catch {
    throw new DavError(409, 'Nothing is mounted at the destination.');
  }
  if (resolved.kind !== 'drive') throw new DavError(403, 'The destination is a folder that lists the mounted drives; nothing can be written there.');
  return resolved;
}

/**
 * Whether a Destination authority names this server. Default ports are dropped on both sides:
 * behind a TLS proxy the Host may say `dav.example.com` while a client writes `…:443` (or the
 * reverse), and the scheme differs anyway (https outside, http inside).
 */
function sameServer(authority: string, host: string): boolean {
  const norm = (value: string) => value.replace(/^[^@]*@/, '').toLowerCase().replace(/:(80|443)$/, '');
  return norm(authority) === norm(host);
}

function parseOverwrite(value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.trim().toUpperCase();
  if (v === 'T') return true;
  if (v === 'F') return false;
  throw new DavError(400, 'Overwrite must be T or F.');
}
