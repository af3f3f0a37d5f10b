import type { Readable } from 'node:stream';

/**
 * The filesystem-shaped view of one drive that the WebDAV layer uses. Paths are drive-relative,
 * already normalised (`/`, `/a`, `/a/b.txt`: NFC, no trailing slash, no `.`/`..`).
 * Failures are `GraphError`s (re-exported from `drive/`), mapped to WebDAV statuses in `dav/`.
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
  stat(path: string): Promise<DriveEntry>;
  list(path: string): Promise<DriveEntry[]>;
  /** A pre-authenticated URL for the file's bytes, valid until `expiresAt` (ms). */
  downloadUrl(path: string): Promise<{ url: string; expiresAt: number; entry: DriveEntry }>;
  /** Streams the file (or a range of it) from its download URL, re-fetching the URL if it expired. */
  read(path: string, headers?: { range?: string; ifRange?: string }): Promise<ReadResult>;
  write(path: string, body: Readable, options?: WriteOptions): Promise<DriveEntry>;
  mkdir(path: string): Promise<DriveEntry>;
  move(from: string, to: string, options?: { overwrite?: boolean }): Promise<DriveEntry>;
  copy(from: string, to: string, options?: { overwrite?: boolean }): Promise<DriveEntry>;
  remove(path: string): Promise<void>;
  setModified(path: string, mtime: Date): Promise<DriveEntry>;
  quota(): Promise<Quota>;
}
