import { send, type DavRequest } from '../http/context.js';

/**
 * WebDAV classes: 1 (RFC 4918 core), 2 (LOCK/UNLOCK) and 3 (the RFC 4918 revisions of RFC 2518:
 * LOCK on an unmapped URL creates an empty resource instead of a lock-null one, `If` header
 * semantics of §10.4, `propfind-finite-depth`, quota not in allprop).
 */
export const DAV_CLASSES = '1, 2, 3';

/**
 * What OPTIONS advertises to a principal who can never write, not even by logging in (a read-only
 * user; an anonymous read-only visitor when no users exist): no class 2, since LOCK is refused to
 * them. macOS Finder mounts a server without class 2 read-only (apple-oss-distributions/webdavfs
 * mount.tproj/webdav_network.c, network_mount/ParseDAVLevel: DAV level 1 → MNT_RDONLY), so such a
 * user sees a read-only volume instead of a writable one whose every change fails.
 */
export const READ_ONLY_DAV_CLASSES = '1, 3';

export const ALLOWED_METHODS = 'OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK';

export async function options(ctx: DavRequest): Promise<void> {
  const { principal, state } = ctx;
  const canNeverWrite = principal.readOnly && !(principal.anonymous && state.auth.hasUsers);
  if (canNeverWrite) ctx.res.setHeader('DAV', READ_ONLY_DAV_CLASSES);
  send(ctx.res, 200, { Allow: ALLOWED_METHODS, 'Accept-Ranges': 'bytes' });
}
