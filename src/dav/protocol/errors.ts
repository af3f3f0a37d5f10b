import { DriveError, type DriveErrorKind } from '../../drive/errors.js';
import { SharedStateUnavailableError } from '../../redis/errors.js';
import { DavPathError } from './paths.js';
import { XmlError, escapeText } from './xml.js';

/**
 * An error that already knows its WebDAV answer. Handlers throw these for protocol-level
 * refusals; everything else (DriveErrors, parse errors, bugs) goes through
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

/** Seconds a client is told to wait when the drive gave no Retry-After. */
const DEFAULT_RETRY_AFTER_SECONDS = 30;

/**
 * The one table from drive failures to WebDAV statuses, with no knowledge of the method: what an
 * error means for a MKCOL or a COPY (405, 412 on an existing destination) is decided by that
 * handler, before or around its drive call (RFC 4918 §9.3.1, §9.8.5).
 * `message` undefined: the drive's own message is the body.
 */
const BY_KIND: Record<DriveErrorKind, { status: number; message?: string }> = {
  notFound: { status: 404, message: 'Not found.' },
  // RFC 4918 §9.3.1, §9.7.1: a missing parent collection is 409 Conflict.
  parentMissing: { status: 409, message: 'The parent folder does not exist; create it first.' },
  exists: { status: 409 },
  isFolder: { status: 409 },
  notFolder: { status: 409 },
  forbidden: { status: 403 },
  invalidName: { status: 400 },
  badRequest: { status: 400 },
  changed: { status: 412, message: 'The item changed since it was read (ETag mismatch).' },
  rangeNotSatisfiable: { status: 416, message: 'The requested range is not satisfiable.' },
  // RFC 4918 §11.5.
  noSpace: { status: 507 },
  // Not 423 (no WebDAV lock is involved): clients retry a 503 after Retry-After.
  busy: { status: 503 },
  // The server's own sign-in is broken: the client can do nothing but wait for the operator.
  signInNeeded: { status: 503 },
  unreachable: { status: 502 },
  timedOut: { status: 504 },
  corrupted: { status: 502 },
  notSupported: { status: 501 },
  aborted: { status: 400, message: 'The request was cancelled.' },
  upstream: { status: 502 },
};

/**
 * Maps any failure to a DavError: DriveErrors by kind (BY_KIND), DavPathError and XmlError → 400,
 * SharedStateUnavailableError (Redis down) → 503 with Retry-After,
 * anything else → 500 (logged by the server, its detail never shown).
 */
export function toDavError(err: unknown): DavError {
  if (err instanceof DavError) return err;
  if (err instanceof DavPathError) return new DavError(400, err.message);
  if (err instanceof XmlError) return new DavError(400, `The XML request body is not acceptable: ${err.message}`);
  if (err instanceof DriveError) return fromDrive(err);
  // Locks and dead properties shared by replicas are out of reach: answering from what this replica
  // alone knows could grant a lock another replica also grants, so the client waits and retries.
  if (err instanceof SharedStateUnavailableError) {
    const seconds = Math.max(1, Math.ceil(err.retryAfter));
    return new DavError(503, `Shared state (locks, dead properties) is unavailable for a moment. Retry after ${seconds} seconds.`, { headers: { 'Retry-After': String(seconds) } });
  }
  return new DavError(500, 'Internal server error; see the onedav log for details.');
}

function fromDrive(err: DriveError): DavError {
  const { status, message } = BY_KIND[err.kind];
  if (err.kind === 'busy') {
    const seconds = Math.max(1, Math.ceil(err.retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS));
    return new DavError(status, `${err.message} Retry after ${seconds} seconds.`, { headers: { 'Retry-After': String(seconds) } });
  }
  if (err.kind === 'exists') return new DavError(status, `Conflict: ${err.message}`);
  return new DavError(status, message ?? err.message);
}

/**
 * A failure to create at a destination (COPY, MOVE, LOCK on an unmapped URL): something already
 * there is the precondition those methods state (RFC 4918 §9.8.5, §9.9.4: 412), not a conflict.
 */
export function destinationRefusal(err: unknown): DavError {
  if (err instanceof DriveError && err.kind === 'exists') return new DavError(412, 'The destination already exists (send "Overwrite: T" to replace it).');
  return toDavError(err);
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
