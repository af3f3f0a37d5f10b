import type { Readable } from 'node:stream';

/**
 * The filesystem-shaped view of one drive that the WebDAV layer uses. Paths are drive-relative,
 * already normalised (`/`, `/a`, `/a/b.txt`: NFC, no trailing slash, no `.`/`..`).
 * Every method fails only with a `DriveError` (drive/errors.ts); the kinds each one may throw are
 * listed on it. Any method may also fail with the kinds that mean "the drive, not the request":
 * `busy` (with retryAfter), `signInNeeded`, `unreachable`, `timedOut`, `upstream`, `aborted`.
 */
export interface DriveEntry {
  id: string;
  path: string;
  name: string;
  isFolder: boolean;
  /** Bytes; 0 for folders. */
  size: number;
  created: Date;
  /** The file's own mtime (fileSystemInfo), what clients set and compare. */
  modified: Date;
  eTag: string;
  /**
   * Files: content tag, changes only when the bytes change. Folders: changes when the folder's
   * members change (drive/folder-tag.ts; Graph's folder eTag does not).
   */
  cTag?: string;
  mimeType?: string;
  quickXorHash?: string;
  sha1Hash?: string;
  childCount?: number;
}

export interface Quota {
  total: number;
  used: number;
  remaining: number;
}

export interface ReadResult {
  /** 200, 206 or 416, as the download URL answered. */
  status: number;
  headers: Record<string, string>;
  body: Readable;
}

export interface WriteOptions {
  /** Declared length (Content-Length); absent for chunked bodies. */
  size?: number;
  mtime?: Date;
  /** Only replace if the current eTag matches. */
  ifMatch?: string;
  /** `*`: only create. */
  ifNoneMatch?: string;
  /** Aborts the upload (client went away); the old file stays. */
  signal?: AbortSignal;
}

export interface RemoteDrive {
  /** Throws: notFound. */
  stat(path: string): Promise<DriveEntry>;
  /** Throws: notFound, notFolder. */
  list(path: string): Promise<DriveEntry[]>;
  /** A pre-authenticated URL for the file's bytes, valid until `expiresAt` (ms). Throws: notFound, isFolder. */
  downloadUrl(path: string): Promise<{ url: string; expiresAt: number; entry: DriveEntry }>;
  /** Streams the file (or a range of it). Throws: notFound, isFolder, rangeNotSatisfiable, forbidden. */
  read(path: string, headers?: { range?: string; ifRange?: string }): Promise<ReadResult>;
  /**
   * Creates or replaces a file. Throws: parentMissing, invalidName, exists (a folder is there),
   * changed (ifMatch/ifNoneMatch failed), badRequest (the body did not match `size`), noSpace,
   * corrupted (stored bytes differ; the message says what became of the old file), forbidden.
   */
  write(path: string, body: Readable, options?: WriteOptions): Promise<DriveEntry>;
  /** Throws: parentMissing, invalidName, exists, noSpace, forbidden. */
  mkdir(path: string): Promise<DriveEntry>;
  /**
   * Throws: notFound (the source), parentMissing (the destination's), invalidName, forbidden (the
   * root), exists (the destination, without `overwrite`, or a folder there).
   */
  move(from: string, to: string, options?: { overwrite?: boolean }): Promise<DriveEntry>;
  /** Throws as `move`, plus noSpace. */
  copy(from: string, to: string, options?: { overwrite?: boolean }): Promise<DriveEntry>;
  /** Throws: notFound, forbidden (the root, or refused by the drive). */
  remove(path: string): Promise<void>;
  /** Throws: notFound, forbidden. */
  setModified(path: string, mtime: Date): Promise<DriveEntry>;
  /** Throws only the drive-level kinds. */
  quota(): Promise<Quota>;
}
