/**
 * The drive half of the Graph emulator: OneDrive / SharePoint drives and items under `/v1.0`,
 * upload sessions under `/up/…`, download URLs under `/dl/…`, copy monitors under `/v1.0/monitor/…`.
 * Files keep their earlier contents as versions (`…/versions`, `…/versions/{id}`, `…/versions/{id}/content`,
 * `POST …/versions/{id}/restoreVersion`): every content replace keeps the previous blob, up to 25
 * versions on personal drives and 500 elsewhere. Version ids are `1.0`, `2.0`, … on business drives
 * and libraries; `current` and opaque ids on personal drives. Business drives and libraries count
 * earlier versions (and the recycle bin) against the quota; personal drives count neither.
 *
 * In-process API for tests (methods of `EmulatedDriveService`, reached as `emulator.drive`):
 *   driveIdOf(userOrSite: string): string                 user id/UPN or site id → its drive id
 *   putFile(driveId, path, content: Buffer | string, { modified?: Date }): Promise<SeededItem>
 *                                                          seeds a file (missing folders are created)
 *   mkdir(driveId, path): SeededItem                       creates a folder (and its parents)
 *   putEmptyFiles(driveId, folder, names): Promise<number> seeds many empty files in one folder sharing
 *                                                          one stored blob (a 100,000-item folder in seconds)
 *   readFile(driveId, path): Promise<Buffer>               the stored bytes (throws if absent)
 *   stat(driveId, path): SeededItem | undefined
 *   listPaths(driveId): string[]                           every live path, folders end in '/'
 *   versions(driveId, path): VersionInfo[]                 the file's versions, current first
 *   corruptNextUploads(n = 1): void                        the next n non-empty uploads (simple or
 *                                                          session) are stored with their first byte
 *                                                          flipped, so the reported hash differs from
 *                                                          the hash of what the client sent
 *                                                          (on business drives and libraries, Office, PDF,
 *                                                          HTML and JPEG files get ENRICHMENT_TRAILER appended
 *                                                          at commit, as SharePoint rewrites them: enrichment.ts)
 *   uploadFragments(): FragmentLog[]                       per upload session: fragment sizes received
 *   openUploadSessions(): number
 *   fragmentsInFlight(): number                           fragments still arriving (wait for 0 after a reset)
 *   setQuota(driveId, totalBytes): void
 *   emptyRecycleBin(driveId): void
 *   reset(): void                                          empties every drive, sessions, monitors
 *   storageDir: string                                     `<dataDir>/drive`, or the temp dir removed on close
 * Settings (`state.settings.downloadUrlLifetimeSec`, `uploadSessionLifetimeSec`) are read per request.
 *
 * Admin HTTP (only with `admin: true`), under `/_emulator/drive/`:
 *   POST   reset
 *   POST   corrupt-next-uploads         {"count": n}
 *   GET    fragments                    → uploadFragments()
 *   GET    paths/{driveId}              → listPaths()
 *   PUT    files/{driveId}/{path}       body = content (seeds a file)
 *   GET    files/{driveId}/{path}       → the stored bytes
 *   PATCH  quota/{driveId}              {"total": bytes}
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { writeFileAtomic } from '../../util/atomic-file.js';
import type { EmulatorService, RequestContext, SharedState } from '../context.js';
import { CONSUMERS_TENANT_ID, findUser } from '../directory.js';
import { EmulatorHttpError, readBody, readJson, sendJson } from '../request-io.js';
import { DriveAccess } from './access.js';
import { BlobStore } from './blobs.js';
import { CopyMonitors } from './copies.js';
import { DeltaFeeds } from './delta.js';
import { DownloadUrls } from './downloads.js';
import { EmulatedDriveRoutes } from './graph-routes.js';
import type { ItemRecord } from './model.js';
import { profileOf, type DriveProfile } from './profile.js';
import { itemJson } from './serialize.js';
import { DriveStore, type PersistedDrives } from './store.js';
import { UploadSessions, type FragmentLog, type UploadSessionRecord } from './upload-sessions.js';
import { versionsOf } from './versions.js';

export type { FragmentLog } from './upload-sessions.js';

/** What the in-process API returns for an item. */
export interface SeededItem {
  id: string;
  driveId: string;
  path: string;
  name: string;
  isFolder: boolean;
  size: number;
  eTag: string;
  /** fileSystemInfo.lastModifiedDateTime (what clients see as the file's mtime). */
  modified: Date;
  quickXorHash?: string;
  sha1Hash?: string;
}

/** A file version as the in-process API reports it (newest first; the first is the current content). */
export interface VersionInfo {
  id: string;
  size: number;
  current: boolean;
}

interface PersistedState extends PersistedDrives {
  uploadSessions: UploadSessionRecord[];
}

const GiB = 1024 ** 3;
const SAVE_DELAY_MS = 200;

export class EmulatedDriveService implements EmulatorService {
  private dir!: string;
  private ownsDir = false;
  private store!: DriveStore;
  private uploads!: UploadSessions;
  private downloads!: DownloadUrls;
  private copies!: CopyMonitors;
  private deltaFeeds!: DeltaFeeds;
  private graph!: EmulatedDriveRoutes;
  private corruptions = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(readonly shared: SharedState) {}

  /** Where metadata and blobs live: `<dataDir>/drive`, or a temp dir removed on close. */
  get storageDir(): string {
    return this.dir;
  }

  async load(): Promise<void> {
    if (this.shared.dataDir) {
      this.dir = join(this.shared.dataDir, 'drive');
    } else {
      this.dir = await mkdtemp(join(tmpdir(), 'onedav-emulator-drive-'));
      this.ownsDir = true;
    }
    const blobs = await BlobStore.open(join(this.dir, 'blobs'));
    this.store = new DriveStore(this.shared.clock, blobs);
    const hooks = {
      takeCorruption: (size: number) => this.takeCorruption(size),
      respondWithItem: (ctx: RequestContext, status: number, item: ItemRecord, pathPrefix: string) => {
        const drive = this.store.drive(item.driveId)!;
        const view = { ...this.graph.viewFor(drive, { by: 'me' }), pathPrefix };
        sendJson(ctx.res, status, itemJson(view, item));
      },
    };
    this.uploads = new UploadSessions(this.shared, this.store, hooks);
    this.downloads = new DownloadUrls(this.shared, this.store);
    this.copies = new CopyMonitors();
    this.deltaFeeds = new DeltaFeeds(this.shared, this.store);
    const access = new DriveAccess(this.shared, this.store);
    this.graph = new EmulatedDriveRoutes(this.shared, this.store, access, this.downloads, this.uploads, this.copies, this.deltaFeeds, hooks);

    const saved = this.shared.dataDir ? await readState(join(this.dir, 'drives.json')) : undefined;
    if (saved) {
      this.store.restore(saved);
      this.uploads.restore(saved.uploadSessions ?? []);
    }
    this.ensureDirectoryDrives();
    await this.removeOrphanFiles();
  }

  async flush(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (this.shared.dataDir) {
      await this.save();
    } else if (this.ownsDir) {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  async handle(ctx: RequestContext): Promise<boolean> {
    try {
      switch (ctx.category) {
        case 'graph':
          return await this.graph.handle(ctx);
        case 'upload':
          await this.uploads.handle(ctx);
          return true;
        case 'download':
          await this.downloads.serve(ctx);
          return true;
        default:
          return false;
      }
    } finally {
      if (this.store.dirty) this.scheduleSave();
    }
  }

  async handleAdmin(ctx: RequestContext, subpath: string): Promise<boolean> {
    const { method, res } = ctx;
    const [head, ...rest] = subpath.split('/');
    const tail = rest.map((s) => decodeURIComponent(s));
    if (head === 'reset' && method === 'POST') {
      this.reset();
      return sendJson(res, 200, { ok: true }), true;
    }
    if (head === 'corrupt-next-uploads' && method === 'POST') {
      const body = await readJson(ctx.req);
      this.corruptNextUploads(typeof body.count === 'number' ? body.count : 1);
      return sendJson(res, 200, { pending: this.corruptions }), true;
    }
    if (head === 'fragments' && method === 'GET') return sendJson(res, 200, this.uploadFragments()), true;
    if (head === 'paths' && method === 'GET' && tail.length === 1) return sendJson(res, 200, this.listPaths(tail[0])), true;
    if (head === 'quota' && method === 'PATCH' && tail.length === 1) {
      const body = await readJson(ctx.req);
      if (typeof body.total !== 'number') throw new EmulatorHttpError(400, 'invalidRequest', 'Send {"total": bytes}.');
      this.setQuota(tail[0], body.total);
      return sendJson(res, 200, { ok: true }), true;
    }
    if (head === 'files' && tail.length >= 2) {
      const [driveId, ...path] = tail;
      if (method === 'PUT') {
        const content = await readBody(ctx.req, 1024 * 1024 * 1024);
        return sendJson(res, 200, await this.putFile(driveId, path.join('/'), content)), true;
      }
      if (method === 'GET') {
        const content = await this.readFile(driveId, path.join('/'));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': content.length });
        res.end(content);
        return true;
      }
    }
    return false;
  }

  // ---- in-process API -----------------------------------------------------------------------

  driveIdOf(userOrSite: string): string {
    const user = findUser(this.shared.directory, userOrSite);
    if (user) return user.driveId;
    const site = this.shared.directory.sites.find((s) => s.id === userOrSite);
    if (site) return site.driveId;
    throw new Error(`No user or site '${userOrSite}' in the emulator's directory.`);
  }

  async putFile(driveId: string, path: string, content: Buffer | string, options: { modified?: Date } = {}): Promise<SeededItem> {
    const { parent, name } = this.parentFor(driveId, path);
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    const blob = await this.store.blobs.writeStream(Readable.from([bytes]), Number.MAX_SAFE_INTEGER, () => new Error('unreachable'), this.profileOf(driveId));
    try {
      const times = options.modified ? { fsModifiedAt: options.modified.getTime() } : undefined;
      const { item } = this.store.putFile(parent, name, blob, { behavior: 'replace', times });
      this.scheduleSave();
      return this.seeded(item);
    } catch (err) {
      await this.store.blobs.remove(blob.id);
      throw err;
    }
  }

  async putEmptyFiles(driveId: string, folder: string, names: string[]): Promise<number> {
    const parent = this.store.ensureFolders(this.store.root(this.requireDrive(driveId)), splitPath(folder));
    const blob = await this.store.blobs.writeStream(Readable.from([Buffer.alloc(0)]), 0, () => new Error('unreachable'), this.profileOf(driveId));
    try {
      for (const name of names) this.store.putFile(parent, name, blob, { behavior: 'replace' });
    } finally {
      this.scheduleSave();
    }
    return names.length;
  }

  mkdir(driveId: string, path: string): SeededItem {
    const names = splitPath(path);
    const folder = this.store.ensureFolders(this.store.root(this.requireDrive(driveId)), names);
    this.scheduleSave();
    return this.seeded(folder);
  }

  async readFile(driveId: string, path: string): Promise<Buffer> {
    const item = this.find(driveId, path);
    if (!item || item.isFolder || !item.blobId) throw new Error(`No file at ${driveId}:/${path}.`);
    return readFile(this.store.blobs.pathOf(item.blobId));
  }

  stat(driveId: string, path: string): SeededItem | undefined {
    const item = this.find(driveId, path);
    return item ? this.seeded(item) : undefined;
  }

  listPaths(driveId: string): string[] {
    const root = this.store.root(this.requireDrive(driveId));
    return this.store
      .subtree(root.id)
      .filter((i) => i.id !== root.id)
      .map((i) => `/${this.store.pathOf(i)}${i.isFolder ? '/' : ''}`)
      .sort();
  }

  versions(driveId: string, path: string): VersionInfo[] {
    const item = this.find(driveId, path);
    if (!item || item.isFolder) throw new Error(`No file at ${driveId}:/${path}.`);
    return versionsOf(this.store.drive(driveId)!.type, item).map(({ id, size, current }) => ({ id, size, current }));
  }

  corruptNextUploads(n = 1): void {
    this.corruptions += n;
  }

  uploadFragments(): FragmentLog[] {
    return this.uploads.fragmentLog();
  }

  /** Fragments whose bytes are still arriving. */
  fragmentsInFlight(): number {
    return this.uploads.fragmentsInFlight();
  }

  openUploadSessions(): number {
    return this.uploads.openSessions().length;
  }

  setQuota(driveId: string, totalBytes: number): void {
    const drive = this.store.drive(driveId);
    if (!drive) throw new Error(`No drive '${driveId}'.`);
    drive.quotaTotal = totalBytes;
    this.store.dirty = true;
    this.scheduleSave();
  }

  emptyRecycleBin(driveId: string): void {
    this.store.emptyRecycleBin(driveId);
    this.scheduleSave();
  }

  reset(): void {
    this.uploads.clear();
    this.copies.clear();
    this.deltaFeeds.clear();
    this.store.clear();
    for (const drive of this.store.drives.values()) drive.quotaTotal = this.defaultQuota(drive.id);
    this.corruptions = 0;
    this.scheduleSave();
  }

  // ---- internals ----------------------------------------------------------------------------

  private takeCorruption(size: number): boolean {
    if (this.corruptions <= 0 || size <= 0) return false;
    this.corruptions--;
    return true;
  }

  private ensureDirectoryDrives(): void {
    const { directory } = this.shared;
    for (const user of directory.users) {
      const tenant = directory.tenants.find((t) => t.id === user.tenantId);
      const personal = user.tenantId === CONSUMERS_TENANT_ID || tenant?.kind === 'consumers';
      const host = tenant?.sharepointHost?.replace(/^([^.]+)\./, '$1-my.') ?? 'my.sharepoint.com';
      this.store.ensureDrive({
        id: user.driveId,
        type: personal ? 'personal' : 'business',
        tenantId: user.tenantId,
        name: 'OneDrive',
        ownerUserId: user.id,
        quotaTotal: user.quotaTotal,
        webUrl: personal
          ? `https://onedrive.live.com/personal/${user.driveId}`
          : `https://${host}/personal/${user.userPrincipalName.replace(/[@.]/g, '_')}/Documents`,
      });
    }
    for (const site of directory.sites) {
      const tenant = directory.tenants.find((t) => t.id === site.tenantId);
      this.store.ensureDrive({
        id: site.driveId,
        type: 'documentLibrary',
        tenantId: site.tenantId,
        name: 'Documents',
        siteId: site.id,
        quotaTotal: 25 * 1024 * GiB,
        webUrl: `https://${tenant?.sharepointHost ?? 'sharepoint.com'}${site.path}/Shared%20Documents`,
      });
    }
  }

  private defaultQuota(driveId: string): number {
    const user = this.shared.directory.users.find((u) => u.driveId === driveId);
    return user ? user.quotaTotal : 25 * 1024 * GiB;
  }

  /** Blob and temp files no item or session refers to (left by a crash) are removed at start. */
  private async removeOrphanFiles(): Promise<void> {
    const blobDir = this.store.blobs.dir;
    const referenced = this.store.referencedBlobs();
    for (const name of await readdir(blobDir)) {
      if (/^[a-f0-9]{32}$/.test(name) && !referenced.has(name)) await rm(join(blobDir, name), { force: true });
    }
    const temps = this.uploads.tempPaths();
    for (const name of await readdir(join(blobDir, 'tmp'))) {
      const path = join(blobDir, 'tmp', name);
      if (!temps.has(path)) await rm(path, { force: true });
    }
  }

  private scheduleSave(): void {
    if (!this.shared.dataDir || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save().catch(() => {});
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  private async save(): Promise<void> {
    const run = async (): Promise<void> => {
      const state: PersistedState = { ...this.store.snapshot(), uploadSessions: this.uploads.snapshot() };
      this.store.dirty = false;
      await writeFileAtomic(join(this.dir, 'drives.json'), JSON.stringify(state));
    };
    this.saving = this.saving.then(run, run);
    await this.saving;
  }

  private profileOf(driveId: string): DriveProfile {
    return profileOf(this.store.drive(this.requireDrive(driveId))!, this.shared.directory);
  }

  private requireDrive(driveId: string): string {
    if (!this.store.drive(driveId)) throw new Error(`No drive '${driveId}'.`);
    return driveId;
  }

  private parentFor(driveId: string, path: string): { parent: ItemRecord; name: string } {
    const names = splitPath(path);
    if (names.length === 0) throw new Error('A file path needs a name.');
    const parent = this.store.ensureFolders(this.store.root(this.requireDrive(driveId)), names.slice(0, -1));
    return { parent, name: names[names.length - 1] };
  }

  private find(driveId: string, path: string): ItemRecord | undefined {
    const found = this.store.resolve(this.store.root(this.requireDrive(driveId)), splitPath(path));
    return found.item;
  }

  private seeded(item: ItemRecord): SeededItem {
    return {
      id: item.id,
      driveId: item.driveId,
      path: `/${this.store.pathOf(item)}`,
      name: item.name,
      isFolder: item.isFolder,
      size: item.size,
      eTag: `"{${item.tagGuid}},${item.eTagVersion}"`,
      modified: new Date(item.fsModifiedAt),
      quickXorHash: item.quickXorHash,
      sha1Hash: item.sha1Hash,
    };
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter(Boolean);
}

async function readState(path: string): Promise<PersistedState | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PersistedState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

