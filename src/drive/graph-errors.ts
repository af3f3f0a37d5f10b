import { GraphError } from '../graph/errors.js';
import { DriveError } from './errors.js';

/** The RemoteDrive method that failed: the same Graph answer means different things per operation. */
export type DriveOperation = 'stat' | 'list' | 'downloadUrl' | 'read' | 'quota' | 'write' | 'mkdir' | 'move' | 'copy' | 'remove' | 'setModified';

/** Operations that create an item at a destination whose parent GraphDrive has already found. */
const CREATING = new Set<DriveOperation>(['write', 'mkdir', 'move', 'copy']);

const DEFAULT_RETRY_AFTER_SECONDS = 30;

/**
 * GraphDrive's edge: every failure leaving a GraphDrive method passes through here once, so no
 * GraphError reaches the WebDAV layer. Graph code (or status) → kind:
 * - itemNotFound / 404 → notFound; but after GraphDrive found the destination's parent (write,
 *   mkdir, move, copy) it means that parent went away meanwhile → parentMissing
 * - nameAlreadyExists / 409 → exists; uploadSessionBusy (one open upload session per file on
 *   business drives, OneDrive/onedrive-api-docs#747) → busy
 * - accessDenied / 403 → forbidden; quotaLimitReached, insufficientStorage / 507 → noSpace
 * - preconditionFailed, resourceModified / 412 → changed; 416 → rangeNotSatisfiable
 * - activityLimitReached / 429 / 503 / serviceNotAvailable → busy with Graph's Retry-After
 *   (https://learn.microsoft.com/en-us/graph/throttling)
 * - 401 → signInNeeded (the token refresher gave up); networkError → unreachable; timeout / 504 → timedOut
 * - hashMismatch → corrupted; invalidName → invalidName; sizeMismatch / invalidRequest / 400 → badRequest
 * - 501 / notSupported → notSupported; aborted → aborted; anything else → upstream
 */
export function driveErrorFromGraph(err: unknown, op: DriveOperation): unknown {
  if (!(err instanceof GraphError)) return err;
  const { status, code } = err;
  const make = (kind: DriveError['kind'], message: string, retryAfter?: number) => new DriveError(kind, message, { cause: err, retryAfter });
  const retryAfter = Math.max(1, Math.ceil(err.retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS));

  if (code === 'aborted') return make('aborted', 'The request was cancelled.');
  if (code === 'invalidName') return make('invalidName', err.message);
  if (code === 'sizeMismatch') return make('badRequest', `The body did not match its declared length: ${err.message}`);
  if (code === 'uploadSessionBusy') return make('busy', err.message, retryAfter);
  if (code === 'uploadSessionLost') return make('upstream', 'OneDrive lost the upload session; the previous file is unchanged. Upload again.');
  if (code === 'invalidResponse' || code === 'copyFailed') return make('upstream', `OneDrive answered unexpectedly: ${err.message}`);
  // The drive's message says what it did about the bad copy (restored the old version, or not).
  if (code === 'hashMismatch') return make('corrupted', `OneDrive stored different bytes than were sent (hash mismatch): ${err.message}`);
  if (code === 'notAFile') return make('isFolder', err.message);
  if (code === 'networkError') return make('unreachable', 'onedav could not reach OneDrive; try again shortly.');
  if (code === 'timeout') return make('timedOut', 'OneDrive did not answer in time; try again shortly.');
  if (err.isNotFound) {
    if (CREATING.has(op)) return make('parentMissing', 'The parent folder of the destination does not exist; create it first.');
    return make('notFound', err.message);
  }
  if (code === 'nameAlreadyExists' || status === 409) return make('exists', err.message);
  if (code === 'accessDenied' || status === 403) return make('forbidden', 'OneDrive denied access to this item.');
  if (code === 'quotaLimitReached' || code === 'insufficientStorage' || status === 507) return make('noSpace', 'The OneDrive is full; free some space and retry.');
  if (code === 'preconditionFailed' || code === 'resourceModified' || status === 412) return make('changed', 'The item changed since it was read (ETag mismatch).');
  if (status === 416) return make('rangeNotSatisfiable', 'The requested range is not satisfiable.');
  if (err.isThrottled || status === 503 || code === 'serviceNotAvailable') return make('busy', 'OneDrive is throttling requests.', retryAfter);
  if (status === 401) return make('signInNeeded', 'onedav is not signed in to OneDrive any more; the operator must run "onedav login".');
  if (status === 400 || code === 'invalidRequest' || code === 'nameInvalid') return make('badRequest', `OneDrive refused the request: ${err.message}`);
  if (status === 501 || code === 'notSupported') return make('notSupported', `OneDrive does not support this: ${err.message}`);
  if (status === 504) return make('timedOut', 'OneDrive did not answer in time; try again shortly.');
  return make('upstream', `OneDrive answered with an unexpected error (${status} ${code}); try again.`);
}
