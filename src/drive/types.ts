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
  /** The file's own mtime, what clients set and compare. */
  modified: Date;
  /**
   * The entity tag clients see (getetag, ETag), chosen by the drive: a quoted strong tag that
   * changes when a file's bytes change, or a folder's members; not when only its mtime or name does.
   */
  etag: string;
  /** Opaque; changes on every change to the item. What `WriteOptions.ifMatch` compares. */
  version: string;
  mimeType?: string;
}

export interface Quota {
  total: number;
  used: number;
  remaining: number;
}

/** Bytes `start` to `end` inclusive (to the end of the file when `end` is absent). */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface ReadBody {
  body: Readable;
  /** Bytes in `body`, when known. */
  length?: number;
  /** Present when `body` is part of the file: which bytes, of how many. */
  range?: { start: number; end: number; total: number };
}

/**
 * What a drive can do beyond the common methods (rclone's fs.Features in spirit); `dav/` acts on
 * these and never asks which backend it has.
 */
export interface DriveCapabilities {
  /** Names differing only in case are the same item (OneDrive, SharePoint). */
  caseInsensitive: boolean;
  /** `copy` is done inside the drive; without it, copies are streamed through the server. */
  serverSideCopy: boolean;
  /** `downloadUrl` gives a pre-authenticated URL a client can be redirected to. */
  downloadUrl: boolean;
  /** `quota` reports the drive's size and use (RFC 4331 properties). */
  quota: boolean;
  /** The drive learns of changes made elsewhere by polling (`pollChanges`), else by expiry. */
  changePolling: boolean;
}

export interface WriteOptions {
  /** Declared length (Content-Length); absent for chunked bodies. */
  size?: number;
  mtime?: Date;
  /** Only replace if the current item's `version` is this. */
  ifMatch?: string;
  /** `*`: only create. */
  ifNoneMatch?: string;
  /** Aborts the upload (client went away); the old file stays. */
  signal?: AbortSignal;
}

/** What is at a path and, for a folder, its children in pages as the drive gets them. */
export interface ItemWithChildren {
  entry: DriveEntry;
  /** Folders only. Iterating may fail with the kinds `list` throws, after some pages came. */
  children?: AsyncIterable<readonly DriveEntry[]>;
}

export interface RemoteDrive {
  readonly capabilities: DriveCapabilities;
  /** Throws: notFound. */
  stat(path: string): Promise<DriveEntry>;
  /** Throws: notFound, notFolder. */
  list(path: string): Promise<DriveEntry[]>;
  /**
   * `stat`, and for a folder its children as pages (a big folder is never held whole), in as few
   * calls as the drive can: what a PROPFIND Depth 1 needs. `collection`: the client addressed the
   * path as a folder (a trailing slash), so the drive may bet on one. Throws: notFound.
   */
  statWithChildren?(path: string, options?: { collection?: boolean }): Promise<ItemWithChildren>;
  /**
   * Where other processes serve the same drive (replicas): resolves once every change they wrote
   * and answered before this call is known here, so a request that follows a write through another
   * replica is not answered from a stale cache. Never rejects.
   */
  caughtUp?(): Promise<void>;
  /** Whether the drive knows, without asking anyone, that a folder is at `path` (a MKCOL there is answered 405 at once). */
  knowsFolder?(path: string): boolean;
  /**
   * With `capabilities.downloadUrl`: a pre-authenticated URL for the file's bytes, valid until
   * `expiresAt` (ms). Throws: notFound, isFolder.
   */
  downloadUrl?(path: string): Promise<{ url: string; expiresAt: number }>;
  /** Streams the file, or the bytes of `range`. Throws: notFound, isFolder, rangeNotSatisfiable, forbidden. */
  read(path: string, range?: ByteRange): Promise<ReadBody>;
  /**
   * Creates or replaces a file. The drive owns the parent check: parentMissing (the folder is absent
   * or a file) is thrown before any byte of `body` is read, so a client is refused before it sends
   * a large body. Throws also: invalidName, exists (a folder is there),
   * changed (ifMatch/ifNoneMatch failed), badRequest (the body did not match `size`), noSpace,
   * corrupted (stored bytes differ; the message says what became of the old file), forbidden.
   */
  write(path: string, body: Readable, options?: WriteOptions): Promise<DriveEntry>;
  /** Throws: parentMissing, invalidName, exists, noSpace, forbidden. */
  mkdir(path: string): Promise<DriveEntry>;
  /**
   * With `overwrite`, whatever is at `to` (a file, or a folder with everything in it) is replaced,
   * as if deleted first (RFC 4918 §9.9.4), but never lost on failure: if the move fails, the old
   * item is still at `to` (GraphDrive sets it aside and renames it back: drive/replace.ts), or, when
   * even that is refused, kept beside it under a `.onedav-aside-` name the error message gives.
   * Throws: notFound (the source), parentMissing (the destination's), invalidName, forbidden (the
   * root), exists (the destination, without `overwrite`).
   */
  move(from: string, to: string, options?: { overwrite?: boolean }): Promise<DriveEntry>;
  /** Replaces with `overwrite` as `move` does. Throws as `move`, plus noSpace. */
  copy(from: string, to: string, options?: { overwrite?: boolean }): Promise<DriveEntry>;
  /**
   * Deletes the item and everything below it. With `ifUnchanged`, only if its `version` and `etag`
   * are still these (for a folder the etag follows its members), else throws changed.
   * Throws: notFound, changed, forbidden (the root, or refused by the drive).
   */
  remove(path: string, options?: { ifUnchanged?: { version: string; etag: string } }): Promise<void>;
  /** Throws: notFound, forbidden. */
  setModified(path: string, mtime: Date): Promise<DriveEntry>;
  /** With `capabilities.quota`. Throws only the drive-level kinds. */
  quota?(): Promise<Quota>;
  /** With `capabilities.changePolling`: polls for changes made elsewhere once now; how many were seen. */
  pollChanges?(): Promise<number>;
}
