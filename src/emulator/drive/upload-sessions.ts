import { randomBytes } from 'node:crypto';
import { constants, open } from 'node:fs/promises';
import type { RequestContext, SharedState } from '../context.js';
import { EmulatorHttpError, sendJson } from '../request-io.js';
import { writeAll, type StoredBlob } from './blobs.js';
import { FRAGMENT_MULTIPLE, MAX_FRAGMENT, type ItemRecord } from './model.js';
import { enrichmentFor } from './enrichment.js';
import { profileOf, type DriveProfile } from './profile.js';
import { tagMatches } from './serialize.js';
import { notFound, type ConflictBehavior, type DriveStore, type FileTimes } from './store.js';

/** One resumable upload, as the emulator remembers it (persisted with the drives). */
export interface UploadSessionRecord {
  id: string;
  driveId: string;
  /** Replace this file's content (createUploadSession on an item id)… */
  itemId?: string;
  /** …or put a file at parent/names (path addressing; missing folders are created at commit). */
  parentId?: string;
  names?: string[];
  behavior: ConflictBehavior;
  ifMatch?: string;
  times: FileTimes;
  by?: string;
  /** How parent paths are spelled in the final driveItem. */
  pathPrefix: string;
  expiresAt: number;
  /** Declared by the first fragment (or `item.fileSize`). */
  total?: number;
  /** Received byte ranges, inclusive, sorted and merged. */
  received: Array<[number, number]>;
  tempPath: string;
  /** Sizes of the fragments accepted, in arrival order (tests assert 320 KiB alignment). */
  fragments: number[];
}

export interface FragmentLog {
  sessionId: string;
  name: string;
  fragments: number[];
  outcome: 'open' | 'committed' | 'failed' | 'cancelled' | 'expired';
  /** When createUploadSession made it (the emulator's clock); absent for a session restored from disk. */
  createdAt?: number;
}

export interface UploadHooks {
  /** Whether the bytes about to be committed should be damaged (hash-mismatch tests). */
  takeCorruption(size: number): boolean;
  /** Writes the driveItem response for a committed file. */
  respondWithItem(ctx: RequestContext, status: number, item: ItemRecord, pathPrefix: string): void;
}

/**
 * Upload sessions: `createUploadSession` hands out `/up/{id}`, a pre-authenticated URL taking
 * `Content-Range` fragments (multiples of 320 KiB except the last, at most 60 MiB each, any order,
 * no overlaps). Fragments are written straight into a temp file at their offsets, so nothing large
 * sits in memory; a fragment counts only once all its bytes arrived, so a connection reset leaves
 * the session as it was. The last byte commits the file with the session's conflictBehavior.
 */
export class UploadSessions {
  private readonly sessions = new Map<string, UploadSessionRecord>();
  private readonly inFlight = new Map<string, Array<[number, number]>>();
  private readonly log = new Map<string, FragmentLog>();

  constructor(
    private readonly shared: SharedState,
    private readonly store: DriveStore,
    private readonly hooks: UploadHooks,
  ) {}

  create(spec: Omit<UploadSessionRecord, 'id' | 'expiresAt' | 'received' | 'tempPath' | 'fragments'>): UploadSessionRecord {
    this.sweep();
    if (this.profile(spec.driveId).oneUploadSessionPerFile) {
      // OneDrive for Business / SharePoint tie a session to its file: a second one is refused, even
      // with conflictBehavior replace, until the first is committed, cancelled or expired.
      // OneDrive/onedrive-api-docs#747; message as in microsoftgraph/microsoft-graph-docs-contrib#6558
      const key = this.targetKey(spec);
      if ([...this.sessions.values()].some((open) => open.driveId === spec.driveId && this.targetKey(open) === key)) {
        throw new EmulatorHttpError(409, 'nameAlreadyExists', 'An upload session already exists for this file');
      }
    }
    const session: UploadSessionRecord = {
      ...spec,
      id: randomBytes(24).toString('base64url'),
      expiresAt: this.expiry(),
      received: [],
      tempPath: this.store.blobs.tempPath(),
      fragments: [],
    };
    this.sessions.set(session.id, session);
    this.log.set(session.id, { sessionId: session.id, name: this.targetName(session), fragments: session.fragments, outcome: 'open', createdAt: this.shared.clock.now() });
    this.store.dirty = true;
    return session;
  }

  describe(session: UploadSessionRecord): Record<string, unknown> {
    return {
      uploadUrl: `${this.shared.baseUrl}/up/${session.id}`,
      expirationDateTime: new Date(session.expiresAt).toISOString(),
      nextExpectedRanges: nextExpectedRanges(session),
    };
  }

  async handle(ctx: RequestContext): Promise<void> {
    const { req, res, method } = ctx;
    ctx.setRoute(`${method} /up/{upload-session}`);
    if (req.headers.authorization !== undefined) {
      throw new EmulatorHttpError(
        401,
        'unauthenticated',
        'The upload URL is pre-authenticated: send fragments without an Authorization header.',
      );
    }
    this.sweep();
    const id = ctx.url.pathname.slice('/up/'.length);
    const session = this.sessions.get(id);
    if (!session) throw new EmulatorHttpError(404, 'itemNotFound', 'The upload session was not found or has expired. Create a new upload session.', {}, 'uploadSessionNotFound');
    if (method === 'GET') {
      const { uploadUrl: _ignored, ...status } = this.describe(session);
      return sendJson(res, 200, status);
    }
    if (method === 'DELETE') {
      this.finish(session, 'cancelled');
      res.writeHead(204);
      res.end();
      return;
    }
    if (method !== 'PUT') throw new EmulatorHttpError(405, 'invalidRequest', 'Upload URLs take PUT (fragments), GET (status) and DELETE (cancel).');
    await this.receiveFragment(ctx, session);
  }

  private async receiveFragment(ctx: RequestContext, session: UploadSessionRecord): Promise<void> {
    const { req, res } = ctx;
    const range = parseContentRange(req.headers['content-range']);
    const lengthHeader = req.headers['content-length'];
    if (lengthHeader === undefined) throw new EmulatorHttpError(411, 'invalidRequest', 'Length Required: send a Content-Length header with each fragment.');
    const length = Number(lengthHeader);
    const [start, end, total] = range;
    const size = end - start + 1;
    if (size > MAX_FRAGMENT) {
      throw new EmulatorHttpError(413, 'requestTooLarge', `The fragment is ${size} bytes; a fragment may carry at most ${MAX_FRAGMENT} bytes (60 MiB). Use smaller fragments.`, {}, 'maxFragmentLengthExceeded');
    }
    if (length !== size) throw new EmulatorHttpError(400, 'invalidRequest', 'The Content-Range header length does not match the provided number of bytes.');
    if (session.total !== undefined && total !== session.total) {
      throw new EmulatorHttpError(400, 'invalidRequest', `The current upload session is for ${session.total} total bytes, but the current fragment declares a total of ${total}.`, {}, 'fragmentLengthMismatch');
    }
    if (end >= total) throw new EmulatorHttpError(400, 'invalidRequest', `The fragment ends at byte ${end}, past the declared total of ${total} bytes.`);
    if (end + 1 < total && size % FRAGMENT_MULTIPLE !== 0) {
      throw new EmulatorHttpError(
        400,
        'invalidRequest',
        `The fragment is ${size} bytes; every fragment except the last must be a multiple of 320 KiB (327,680 bytes).`,
      );
    }
    const busy = this.inFlight.get(session.id) ?? [];
    if (overlaps(session.received, start, end) || overlaps(busy, start, end)) {
      throw new EmulatorHttpError(416, 'invalidRange', 'Uploaded fragment overlaps with existing data.', {}, 'fragmentOverlap');
    }
    if (session.total === undefined) {
      const replaced = this.currentTarget(session)?.size ?? 0;
      this.store.assertRoomFor(session.driveId, total, replaced);
      session.total = total;
    }

    busy.push([start, end]);
    this.inFlight.set(session.id, busy);
    let written = 0;
    try {
      const handle = await open(session.tempPath, constants.O_RDWR | constants.O_CREAT, 0o600);
      try {
        for await (const chunk of req) {
          const buf = chunk as Buffer;
          if (written + buf.length > size) throw new EmulatorHttpError(400, 'invalidRequest', 'The request body is longer than its Content-Range.');
          await writeAll(handle, buf, start + written);
          written += buf.length;
        }
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (err instanceof EmulatorHttpError) throw err;
      // The client went away mid-fragment: nothing of it counts.
      res.destroy();
      return;
    } finally {
      this.inFlight.set(
        session.id,
        (this.inFlight.get(session.id) ?? []).filter(([s, e]) => s !== start || e !== end),
      );
    }
    if (written !== size) throw new EmulatorHttpError(400, 'invalidRequest', 'The request body is shorter than its Content-Range.');
    if (!this.sessions.has(session.id)) throw notFound('The upload session was cancelled while the fragment was arriving.');

    session.received = addRange(session.received, start, end);
    session.fragments.push(size);
    session.expiresAt = this.expiry();
    this.store.dirty = true;

    const complete = session.received.length === 1 && session.received[0][0] === 0 && session.received[0][1] === total - 1;
    if (!complete) {
      const { uploadUrl: _ignored, ...status } = this.describe(session);
      return sendJson(res, 202, status);
    }
    await this.commit(ctx, session);
  }

  private async commit(ctx: RequestContext, session: UploadSessionRecord): Promise<void> {
    // A commit refused for a name conflict or the quota keeps the session (and its bytes) until it
    // expires. https://learn.microsoft.com/en-us/graph/api/driveitem-createuploadsession ("Handle upload errors":
    // "the upload session is preserved until the expiration time")
    this.assertCommittable(session);
    this.sessions.delete(session.id);
    let blob: StoredBlob | undefined;
    try {
      const profile = this.profile(session.driveId);
      const append = enrichmentFor(profile, this.targetName(session));
      blob = await this.store.blobs.adopt(session.tempPath, profile, { corrupt: this.hooks.takeCorruption(session.total ?? 0), append });
      // Checked again after hashing (which awaits), so a change made meanwhile is seen.
      const existing = this.assertCommittable(session);
      let result: { item: ItemRecord; created: boolean };
      if (session.itemId) {
        result = { item: this.store.replaceContent(existing!, blob, session.by, session.times), created: false };
      } else {
        const parent = this.store.item(session.parentId!)!;
        const names = session.names!;
        const folder = this.store.ensureFolders(parent, names.slice(0, -1), session.by);
        result = this.store.putFile(folder, names[names.length - 1], blob, { behavior: session.behavior, by: session.by, times: session.times });
      }
      this.finishLog(session.id, 'committed');
      this.hooks.respondWithItem(ctx, result.created ? 201 : 200, result.item, session.pathPrefix);
    } catch (err) {
      if (blob) await this.store.blobs.remove(blob.id);
      else await this.store.blobs.removeTemp(session.tempPath);
      this.finishLog(session.id, 'failed');
      this.store.dirty = true;
      throw err;
    }
  }

  /** Throws what Graph answers when the complete upload cannot become the file now; returns the file it replaces. */
  private assertCommittable(session: UploadSessionRecord): ItemRecord | undefined {
    const existing = this.currentTarget(session);
    if (session.itemId && !existing) throw notFound('The file this upload session was replacing no longer exists.');
    if (session.ifMatch && (!existing || !tagMatches(session.ifMatch, existing))) throw preconditionFailed();
    if (!session.itemId) {
      const parent = this.store.item(session.parentId!);
      if (!parent) throw notFound('The folder this upload session was writing into no longer exists.');
      const found = this.store.resolve(parent, session.names!);
      if (found.item?.isFolder) throw new EmulatorHttpError(409, 'nameAlreadyExists', `'${found.item.name}' is a folder; a file cannot replace it.`);
      if (found.item && session.behavior === 'fail') throw new EmulatorHttpError(409, 'nameAlreadyExists', 'The specified item name already exists.');
    }
    const added = (session.total ?? 0) + (enrichmentFor(this.profile(session.driveId), this.targetName(session))?.length ?? 0);
    this.store.assertRoomFor(session.driveId, added, session.behavior === 'rename' ? 0 : (existing?.size ?? 0));
    return existing;
  }

  private profile(driveId: string): DriveProfile {
    return profileOf(this.store.drive(driveId)!, this.shared.directory);
  }

  /** Which file a session writes: the item it replaces, or the path it creates (OneDrive names ignore case). */
  private targetKey(session: Pick<UploadSessionRecord, 'itemId' | 'parentId' | 'names'>): string {
    const item = this.currentTarget(session);
    if (item || session.itemId) return `item:${item?.id ?? session.itemId}`;
    return `path:${session.parentId}/${session.names!.join('/').toLowerCase()}`;
  }

  /** The item the session would overwrite right now, if any. */
  private currentTarget(session: Pick<UploadSessionRecord, 'itemId' | 'parentId' | 'names'>): ItemRecord | undefined {
    if (session.itemId) return this.store.item(session.itemId);
    const parent = session.parentId ? this.store.item(session.parentId) : undefined;
    if (!parent) return undefined;
    const found = this.store.resolve(parent, session.names!);
    return found.item && !found.item.isFolder ? found.item : undefined;
  }

  private targetName(session: UploadSessionRecord): string {
    if (session.names) return session.names[session.names.length - 1];
    return (session.itemId && this.store.item(session.itemId)?.name) || '';
  }

  /** Drops expired sessions (their temp files too). */
  sweep(): void {
    const now = this.shared.clock.now();
    for (const session of this.sessions.values()) {
      if (session.expiresAt <= now && !(this.inFlight.get(session.id)?.length)) this.finish(session, 'expired');
    }
  }

  private finish(session: UploadSessionRecord, outcome: FragmentLog['outcome']): void {
    this.sessions.delete(session.id);
    this.inFlight.delete(session.id);
    void this.store.blobs.removeTemp(session.tempPath);
    this.finishLog(session.id, outcome);
    this.store.dirty = true;
  }

  private finishLog(id: string, outcome: FragmentLog['outcome']): void {
    const entry = this.log.get(id);
    if (entry) entry.outcome = outcome;
  }

  private expiry(): number {
    return this.shared.clock.now() + this.shared.settings.uploadSessionLifetimeSec * 1000;
  }

  fragmentLog(): FragmentLog[] {
    return [...this.log.values()].map((e) => ({ ...e, fragments: [...e.fragments] }));
  }

  /** Fragments still arriving (tests wait for a reset connection to be noticed). */
  fragmentsInFlight(): number {
    let n = 0;
    for (const ranges of this.inFlight.values()) n += ranges.length;
    return n;
  }

  openSessions(): UploadSessionRecord[] {
    return [...this.sessions.values()];
  }

  snapshot(): UploadSessionRecord[] {
    return [...this.sessions.values()];
  }

  restore(records: UploadSessionRecord[]): void {
    this.sessions.clear();
    for (const record of records) {
      this.sessions.set(record.id, record);
      this.log.set(record.id, { sessionId: record.id, name: this.targetName(record), fragments: record.fragments, outcome: 'open' });
    }
  }

  tempPaths(): Set<string> {
    return new Set([...this.sessions.values()].map((s) => s.tempPath));
  }

  clear(): void {
    for (const session of [...this.sessions.values()]) this.finish(session, 'cancelled');
    this.log.clear();
  }
}

export function preconditionFailed(): EmulatorHttpError {
  return new EmulatorHttpError(412, 'resourceModified', 'ETag does not match current item\'s value. Read the item again and retry with its current eTag.', {}, 'entityTagDoesNotMatch');
}

function parseContentRange(header: string | undefined): [number, number, number] {
  const m = header ? /^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i.exec(header) : null;
  if (!m) {
    throw new EmulatorHttpError(400, 'invalidRequest', "The Content-Range header is missing or malformed. Send 'Content-Range: bytes {start}-{end}/{total}'.");
  }
  const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (end < start) throw new EmulatorHttpError(400, 'invalidRequest', 'The Content-Range header is malformed: the end comes before the start.');
  return [start, end, total];
}

function overlaps(ranges: Array<[number, number]>, start: number, end: number): boolean {
  return ranges.some(([s, e]) => start <= e && end >= s);
}

function addRange(ranges: Array<[number, number]>, start: number, end: number): Array<[number, number]> {
  const all = [...ranges, [start, end] as [number, number]].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of all) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}

/** The gaps still missing, as Graph spells them: `["0-"]` before the total is known, else `"start-end"`. */
export function nextExpectedRanges(session: UploadSessionRecord): string[] {
  if (session.total === undefined) return ['0-'];
  const gaps: string[] = [];
  let next = 0;
  for (const [s, e] of session.received) {
    if (s > next) gaps.push(`${next}-${s - 1}`);
    next = e + 1;
  }
  if (next < session.total) gaps.push(`${next}-${session.total - 1}`);
  return gaps;
}

