import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDriveError, type DriveEntry, type RemoteDrive } from '../../drive/index.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { BasicAuthenticator, Principal } from '../access/basic-auth.js';
import { DavError, errorBody } from '../protocol/errors.js';
import type { LockSystem } from '../stores/lock-system.js';
import type { DriveTarget, MountTable, Target } from './mounts.js';
import type { PropertyStore } from '../stores/property-store.js';
import type { RequestPath } from '../protocol/paths.js';

/** Everything a request handler may use; one per server. */
export interface DavServerState {
  mounts: MountTable;
  auth: BasicAuthenticator;
  locks: LockSystem;
  properties: PropertyStore;
  macMetadata: 'store' | 'refuse';
  realm: string;
  logger: Logger;
  clock: Clock;
}

/** One WebDAV request on its way through a handler. */
export interface DavRequest {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  principal: Principal;
  path: RequestPath;
  target: Target;
  state: DavServerState;
  /** Aborted when the client goes away before the response is complete. */
  signal: AbortSignal;
  /** Request-scoped memo of drive lookups: one stat per path per request. */
  entries: Map<string, Promise<DriveEntry | null>>;
}

/** The drive entry at `path`, or null when nothing is there; memoised for the request. */
export function lookup(ctx: DavRequest, target: DriveTarget, path = target.path): Promise<DriveEntry | null> {
  const key = `${target.mount.prefix}\0${path}`;
  let found = ctx.entries.get(key);
  if (!found) {
    found = statOrNull(target.mount.drive, path);
    ctx.entries.set(key, found);
  }
  return found;
}

/** What this request already looked up at `path`, if it did (no drive call). */
export function lookedUp(ctx: DavRequest, target: DriveTarget, path = target.path): Promise<DriveEntry | null> | undefined {
  return ctx.entries.get(`${target.mount.prefix}\0${path}`);
}

export function forget(ctx: DavRequest, target: DriveTarget, path = target.path): void {
  ctx.entries.delete(`${target.mount.prefix}\0${path}`);
}

export async function statOrNull(drive: RemoteDrive, path: string): Promise<DriveEntry | null> {
  try {
    return await drive.stat(path);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

export function isNotFound(err: unknown): boolean {
  return isDriveError(err, 'notFound');
}

/** The target as a drive target, or a 403/405 for the virtual folders above the mounts. */
export function driveTarget(ctx: DavRequest, what: string): DriveTarget {
  if (ctx.target.kind === 'drive') return ctx.target;
  throw new DavError(403, `${what} is not possible here: this folder only lists the mounted drives.`);
}

/**
 * Sends `100 Continue` to a client that waits for it only when the body is really read (a `data` or
 * `readable` listener is attached): whatever refuses first — the drive's parent check in
 * `RemoteDrive.write` — answers before the client sends a byte.
 */
export function continueWhenRead(ctx: DavRequest): void {
  const { req, res } = ctx;
  if (!/100-continue/i.test(header(req, 'expect') ?? '')) return;
  const onListener = (event: string | symbol) => {
    if (event !== 'data' && event !== 'readable') return;
    req.off('newListener', onListener);
    res.writeContinue();
  };
  req.on('newListener', onListener);
}

// ---------------------------------------------------------------------------------------------
// Request bodies and responses

/** One request header as a string (repeated headers joined with ", "). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

const MAX_XML_BODY = 1024 * 1024;

/** True when the request carries a body (Content-Length > 0 or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Reads a small (XML) request body, chunked or not; larger than 1 MiB → 413. */
export async function readSmallBody(ctx: DavRequest): Promise<Buffer> {
  const { req, res } = ctx;
  if (!hasBody(req)) return Buffer.alloc(0);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > MAX_XML_BODY) throw new DavError(413, 'The request body is too large for this method (limit 1 MiB).');
  if (/100-continue/i.test(String(req.headers.expect ?? ''))) res.writeContinue();
  // Not `for await`: leaving that loop early destroys the request, and with it the connection the
  // 413 must still be sent on (chunked bodies have no length to refuse up front).
  if (req.readableEnded) return Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_XML_BODY) done(new DavError(413, 'The request body is too large for this method (limit 1 MiB).'));
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error('The request body was cut off.'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Decodes a body as UTF-8, refusing invalid byte sequences. */
export function utf8(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new DavError(400, 'The request body is not valid UTF-8.');
  }
}

export function send(res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: string | Buffer): void {
  const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (status !== 204 && status !== 304) res.setHeader('Content-Length', payload ? payload.length : 0);
  res.end(res.req?.method === 'HEAD' ? undefined : payload);
}

export function sendXml(res: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}): void {
  send(res, status, { 'Content-Type': 'application/xml; charset=utf-8', ...headers }, `<?xml version="1.0" encoding="utf-8"?>\n${xml}`);
}

export function sendDavError(res: ServerResponse, err: DavError): void {
  const { contentType, body } = errorBody(err);
  send(res, err.status, { 'Content-Type': contentType, ...(err.extra.headers ?? {}) }, body);
}
