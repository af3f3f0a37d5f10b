import { checkIfHeader, checkLocks, checkWriteValidators } from '../protocol/conditions.js';
import { continueWhenRead, driveTarget, forget, header, lookup, send, type DavRequest } from '../http/context.js';
import { isDriveError } from '../../drive/index.js';
import { DavError } from '../protocol/errors.js';
import { entityTag } from '../protocol/properties.js';
import { checkMacMetadata, writeTargetChecks } from './write-checks.js';
import { parentPath } from '../../util/drive-path.js';

/**
 * PUT streams the request body into `drive.write` as it arrives: the drive pulls from the request
 * stream, so TCP backpressure reaches the client and nothing is buffered whole. If the client goes
 * away mid-body, the abort signal cancels the upload session and the old file stays.
 * Finder's chunked uploads announce their size in X-Expected-Entity-Length; rclone and ownCloud
 * clients send the mtime in X-OC-Mtime (seconds since the epoch).
 */
export async function put(ctx: DavRequest): Promise<void> {
  const target = driveTarget(ctx, 'Uploading');
  if (target.isRoot || ctx.path.trailingSlash) throw new DavError(405, 'PUT needs a file name; this URL names a folder.');
  writeTargetChecks(ctx);
  checkMacMetadata(ctx, target.url[target.url.length - 1]);
  if (header(ctx.req, 'content-range') !== undefined) throw new DavError(400, 'Partial PUT (Content-Range) is not supported; send the whole file.');

  const entry = await lookup(ctx, target);
  if (entry?.isFolder) throw new DavError(405, 'A folder exists at this path; PUT cannot replace a folder.');
  await checkIfHeader(ctx, target);
  checkWriteValidators(ctx, entry);
  // A missing parent folder is the drive's to refuse (parentMissing → 409), before it reads the body.
  await checkLocks(ctx, target, { covering: [target.path], members: entry ? [] : [parentPath(target.path)] });

  const size = declaredSize(ctx);
  const mtime = clientMtime(ctx);
  const ifMatch = header(ctx.req, 'if-match');
  continueWhenRead(ctx);
  const ifNoneMatch = header(ctx.req, 'if-none-match')?.trim() === '*' ? '*' : undefined;
  const written = await target.mount.drive
    .write(target.path, ctx.req, {
      size,
      mtime,
      ifMatch: entry && ifMatch !== undefined && ifMatch.trim() !== '*' ? entry.version : undefined,
      ifNoneMatch,
      signal: ctx.signal,
    })
    .catch(async (err: unknown) => {
      if (!ifNoneMatch && isDriveError(err, 'exists')) {
        // A replacing upload is refused for a folder that appeared while the body was on its way —
        // but say so only when a folder is really there.
        const now = await target.mount.drive.stat(target.path).catch(() => undefined);
        if (now?.isFolder) throw new DavError(405, 'A folder exists at this path; PUT cannot replace a folder.');
        throw new DavError(409, `The drive refused to store the file under this name: ${err.message}`);
      }
      throw err;
    });
  forget(ctx, target);
  const headers: Record<string, string> = { ETag: entityTag(written) };
  if (mtime) headers['X-OC-MTime'] = 'accepted';
  send(ctx.res, entry ? 204 : 201, headers);
}

/** OneDrive's largest file (250 GB): a longer declared body is refused before any Graph call. */
export const MAX_FILE_SIZE = 250 * 1024 ** 3;

function declaredSize(ctx: DavRequest): number | undefined {
  const length = header(ctx.req, 'content-length');
  let size: number | undefined;
  if (length !== undefined) {
    if (!/^\d+$/.test(length.trim())) throw new DavError(400, 'Content-Length is not a number.');
    size = Number(length);
  } else {
    const expected = header(ctx.req, 'x-expected-entity-length');
    if (expected !== undefined && /^\d+$/.test(expected.trim())) size = Number(expected);
  }
  if (size !== undefined && size > MAX_FILE_SIZE) throw new DavError(413, `The body is ${size} bytes; OneDrive stores files up to 250 GB.`);
  return size;
}

function clientMtime(ctx: DavRequest): Date | undefined {
  const value = header(ctx.req, 'x-oc-mtime');
  if (value === undefined) return undefined;
  const seconds = Number(value);
  // Up to the end of year 9999 (what file systems and OneDrive can store; beyond, Date is invalid).
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 253_402_300_799) throw new DavError(400, 'X-OC-Mtime must be seconds since 1970 (up to year 9999).');
  return new Date(Math.round(seconds * 1000));
}
