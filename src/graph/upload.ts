import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ChunkReader, FileChunks, type FragmentSource } from './chunk-reader.js';
import type { ConflictBehavior, DriveApi, ItemRef } from './drive-api.js';
import { ABORTED, GraphError } from './errors.js';
import { fragmentBuffers } from './fragment-buffers.js';
import type { DriveItem } from './items.js';
import { QuickXorHash } from './quickxorhash.js';

/** Graph wants every fragment but the last to be a multiple of 320 KiB. */
export const FRAGMENT_UNIT = 327_680;
/** Graph's ceiling for one fragment. */
export const MAX_FRAGMENT_SIZE = 60 * 1024 * 1024;
/** Graph's ceiling for a simple PUT …/content. */
export const SIMPLE_UPLOAD_MAX = 4 * 1024 * 1024;
export const DEFAULT_FRAGMENT_SIZE = 32 * FRAGMENT_UNIT; // 10 MiB

export interface UploadOptions {
  /** Declared length; absent for chunked bodies (then the body is spooled to a temp file first). */
  size?: number;
  mtime?: Date;
  ifMatch?: string;
  /** `*`: create only (conflictBehavior fail). */
  ifNoneMatch?: string;
  signal?: AbortSignal;
  /** Bytes per fragment: a positive multiple of 327,680, at most 60 MiB (default 10 MiB). */
  fragmentSize?: number;
  /** Up to this many bytes go in one PUT …/content (default and maximum 4 MiB). */
  simpleMax?: number;
  /** Where chunked bodies larger than simpleMax are spooled (default: the OS temp dir). */
  spoolDir?: string;
}

/** Throws unless `size` is a fragment size Graph accepts. */
export function validateFragmentSize(size: number): number {
  if (!Number.isInteger(size) || size <= 0 || size % FRAGMENT_UNIT !== 0 || size > MAX_FRAGMENT_SIZE) {
    throw new RangeError(
      `Upload fragment size ${size} is invalid: use a positive multiple of ${FRAGMENT_UNIT} bytes (320 KiB) up to ${MAX_FRAGMENT_SIZE}, e.g. ${DEFAULT_FRAGMENT_SIZE}.`,
    );
  }
  return size;
}

/** The fragments of a `total`-byte upload: `[start, length]` pairs, all full-size but the last. */
export function planFragments(total: number, fragmentSize: number): Array<[start: number, length: number]> {
  validateFragmentSize(fragmentSize);
  const plan: Array<[number, number]> = [];
  for (let start = 0; start < total; start += fragmentSize) plan.push([start, Math.min(fragmentSize, total - start)]);
  return plan;
}

/** `Content-Range` of a fragment: `bytes 0-327679/1000000`. */
export function contentRange(start: number, length: number, total: number): string {
  return `bytes ${start}-${start + length - 1}/${total}`;
}

/** The first missing byte from an upload session's `nextExpectedRanges` (`["12345-"]`, `["0-99", "200-"]`). */
export function nextExpectedStart(ranges: string[] | undefined): number | undefined {
  if (!ranges || ranges.length === 0) return undefined;
  let lowest: number | undefined;
  for (const range of ranges) {
    const start = Number(range.split('-')[0]);
    if (Number.isFinite(start) && (lowest === undefined || start < lowest)) lowest = start;
  }
  return lowest;
}

/**
 * Uploads a body to `path` (replacing any file there): a simple PUT up to `simpleMax` bytes,
 * an upload session beyond. Chunked bodies (no size) are held in memory up to `simpleMax`, and
 * spooled to a temp file beyond, because Graph needs the total size in every fragment's
 * Content-Range. The QuickXorHash of what we sent is checked against what Graph stored.
 */
export async function uploadFile(api: DriveApi, target: ItemRef, body: Readable, options: UploadOptions = {}): Promise<DriveItem> {
  const simpleMax = Math.min(options.simpleMax ?? SIMPLE_UPLOAD_MAX, SIMPLE_UPLOAD_MAX);
  const fragmentSize = validateFragmentSize(options.fragmentSize ?? DEFAULT_FRAGMENT_SIZE);
  const reader = new ChunkReader(body);
  try {
    return await uploadBody(api, target, reader, options, simpleMax, fragmentSize);
  } catch (err) {
    if (options.signal?.aborted && !(err instanceof GraphError && err.code === ABORTED)) {
      throw new GraphError(0, ABORTED, 'The upload was aborted; the previous file is unchanged.');
    }
    throw err;
  } finally {
    reader.release();
  }
}

async function uploadBody(api: DriveApi, target: ItemRef, reader: ChunkReader, options: UploadOptions, simpleMax: number, fragmentSize: number): Promise<DriveItem> {
  {
    if (options.size !== undefined) {
      if (options.size <= simpleMax && !(options.mtime && options.size > 0)) {
        const data = await reader.read(options.size, options.signal);
        await expectEnd(reader, options.size, data.length, options.signal);
        return await simpleUploadChecked(api, target, data, options);
      }
      return await uploadViaSession(api, target, reader, options.size, { ...options, fragmentSize });
    }
    // Unknown length: small bodies stay in memory, larger ones go to disk first.
    const head = await reader.read(simpleMax + 1, options.signal);
    if (head.length <= simpleMax && !(options.mtime && head.length > 0)) return await simpleUploadChecked(api, target, head, options);
    const spool = await spoolToFile(head, reader, options.spoolDir ?? tmpdir(), options.signal);
    try {
      const file = await open(spool.path, 'r');
      try {
        return await uploadViaSession(api, target, new FileChunks(file, spool.size), spool.size, { ...options, fragmentSize });
      } finally {
        await file.close();
      }
    } finally {
      await rm(spool.path, { force: true });
    }
  }
}

async function expectEnd(reader: ChunkReader, declared: number, got: number, signal?: AbortSignal): Promise<void> {
  if (got < declared) throw sizeMismatch(`The body ended after ${got} of the ${declared} declared bytes; nothing was stored.`);
  if (!(await reader.atEnd(signal))) throw sizeMismatch(`The body is longer than the ${declared} declared bytes; nothing was stored.`);
}

function sizeMismatch(message: string): GraphError {
  return new GraphError(400, 'sizeMismatch', message);
}

function conflictOf(options: UploadOptions): ConflictBehavior {
  return options.ifNoneMatch === '*' ? 'fail' : 'replace';
}

async function simpleUploadChecked(api: DriveApi, target: ItemRef, data: Buffer, options: UploadOptions): Promise<DriveItem> {
  const sent = new QuickXorHash().update(data).digestBase64();
  let item = await api.simpleUpload(target, data, { ifMatch: options.ifMatch, conflictBehavior: conflictOf(options), signal: options.signal });
  await verifyHash(api, item, sent, data.length);
  if (options.mtime) item = await api.update({ id: item.id }, { lastModified: options.mtime }, { signal: options.signal });
  return item;
}

const SPOOL_FILE = /^onedav-upload-[0-9a-f-]+\.part$/;

/**
 * Removes spool files an earlier run left behind (it was killed mid-upload); returns how many.
 * Call it at start, before any upload: the files of running uploads look the same.
 */
export async function removeSpoolLeftovers(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((name) => SPOOL_FILE.test(name));
  await Promise.all(stale.map((name) => rm(join(dir, name), { force: true })));
  return stale.length;
}

/** Writes `head` then the rest of the reader to a private temp file; memory stays at one read chunk. */
async function spoolToFile(head: Buffer, reader: ChunkReader, dir: string, signal?: AbortSignal): Promise<{ path: string; size: number }> {
  const path = join(dir, `onedav-upload-${randomUUID()}.part`);
  // The configured spool folder (`<dataDir>/spool`) does not exist until the first large chunked upload.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const handle = await open(path, 'wx', 0o600);
  let size = 0;
  try {
    await handle.write(head);
    size += head.length;
    const buffer = Buffer.allocUnsafe(1024 * 1024); // reused: each chunk is on disk before the next read
    for (;;) {
      const chunk = await reader.readInto(buffer, buffer.length, signal);
      if (chunk.length === 0) break;
      await handle.write(chunk);
      size += chunk.length;
    }
  } catch (err) {
    await handle.close();
    await rm(path, { force: true });
    throw err;
  }
  await handle.close();
  return { path, size };
}

interface SessionOptions extends UploadOptions {
  fragmentSize: number;
}

/**
 * Streams `size` bytes from `reader` into a new upload session. Two fragment buffers are used in
 * turn (the one being sent, the next being read), so memory stays flat however large the file, and
 * come from a pool that outlives the upload (see fragment-buffers.ts). Fragments go to the
 * pre-authenticated uploadUrl without an Authorization header. A fragment that fails beyond the retry policy, or whose fate is
 * unknown, makes us ask the session for `nextExpectedRanges` and resume from there. Any failure or
 * abort deletes the session, so the file at `path` keeps its previous content.
 */
async function uploadViaSession(api: DriveApi, target: ItemRef, reader: FragmentSource, size: number, options: SessionOptions): Promise<DriveItem> {
  const { signal } = options;
  if (size === 0) throw sizeMismatch('An upload session cannot carry an empty file; use a simple upload.');
  const session = await api.createUploadSession(target, { mtime: options.mtime, ifMatch: options.ifMatch, conflictBehavior: conflictOf(options), signal });
  const uploadUrl = session.uploadUrl;
  const hash = new QuickXorHash();
  let committed = false;
  const finished = api.client.trackUploadSession();
  try {
    let offset = 0;
    const first = Math.min(options.fragmentSize, size);
    const buffers = [fragmentBuffers.take(options.fragmentSize)];
    if (size > first) buffers.push(fragmentBuffers.take(options.fragmentSize));
    let turn = 0;
    let current = await reader.readInto(buffers[turn], first, signal);
    let item: DriveItem | undefined;
    while (offset < size) {
      if (current.length === 0 || offset + current.length > size) throw sizeMismatch(`The body ended after ${offset + current.length} of the ${size} declared bytes; the upload was cancelled.`);
      const end = offset + current.length;
      const last = end === size;
      if (current.length < options.fragmentSize && !last) throw sizeMismatch(`The body ended after ${end} of the ${size} declared bytes; the upload was cancelled.`);
      hash.update(current);
      let next: Promise<Buffer> | undefined;
      if (last) {
        // The last fragment commits the file: make sure the body really ends here first.
        if (!(await reader.atEnd(signal))) throw sizeMismatch(`The body is longer than the ${size} declared bytes; the upload was cancelled.`);
      } else {
        next = reader.readInto(buffers[1 - turn], Math.min(options.fragmentSize, size - end), signal);
        next.catch(() => undefined); // observed below; avoid an unhandled rejection meanwhile
      }
      if (last) committed = true; // from here the outcome may be a stored file
      item = await sendFragment(api, uploadUrl, current, offset, size, target, hash, signal);
      offset = end;
      if (next) {
        current = await next;
        turn = 1 - turn;
      }
    }
    // Every fragment was answered and no read is pending: nothing touches the buffers any more.
    fragmentBuffers.give(buffers);
    if (!item) item = await api.getItem(target, { signal });
    await verifyHash(api, item, hash.digestBase64(), size);
    return item;
  } catch (err) {
    if (!committed || !(err instanceof GraphError && err.code === 'hashMismatch')) {
      await cancelSession(api, uploadUrl);
    }
    throw err;
  } finally {
    finished();
  }
}

/**
 * Whether a failed fragment PUT may have been (partly) received: then we ask the session. A 404
 * means the session is gone: committed by this very fragment (an attempt whose answer was lost, then
 * retried), or expired; the session's status tells which, never "the parent folder is missing".
 */
function isUncertain(err: unknown): boolean {
  if (!(err instanceof GraphError)) return false;
  if (err.code === ABORTED) return false;
  return err.status === 0 || err.status >= 500 || err.status === 416 || err.status === 409 || err.status === 404;
}

/**
 * PUTs one fragment; returns the driveItem when this fragment completed the upload. On an
 * uncertain failure, resumes from the session's next expected byte (at most a few times).
 */
async function sendFragment(
  api: DriveApi,
  uploadUrl: string,
  fragment: Buffer,
  offset: number,
  total: number,
  target: ItemRef,
  hash: QuickXorHash,
  signal?: AbortSignal,
): Promise<DriveItem | undefined> {
  const end = offset + fragment.length;
  let start = offset;
  for (let resumes = 0; ; resumes++) {
    let failure: unknown;
    try {
      const data = fragment.subarray(start - offset);
      const res = await api.client.request<DriveItem & { nextExpectedRanges?: string[] }>({
        method: 'PUT',
        path: uploadUrl,
        auth: false,
        body: data,
        headers: { 'content-range': contentRange(start, data.length, total), 'content-type': 'application/octet-stream' },
        route: 'PUT /upload-session/{token}',
        retry: 'idempotent',
        signal,
      });
      if (res.status === 200 || res.status === 201) return res.body;
      return undefined; // 202: accepted, more expected
    } catch (err) {
      if (!isUncertain(err) || resumes >= 4) throw err;
      failure = err;
    }
    // We don't know what the session got: ask it.
    let status: { nextExpectedRanges?: string[] } | undefined;
    try {
      status = (await api.client.request<{ nextExpectedRanges?: string[] }>({ method: 'GET', path: uploadUrl, auth: false, route: 'GET /upload-session/{token}', signal })).body;
    } catch (err) {
      if (err instanceof GraphError && err.isNotFound && end === total) {
        // The session is gone after the final fragment: the file was probably committed. Check it
        // (absent: the session expired before the commit, and a new file never came to be).
        const item = await api.getItem(target, { signal }).catch((e: unknown) => {
          if (e instanceof GraphError && e.isNotFound) return undefined;
          throw e;
        });
        if (item && item.size === total && item.file?.hashes?.quickXorHash === hash.digestBase64()) return item;
        // The commit itself was refused (a folder took the name meanwhile): say so, not "lost".
        if (failure instanceof GraphError && failure.code === 'nameAlreadyExists') throw failure;
      }
      if (err instanceof GraphError && err.isNotFound) {
        throw new GraphError(410, 'uploadSessionLost', 'The upload session expired or was lost mid-upload; the previous file is unchanged. Upload again.');
      }
      throw failure;
    }
    const next = nextExpectedStart(status?.nextExpectedRanges);
    if (next === undefined || next >= end) return undefined; // this fragment arrived whole
    if (next < offset) {
      throw new GraphError(409, 'uploadSessionLost', `The upload session lost bytes already sent (it expects byte ${next}, we are at ${offset}); upload again.`);
    }
    start = next;
  }
}

/**
 * Compares our QuickXorHash with the stored file's. On a mismatch the bad content must not stay:
 * if the item has an earlier version we restore it (the old file is back, as a new version);
 * otherwise (a new file) we delete it. Drives without the versions API get the item deleted,
 * which sends it to the recycle bin together with its history. Then `hashMismatch` is raised.
 */
async function verifyHash(api: DriveApi, item: DriveItem, sent: string, size: number): Promise<void> {
  let stored = item.file?.hashes?.quickXorHash;
  if (stored === undefined && item.id) {
    stored = (await api.getItem({ id: item.id })).file?.hashes?.quickXorHash;
  }
  if (stored === undefined || stored === sent) return; // nothing to compare with on this drive
  let remedy: string;
  try {
    const versions = await api.listVersions(item.id);
    if (versions.length >= 2) {
      await api.restoreVersion(item.id, versions[1].id);
      remedy = 'the previous version was restored';
    } else {
      await api.delete({ id: item.id });
      remedy = 'the new file was deleted';
    }
  } catch {
    try {
      await api.delete({ id: item.id });
      remedy = 'the file was moved to the recycle bin (with its version history)';
    } catch {
      remedy = 'removing the corrupted file failed too: delete or restore it by hand';
    }
  }
  throw new GraphError(
    502,
    'hashMismatch',
    `The stored file's QuickXorHash (${stored}) differs from the ${size} bytes sent (${sent}); ${remedy}. Upload again.`,
  );
}

/** DELETE on the upload URL, best effort: the session would expire anyway. */
async function cancelSession(api: DriveApi, uploadUrl: string): Promise<void> {
  try {
    await api.client.request({ method: 'DELETE', path: uploadUrl, auth: false, route: 'DELETE /upload-session/{token}', retry: 'idempotent' });
  } catch {
    // Expired or unreachable: Graph cleans it up after expirationDateTime.
  }
}
