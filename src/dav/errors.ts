import { GraphError } from '../drive/index.js';
import { DavPathError } from './paths.js';
import { XmlError, escapeText } from './xml.js';

/**
 * An error that already knows its WebDAV answer. Handlers throw these for protocol-level
 * refusals; everything else (GraphErrors from the drive, parse errors, bugs) goes through
 * `toDavError`, the one place where failures become status codes.
 */
export class DavError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: {
      /** A DAV: precondition/postcondition element name for an RFC 4918 `<D:error>` body. */
      condition?: string;
      /** Inner XML of the condition element (e.g. `<D:href>…</D:href>` for lock-token-submitted). */
      conditionBody?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = 'DavError';
  }
}

/** What the failing request was doing: the same Graph error means different things per method. */
export type Operation = 'read' | 'write' | 'create' | 'mkcol' | 'delete' | 'copy' | 'move' | 'props' | 'lock';

const DEFAULT_RETRY_AFTER_SECONDS = 30;

/**
 * Maps any failure to a DavError. Table (Graph code or status → WebDAV):
 * - parentNotFound (the drive's own check) → 409
 * - invalidName (the drive's name rules) → 400 with the rule that was broken; sizeMismatch → 400
 * - itemNotFound / 404 → 404; but on create/mkcol/copy/move (source already checked) it means the
 *   destination's parent is missing → 409 Conflict (RFC 4918 §9.3.1, §9.7.1, §9.8.5, §9.9.4)
 * - nameAlreadyExists / 409 → MKCOL 405 (§9.3.1), COPY/MOVE/create 412 (Overwrite: F, §9.8.5), else 409
 * - accessDenied / 403 → 403
 * - quotaLimitReached, insufficientStorage / 507 → 507 (§11.5)
 * - invalidRequest / 400 (bad names) → 400 with Graph's reason in the body
 * - preconditionFailed, resourceModified / 412 → 412
 * - 416 → 416
 * - activityLimitReached, 429, 503 (throttled after the Graph client's retry budget) → 503 + Retry-After
 * - 401 (onedav's own sign-in is broken) → 503 telling the operator to sign in again
 * - networkError / timeout → 502 / 504
 * - uploadSessionBusy (the file already has an open upload session on OneDrive) → 503 + Retry-After
 * - replaceInterrupted (an overwrite failed and the old file could not be put back) → 502 naming where it is kept
 * - hashMismatch → 502: OneDrive stored bytes that differ from what was sent (not the client's
 *   fault, not ours); the body repeats what the drive did about it and says to upload again
 * - DavPathError, XmlError → 400; anything else → 500 (logged by the server)
 */
export function toDavError(err: unknown, op: Operation = 'read'): DavError {
  if (err instanceof DavError) return err;
  if (err instanceof DavPathError) return new DavError(400, err.message);
  if (err instanceof XmlError) return new DavError(400, `The XML request body is not acceptable: ${err.message}`);
  if (err instanceof GraphError) return fromGraph(err, op);
  return new DavError(500, 'Internal server error; see the onedav log for details.');
}

function fromGraph(err: GraphError, op: Operation): DavError {
  const { status, code } = err;
  if (code === 'parentNotFound') return new DavError(409, 'The parent folder does not exist; create it first.');
  if (code === 'invalidName') return new DavError(400, err.message);
  if (code === 'sizeMismatch') return new DavError(400, `The body did not match its declared length: ${err.message}`);
  if (code === 'uploadSessionBusy') {
    // Not 423: no WebDAV lock is involved, and clients retry a 503 after Retry-After.
    const seconds = Math.max(1, Math.ceil(err.retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS));
    return new DavError(503, `${err.message} Retry after ${seconds} seconds.`, { headers: { 'Retry-After': String(seconds) } });
  }
  if (code === 'uploadSessionLost') return new DavError(502, 'OneDrive lost the upload session; the previous file is unchanged. Upload again.');
  if (code === 'invalidResponse' || code === 'copyFailed') return new DavError(502, `OneDrive answered unexpectedly: ${err.message}`);
  if (code === 'hashMismatch') {
    // The drive's message says what it did about the bad copy (restored the old version, or not).
    return new DavError(502, `OneDrive stored different bytes than were sent (hash mismatch): ${err.message}`);
  }
  // The old destination could not be put back: the message says where it is kept (drive/replace.ts).
  if (code === 'replaceInterrupted') return new DavError(502, err.message);
  if (code === 'networkError') return new DavError(502, 'onedav could not reach OneDrive; try again shortly.');
  if (code === 'timeout') return new DavError(504, 'OneDrive did not answer in time; try again shortly.');
  if (code === 'itemNotFound' || status === 404) {
    if (op === 'create' || op === 'mkcol' || op === 'copy' || op === 'move') {
      return new DavError(409, 'The parent folder of the destination does not exist; create it first.');
    }
    return new DavError(404, 'Not found.');
  }
  if (code === 'nameAlreadyExists' || status === 409) {
    if (op === 'mkcol') return new DavError(405, 'Something already exists at this path.');
    if (op === 'copy' || op === 'move' || op === 'create') return new DavError(412, 'The destination already exists (send "Overwrite: T" to replace it).');
    return new DavError(409, `Conflict: ${err.message}`);
  }
  if (code === 'accessDenied' || status === 403) return new DavError(403, 'OneDrive denied access to this item.');
  if (code === 'quotaLimitReached' || code === 'insufficientStorage' || status === 507) {
    return new DavError(507, 'The OneDrive is full; free some space and retry.');
  }
  if (code === 'preconditionFailed' || code === 'resourceModified' || status === 412) {
    return new DavError(412, 'The item changed since it was read (ETag mismatch).');
  }
  if (status === 416) return new DavError(416, 'The requested range is not satisfiable.');
  if (code === 'activityLimitReached' || status === 429 || status === 503 || code === 'serviceNotAvailable') {
    const seconds = Math.max(1, Math.ceil(err.retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS));
    return new DavError(503, `OneDrive is throttling requests; retry after ${seconds} seconds.`, { headers: { 'Retry-After': String(seconds) } });
  }
  if (status === 401) return new DavError(503, 'onedav is not signed in to OneDrive any more; the operator must run "onedav login".');
  if (status === 400 || code === 'invalidRequest' || code === 'nameInvalid' || code === 'invalidName') {
    return new DavError(400, `OneDrive refused the request: ${err.message}`);
  }
  if (status === 501 || code === 'notSupported') return new DavError(501, `OneDrive does not support this: ${err.message}`);
  if (status === 504) return new DavError(504, 'OneDrive did not answer in time; try again shortly.');
  return new DavError(502, `OneDrive answered with an unexpected error (${status} ${code}); try again.`);
}

/** The response body for an error: an RFC 4918 `<D:error>` when there is a condition, else text. */
export function errorBody(err: DavError): { contentType: string; body: string } {
  if (err.extra.condition) {
    return {
      contentType: 'application/xml; charset=utf-8',
      body: `<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:${err.extra.condition}>${err.extra.conditionBody ?? ''}</D:${err.extra.condition}><D:responsedescription>${escapeText(err.message)}</D:responsedescription></D:error>\n`,
    };
  }
  return { contentType: 'text/plain; charset=utf-8', body: `${err.message}\n` };
}
