import { pipeline } from 'node:stream/promises';
import { isDriveError, type DriveEntry } from '../../drive/index.js';
import { checkIfHeader, readValidators } from '../protocol/conditions.js';
import { header, lookup, send, type DavRequest } from '../http/context.js';
import { shouldRedirect } from '../http/download-mode.js';
import { DavError } from '../protocol/errors.js';
import { LISTING_STYLE, renderListing, type ListingRow } from '../http/listing.js';
import { fileContentHeaders, pageHeaders } from '../http/security-headers.js';
import { contentTypeFor } from '../http/mime.js';
import { MOUNT_NAMES, type DriveTarget } from '../http/mounts.js';
import { hrefFor } from '../protocol/paths.js';
import { entityTag, httpDate } from '../protocol/properties.js';
import { decideRange } from '../protocol/range.js';

/**
 * GET and HEAD. Files: 302 to the drive's pre-authenticated download URL, or the bytes streamed
 * through (Range passed on, never buffered), per the mount's download mode (see download-mode.ts). HEAD and
 * conditional requests (304/412) are answered from metadata without touching the download URL.
 * Folders: a small HTML listing.
 */
export async function get(ctx: DavRequest): Promise<void> {
  const { target } = ctx;
  if (target.kind === 'virtual') {
    const rows = target.children.map((name) => ({ name, href: hrefFor([...target.url, name], true), isCollection: true }));
    return sendListing(ctx, target.url, rows);
  }
  const entry = await lookup(ctx, target);
  if (!entry) throw new DavError(404, 'Not found.');
  await checkIfHeader(ctx, target);
  if (entry.isFolder) return getFolder(ctx, target);
  return getFile(ctx, target, entry);
}

async function getFolder(ctx: DavRequest, target: DriveTarget): Promise<void> {
  const mounted = ctx.state.mounts.childMounts(target.url);
  const rows: ListingRow[] = (await target.mount.drive.list(target.path))
    .filter((child) => !mounted.some((m) => MOUNT_NAMES.sameName(m, child.name)))
    .map((child) => ({
      name: child.name,
      href: hrefFor([...target.url, child.name], child.isFolder),
      isCollection: child.isFolder,
      size: child.isFolder ? undefined : child.size,
      modified: child.modified,
    }));
  for (const name of mounted) rows.push({ name, href: hrefFor([...target.url, name], true), isCollection: true });
  return sendListing(ctx, target.url, rows);
}

function sendListing(ctx: DavRequest, url: string[], rows: ListingRow[]): void {
  const title = url.length === 0 ? '/' : `/${url.join('/')}/`;
  const parent = url.length > 0 ? hrefFor(url.slice(0, -1), true) : undefined;
  const crumbs = [{ name: ctx.state.realm, href: '/' }, ...url.map((name, i) => ({ name, href: hrefFor(url.slice(0, i + 1), true) }))];
  send(ctx.res, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache', ...pageHeaders(LISTING_STYLE) }, renderListing(title, parent, rows, crumbs));
}

async function getFile(ctx: DavRequest, target: DriveTarget, entry: DriveEntry): Promise<void> {
  const { req, res, state } = ctx;
  const etag = entityTag(entry);
  const validators = { ETag: etag, 'Last-Modified': httpDate(entry.modified) };
  if (readValidators(ctx, entry) === 'not-modified') return send(res, 304, validators);

  const contentType = contentTypeFor(entry.name, entry.mimeType);
  // The bytes come from onedav's own origin on every path below (redirects excepted): see security-headers.ts.
  const common = { ...validators, 'Accept-Ranges': 'bytes', 'Content-Type': contentType, ...fileContentHeaders(contentType) };
  if (ctx.method === 'HEAD') {
    res.statusCode = 200;
    for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
    res.setHeader('Content-Length', entry.size);
    res.end();
    return;
  }

  let range = decideRange(header(req, 'range'), entry.size);
  const ifRange = header(req, 'if-range');
  if (range.kind !== 'full' && ifRange !== undefined && ifRange.trim() !== etag && ifRange.trim() !== validators['Last-Modified']) range = { kind: 'full' };
  if (range.kind === 'unsatisfiable') {
    return send(res, 416, { ...common, 'Content-Range': `bytes */${entry.size}`, 'Content-Type': 'text/plain; charset=utf-8' }, 'The requested range is not satisfiable.\n');
  }
  if (entry.size === 0) return send(res, 200, common, Buffer.alloc(0));

  const drive = target.mount.drive;
  if (drive.capabilities.downloadUrl && drive.downloadUrl && shouldRedirect(target.mount.downloadMode, header(req, 'user-agent'), !ctx.principal.anonymous)) {
    // Never older than the drive trusts a URL, so the client can still follow it.
    const { url } = await drive.downloadUrl(target.path);
    // The URL carries its own short-lived authorization: never cache it, never leak it as a referrer.
    return send(res, 302, { Location: url, 'Cache-Control': 'no-store, private', 'Referrer-Policy': 'no-referrer' });
  }

  let upstream;
  try {
    upstream = await drive.read(target.path, range.kind === 'partial' ? { start: range.start, end: range.end } : undefined);
  } catch (err) {
    // The file shrank since it was looked up.
    if (!isDriveError(err, 'rangeNotSatisfiable')) throw err;
    return send(res, 416, { ...common, 'Content-Range': `bytes */${entry.size}`, 'Content-Type': 'text/plain; charset=utf-8' }, 'The requested range is not satisfiable.\n');
  }
  res.statusCode = upstream.range ? 206 : 200;
  for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
  if (upstream.length !== undefined) res.setHeader('Content-Length', upstream.length);
  if (upstream.range) res.setHeader('Content-Range', `bytes ${upstream.range.start}-${upstream.range.end}/${upstream.range.total}`);
  try {
    await pipeline(upstream.body, res);
  } catch (err) {
    // Headers are gone; the only honest signal left is a cut connection.
    if (!res.destroyed) res.destroy(err as Error);
    if (!ctx.signal.aborted) state.logger.warn('download stream failed midway', { path: target.path, error: err as Error });
  }
}
