/**
 * What went wrong, in the seam's own words: every `RemoteDrive` method fails with a `DriveError`
 * whose `kind` says what happened to the caller's request, not which HTTP answer some backend got.
 * A backend translates its own failures into these once, at its edge (GraphDrive: graph-errors.ts);
 * `dav/errors.ts` maps each kind to one WebDAV status.
 */
export type DriveErrorKind =
  /** Nothing at the path (or the source of a move/copy). */
  | 'notFound'
  /** The folder that should hold the new item is missing or is a file. */
  | 'parentMissing'
  /** Something is already at the destination and the operation may not replace it. */
  | 'exists'
  /** A folder is where a file is needed (reading one's bytes, replacing it with a file). */
  | 'isFolder'
  /** A file is where a folder is needed (listing it). */
  | 'notFolder'
  /** The drive refuses this item or operation (permissions, the drive root). */
  | 'forbidden'
  /** The name or path breaks the drive's naming rules; the message names the rule. */
  | 'invalidName'
  /** The request itself was unusable (a body shorter than declared, arguments the drive refuses). */
  | 'badRequest'
  /** The item changed since it was read: an ifMatch/ifNoneMatch precondition failed. */
  | 'changed'
  /** The requested byte range lies outside the file. */
  | 'rangeNotSatisfiable'
  /** The drive is full. */
  | 'noSpace'
  /** The drive (or this item) is busy or throttling; try again after `retryAfter` seconds. */
  | 'busy'
  /** The server's own credentials for the drive are gone; an operator must sign in again. */
  | 'signInNeeded'
  /** The drive could not be reached (connection refused, reset). */
  | 'unreachable'
  /** The drive did not answer in time. */
  | 'timedOut'
  /** The drive stored something other than what was sent; the message says what was done about it. */
  | 'corrupted'
  /** This drive cannot do that. */
  | 'notSupported'
  /** The caller went away and the operation was cancelled. */
  | 'aborted'
  /** The drive failed in a way none of the above describes; the message says how. */
  | 'upstream';

export class DriveError extends Error {
  constructor(
    readonly kind: DriveErrorKind,
    message: string,
    readonly extra: {
      /** Seconds to wait before retrying (`busy`). */
      retryAfter?: number;
      /** The backend's own error, for the log; never shown to WebDAV clients. */
      cause?: unknown;
    } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'DriveError';
  }

  get retryAfter(): number | undefined {
    return this.extra.retryAfter;
  }
}

export function isDriveError(err: unknown, kind?: DriveErrorKind): err is DriveError {
  return err instanceof DriveError && (kind === undefined || err.kind === kind);
}
