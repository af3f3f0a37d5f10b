import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../util/logger.js';
import { ChunkReader, FileChunks, type FragmentSource } from './chunk-reader.js';
import type { ConflictBehavior, DriveApi, ItemRef } from './drive-api.js';
import { ABORTED, GraphError } from './errors.js';
import { fragmentBuffers } from './fragment-buffers.js';
import type { DriveItem, UploadSession } from './items.js';
import { QuickXorHash } from './quickxorhash.js';
import { isRewrittenBySharePoint } from './sharepoint-rewrites.js';
import type { SessionJournal } from './upload-journal.js';

/** Graph wants every fragment but the last to be a multiple of 320 KiB. */
export const FRAGMENT_UNIT = 327_680;
/** Graph's ceiling for one fragment. */
const MAX_FRAGMENT_SIZE = 60 * 1024 * 1024;
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
  /** Remembers the upload sessions opened, so a restart can cancel what a crash left open. */
  journal?: SessionJournal;
  /** Told (info) when SharePoint stored its own rewrite of an uploaded file. */
  logger?: Logger;
  /**
   * The upload's first call was answered 404 against the folder `target` names: that folder's id
   * may only have gone stale (another client replaced the folder). A fresh target to try once more
   * (no byte of the body is lost by then), or undefined when the folder is really gone.
   */
  parentGone?: () => Promise<ItemRef | undefined>;
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
  // A node:http body hands each chunk out once, as a fresh copy of what the socket read (the HTTP
  // parser's on_body makes a new Buffer per piece) that the stream drops after 'data': the reader may
  // free it as soon as it is copied into a fragment. Left to the garbage collector, these 64 KiB
  // chunks kept V8 in a loop of mark-compacts (see util/free-now.ts).
  const reader = new ChunkReader(body, { freeChunks: body instanceof IncomingMessage });
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

/** The upload's first call, once more against a fresh target when its folder's id was stale (UploadOptions.parentGone). */
async function firstCall<R>(target: ItemRef, options: UploadOptions, call: (target: ItemRef) => Promise<R>): Promise<{ answer: R; target: ItemRef }> {
  try {
    return { answer: await call(target), target };
  } catch (err) {
    const fresh = err instanceof GraphError && err.isNotFound && options.parentGone ? await options.parentGone() : undefined;
    if (!fresh) throw err;
    return { answer: await call(fresh), target: fresh };
  }
}

async function simpleUploadChecked(api: DriveApi, target: ItemRef, data: Buffer, options: UploadOptions): Promise<DriveItem> {
  const sent = new QuickXorHash().update(data).digestBase64();
  const {
    answer: { item, created },
  } = await firstCall(target, options, (to) => api.simpleUpload(to, data, { ifMatch: options.ifMatch, conflictBehavior: conflictOf(options), signal: options.signal }));
  await checkStored(api, { item, created, answered: true }, sent, data.length, options);
  if (options.mtime) return await api.update({ id: item.id }, { lastModified: options.mtime }, { signal: options.signal });
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
 * come from a pool that outlives the upload (see fragment-buffers.ts). Bytes are hashed as they are
 * read, while the previous fragment is on its way: the next fragment goes out as soon as Graph
 * answers, instead of after hashing 10 MiB (a gap that left Graph idle between fragments).
 * Fragments go to the pre-authenticated uploadUrl without an Authorization header. A fragment that fails beyond the retry policy, or whose fate is
 * unknown, makes us ask the session for `nextExpectedRanges` and resume from there. Any failure or
 * abort before the file is committed cancels the session (a refused commit keeps it open on
 * Graph's side otherwise), so the file at `path` keeps its previous content and no session is left.
 */
async function uploadViaSession(api: DriveApi, named: ItemRef, reader: FragmentSource, size: number, options: SessionOptions): Promise<DriveItem> {
  const { signal } = options;
  if (size === 0) throw sizeMismatch('An upload session cannot carry an empty file; use a simple upload.');
  const { session, target } = await openSession(api, named, options);
  const uploadUrl = session.uploadUrl;
  // Recorded before any byte goes out; a journal that cannot be written costs only the crash recovery.
  const journalId = await options.journal?.opened(uploadUrl, session.expirationDateTime).catch(() => undefined);
  const hash = new QuickXorHash();
  let commit: Committed | undefined;
  let sessionGone = false;
  const finished = api.trackUploadSession();
  try {
    let offset = 0;
    const first = Math.min(options.fragmentSize, size);
    const buffers = [fragmentBuffers.take(options.fragmentSize)];
    if (size > first) buffers.push(fragmentBuffers.take(options.fragmentSize));
    let turn = 0;
    const hashed = (chunk: Uint8Array) => hash.update(chunk); // the reads are in order, one at a time
    let current = await reader.readInto(buffers[turn], first, signal, hashed);
    while (offset < size) {
      if (current.length === 0 || offset + current.length > size) throw sizeMismatch(`The body ended after ${offset + current.length} of the ${size} declared bytes; the upload was cancelled.`);
      const end = offset + current.length;
      const last = end === size;
      if (current.length < options.fragmentSize && !last) throw sizeMismatch(`The body ended after ${end} of the ${size} declared bytes; the upload was cancelled.`);
      let next: Promise<Buffer> | undefined;
      if (last) {
        // The last fragment commits the file: make sure the body really ends here first.
        if (!(await reader.atEnd(signal))) throw sizeMismatch(`The body is longer than the ${size} declared bytes; the upload was cancelled.`);
      } else {
        next = reader.readInto(buffers[1 - turn], Math.min(options.fragmentSize, size - end), signal, hashed);
        next.catch(() => undefined); // observed below; avoid an unhandled rejection meanwhile
      }
      commit = await sendFragment(api, uploadUrl, current, offset, size, target, hash, signal);
      offset = end;
      if (next) {
        current = await next;
        turn = 1 - turn;
      }
    }
    // Every fragment was answered and no read is pending: nothing touches the buffers any more.
    fragmentBuffers.give(buffers);
    if (!commit) {
      throw new GraphError(502, 'invalidResponse', 'OneDrive took every byte of the upload but did not say the file was stored; look at the file before uploading again.');
    }
    sessionGone = true; // a committed session ends by itself
    await checkStored(api, commit, hash.digestBase64(), size, options);
    return commit.item;
  } catch (err) {
    if (!sessionGone) sessionGone = await api.cancelUploadSession(uploadUrl);
    throw err;
  } finally {
    // A session we could not cancel stays in the journal: the next start tries again.
    if (journalId && sessionGone) await options.journal!.closed(journalId).catch(() => undefined);
    finished();
  }
}

/** How long a client should wait when the file already has an open upload session (Graph does not say when it ends). */
const SESSION_BUSY_RETRY_AFTER_SEC = 30;

/**
 * createUploadSession, telling its 409 nameAlreadyExists apart: a folder (or OneNote notebook) at
 * the name, or a file when only creating, is a real conflict; otherwise, on OneDrive for Business and
 * SharePoint, the file already has an open upload session (OneDrive/onedrive-api-docs#747) — another
 * program's upload, or one of ours whose answer was lost — and Graph gives no way to reach it
 * (microsoftgraph/microsoft-graph-docs-contrib#412): say so, and when to try again.
 */
async function openSession(api: DriveApi, named: ItemRef, options: UploadOptions): Promise<{ session: UploadSession; target: ItemRef }> {
  let target = named;
  try {
    const opened = await firstCall(named, options, (to) => {
      target = to;
      return api.createUploadSession(to, { mtime: options.mtime, ifMatch: options.ifMatch, conflictBehavior: conflictOf(options), signal: options.signal });
    });
    return { session: opened.answer, target: opened.target };
  } catch (err) {
    if (!(err instanceof GraphError && err.code === 'nameAlreadyExists')) throw err;
    const current = await api.getItem(target, { signal: options.signal }).catch((e: unknown) => {
      if (e instanceof GraphError && e.isNotFound) return undefined;
      throw e;
    });
    if (current && (current.folder !== undefined || current.package !== undefined || conflictOf(options) === 'fail')) throw err;
    throw new GraphError(
      409,
      'uploadSessionBusy',
      'OneDrive already has an open upload session for this file (another program is uploading it, or an earlier attempt whose answer was lost) and refuses a second one until that session ends or expires; the file is unchanged.',
      SESSION_BUSY_RETRY_AFTER_SEC,
      err.requestId,
    );
  }
}

/** A file Graph stored: its driveItem, whether it is new (201), and whether that came in our own commit's answer. */
interface Committed {
  item: DriveItem;
  created: boolean;
  /** False when we found the item afterwards (the commit's answer was lost): then it is not ours to undo. */
  answered: boolean;
}

/**
 * Whether a failed fragment PUT may have been (partly) received: then we ask the session. A 404
 * means the session is gone: committed by this very fragment (an attempt whose answer was lost, then
 * retried), or expired; the session's status tells which, never "the parent folder is missing".
 */
function isUncertain(err: unknown): boolean {
  if (!(err instanceof GraphError)) return false;
  if (err.code === ABORTED) return false;
  // The commit was refused (quota, a name conflict): a definite answer, and the session is kept.
  if (err.status === 507 || err.code === 'nameAlreadyExists') return false;
  return err.status === 0 || err.status >= 500 || err.status === 416 || err.status === 409 || err.status === 404;
}

/**
 * SharePoint now and then answers 404 for a fragment of a live session; rclone waits 5 s and
 * tries again (rclone/rclone backend/onedrive/onedrive.go uploadFragment: "assuming eventual
 * consistency problem with session"). We wait these in turn before calling the session lost.
 */
const SESSION_NOT_FOUND_DELAYS_MS = [1_000, 2_000, 4_000, 8_000];

/**
 * PUTs one fragment; returns the stored file when this fragment completed the upload. On an
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
): Promise<Committed | undefined> {
  const end = offset + fragment.length;
  let start = offset;
  let resumes = 0;
  let notFounds = 0;
  for (;;) {
    let failure: unknown;
    try {
      const stored = await api.uploadFragment(uploadUrl, fragment.subarray(start - offset), { start, total }, signal);
      return stored ? { ...stored, answered: true } : undefined; // undefined: accepted, more expected
    } catch (err) {
      if (!isUncertain(err)) throw err;
      failure = err;
    }
    // We don't know what the session got: ask it.
    let status: { nextExpectedRanges?: string[] } | undefined;
    try {
      status = await api.uploadSessionStatus(uploadUrl, signal);
    } catch (err) {
      if (!(err instanceof GraphError && err.isNotFound)) throw failure;
      if (end === total) {
        // The session is gone after the final fragment: the file was probably committed. It is the
        // one we sent only if its content is ours byte for byte.
        const item = await api.getItem(target, { signal }).catch((e: unknown) => {
          if (e instanceof GraphError && e.isNotFound) return undefined;
          throw e;
        });
        if (item && item.size === total && item.file?.hashes?.quickXorHash === hash.digestBase64()) return { item, created: false, answered: false };
      }
      if (notFounds < SESSION_NOT_FOUND_DELAYS_MS.length) {
        await api.sleep(SESSION_NOT_FOUND_DELAYS_MS[notFounds++], signal);
        continue;
      }
      throw sessionLost();
    }
    if (resumes++ >= 4) {
      // A fragment the live session keeps answering 404 for would read as "parent folder missing".
      if (failure instanceof GraphError && failure.isNotFound) throw sessionLost();
      throw failure;
    }
    const next = nextExpectedStart(status?.nextExpectedRanges);
    if (next === undefined || next >= end) {
      // Nothing missing. Before the end that means this fragment arrived; at the end, that the
      // session holds the whole file but did not commit it (a refused commit keeps the session).
      if (end === total) throw failure;
      return undefined;
    }
    if (next < offset) {
      throw new GraphError(409, 'uploadSessionLost', `The upload session lost bytes already sent (it expects byte ${next}, we are at ${offset}); upload again.`);
    }
    start = next;
  }
}

function sessionLost(): GraphError {
  return new GraphError(410, 'uploadSessionLost', 'The upload session expired or was lost mid-upload; the previous file is unchanged. Upload again.');
}

/**
 * Compares our QuickXorHash with the stored file's. SharePoint-backed drives rewrite some files on
 * commit (see sharepoint-rewrites.ts): for those a difference is expected, logged, and the file kept.
 * Any other difference is corruption: the bad content must not stay, but onedav only undoes what it
 * can prove it wrote (see undoOwnWrite), and then raises `hashMismatch`.
 */
async function checkStored(api: DriveApi, commit: Committed, sent: string, size: number, options: UploadOptions): Promise<void> {
  const { item } = commit;
  let stored = item.file?.hashes?.quickXorHash;
  if (stored === undefined && item.id) {
    stored = (await api.getItem({ id: item.id })).file?.hashes?.quickXorHash;
  }
  if (stored === undefined || stored === sent) return; // nothing to compare with on this drive
  if (isRewrittenBySharePoint(item.name) && (await api.driveType().catch(() => undefined)) !== 'personal') {
    options.logger?.info('OneDrive stored its own rewrite of an uploaded file (SharePoint adds metadata to Office, PDF, HTML and JPEG files); kept as stored', {
      name: item.name,
      sentBytes: size,
      storedBytes: item.size,
      sentQuickXorHash: sent,
      storedQuickXorHash: stored,
    });
    return;
  }
  const remedy = await undoOwnWrite(api, commit);
  throw new GraphError(
    502,
    'hashMismatch',
    `The stored file's QuickXorHash (${stored}) differs from the ${size} bytes sent (${sent}); ${remedy}. Upload again.`,
  );
}

/**
 * Undoes a corrupted write, only where onedav can prove the file is still the one it wrote: the
 * item and eTag of its own commit's answer. A new file is deleted with If-Match on that eTag (Graph
 * refuses with 412 if anyone changed it since: https://learn.microsoft.com/en-us/graph/api/driveitem-delete).
 * For new content on an existing file, restoreVersion takes no condition, so we first check that our
 * eTag is still current, then restore the version before ours; a restore adds a version and removes
 * none, so even a write that slipped in between stays in the history. Anything else is left as is
 * and reported. Returns what was done, for the error message.
 */
async function undoOwnWrite(api: DriveApi, commit: Committed): Promise<string> {
  const { item, created, answered } = commit;
  const leftAlone = 'onedav cannot prove the stored file is still the one it wrote, so it was left as is';
  if (!answered || !item.eTag) return leftAlone;
  if (created) {
    try {
      await api.delete({ id: item.id }, { ifMatch: item.eTag });
      return 'the new file was deleted';
    } catch (err) {
      if (err instanceof GraphError && err.status === 412) return `the file changed after onedav wrote it; ${leftAlone}`;
      if (err instanceof GraphError && err.isNotFound) return 'the new file is gone already';
      return 'deleting the new file failed: delete it by hand';
    }
  }
  try {
    const current = await api.getItem({ id: item.id });
    if (current.eTag !== item.eTag) return `the file changed after onedav wrote it; ${leftAlone}`;
    const versions = await api.listVersions(item.id);
    if (versions.length < 2) return `no earlier version was found; ${leftAlone}`;
    await api.restoreVersion(item.id, versions[1].id);
    return 'the previous version was restored';
  } catch {
    return "restoring the previous version failed: it is still in the file's version history";
  }
}
