import { send, type DavRequest } from '../http/context.js';

/**
 * WebDAV classes: 1 (RFC 4918 core), 2 (LOCK/UNLOCK) and 3 (the RFC 4918 revisions of RFC 2518:
 * LOCK on an unmapped URL creates an empty resource instead of a lock-null one, `If` header
 * semantics of §10.4, `propfind-finite-depth`, quota not in allprop).
 */
export const DAV_CLASSES = '1, 2, 3';

export const ALLOWED_METHODS = 'OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK';

export async function options(ctx: DavRequest): Promise<void> {
  send(ctx.res, 200, { Allow: ALLOWED_METHODS, 'Accept-Ranges': 'bytes' });
}
