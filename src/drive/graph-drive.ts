import type { Readable } from 'node:stream';
import { CacheCoherence } from '../cache/coherence.js';
import { DeltaPoller, type DeltaFeed, type PollLease } from '../cache/delta-poller.js';
import type { InvalidationBus } from '../cache/invalidation-bus.js';
import { collect, MetadataCache, type CacheStats } from '../cache/metadata-cache.js';
import type { DriveApi, DownloadUrl, ItemRef } from '../graph/drive-api.js';
import { GraphError } from '../graph/errors.js';
import { EXPAND_CHILDREN_LIMIT, type DriveItem } from '../graph/items.js';
import { pathFromParentReference } from '../graph/paths.js';
import { DEFAULT_FRAGMENT_SIZE, SIMPLE_UPLOAD_MAX, uploadFile } from '../graph/upload.js';
import type { SessionJournal } from '../graph/upload-journal.js';
import { systemClock, type Clock } from '../util/clock.js';
import { baseName, childPath, nameFolding, parentPath, splitPath, type NameFolding } from '../util/drive-path.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { pull } from '../util/page-puller.js';
import { carryModifiedTimes } from './copy-times.js';
import { DriveError } from './errors.js';
import { entityTagOf } from './entity-tag.js';
import { EntryRecord } from './entry-record.js';
import { driveErrorFromGraph, type DriveOperation } from './graph-errors.js';
import { mayHaveHappened } from './lost-answer.js';
import { assertValidPath, MAX_NAME_LENGTH, MAX_PATH_LENGTH, pathProblem } from './names.js';
import { replaceItem } from './replace.js';
import type { DriveMemory } from './drive-memory.js';
import type { WriteOwnership } from './write-ownership.js';
import type { ByteRange, DriveCapabilities, DriveEntry, ItemWithChildren, Quota, ReadBody, RemoteDrive, WriteOptions } from './types.js';

export interface GraphDriveOptions {
  api: DriveApi;
  /** `config.cache`: ttlSeconds, maxEntries, maxBytes, deltaPollSeconds. */
  cache?: { ttlSeconds?: number; maxEntries?: number; maxBytes?: number; deltaPollSeconds?: number };
  /** `config.upload`: simpleMax, fragmentSize. */
  upload?: { simpleMax?: number; fragmentSize?: number };
  /** Where chunked uploads larger than simpleMax are spooled (default: the OS temp dir). */
  spoolDir?: string;
  /** The drive is a SharePoint document library (`forms` is reserved at its root). */
  documentLibrary?: boolean;
  /** Where open upload sessions are remembered (`<dataDir>/upload-sessions.json`); see upload-journal.ts. */
  uploadJournal?: SessionJournal;
  /** Several replicas serve this drive (Redis): see SharedDriveState. */
  shared?: SharedDriveState;
  /** What an earlier run learned about this drive (its root's id): see drive-memory.ts. */
  memory?: DriveMemory;
  logger?: Logger;
  clock?: Clock;
}

/** What the replicas of a fleet share about one drive. */
export interface SharedDriveState {
  /** The drive's name in the fleet: the same on every replica that serves it. */
  drive: string;
  /** Carries each replica's writes to the others' caches, and the poller's remote changes. */
  bus: InvalidationBus;
  /** Only its holder polls the delta feed. */
  pollLease?: PollLease;
  /** One upload per path fleet-wide. */
  writeOwnership?: WriteOwnership;
}

/**
 * Whether a path not yet known is worth betting on as a folder (one call for the folder and its
 * children): the client addressed it as one, or its name has no extension (rclone's webdav backend
 * asks `Depth: 1` of a path without a trailing slash, then lists it: rclone/rclone backend/webdav/webdav.go
 * readMetaDataForPath). A lost bet (an extensionless file: Makefile) costs one more call, never a wrong answer.
 */
function looksLikeFolder(path: string): boolean {
  const name = baseName(path);
  return !/.\.[\p{L}\p{N}]{1,10}$/u.test(name);
}

/** The operations that change the drive (and so the other replicas' caches). */
const CHANGES: ReadonlySet<DriveOperation> = new Set(['write', 'mkdir', 'move', 'copy', 'remove', 'setModified']);

/**
 * An absence Graph confirmed this recently is believed without asking again before a 409 (see
 * parentFolder). Docs are silent; a 409 for a folder made meanwhile loses nothing: the client makes
 * the folder, Graph answers 409 nameAlreadyExists, the client hears 405 and goes on.
 */
const FRESH_ABSENCE_MS = 5_000;

/** Download URLs kept from one listing (one page of Graph's largest). */
const LISTED_URLS_KEPT = 1000;
/** Children Graph gives in one listing call (`$top` at its maximum): a folder this small is listed again in one call. */
const PAGE_CHILDREN = 1000;

/**
 * What GraphDrive knows of an item beyond the seam's DriveEntry: its hashes, to tell whether a copy
 * whose answer was lost was made (copy's `landed`). They stay inside src/drive.
 */
type GraphEntry = DriveEntry & {
  quickXorHash?: string;
  sha1Hash?: string;
  /** A folder's children when it was read: sizes its listing for the cache before the pages arrive. */
  childCount?: number;
};

/**
 * The filesystem-shaped facade over Graph that the WebDAV layer uses. Reads are answered from the
 * metadata cache when possible; every write records exactly what it changed in the cache.
 */
export class GraphDrive implements RemoteDrive {
  readonly api: DriveApi;
  readonly capabilities: DriveCapabilities;
  /** How OneDrive compares names (case-insensitively): the cache and the write queue key by it. */
  private readonly names: NameFolding;
  readonly cache: MetadataCache<GraphEntry>;
  private readonly poller: DeltaPoller | undefined;
  private readonly coherence: CacheCoherence<GraphEntry> | undefined;
  private readonly shared: SharedDriveState | undefined;
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly simpleMax: number;
  private readonly fragmentSize: number;
  private readonly spoolDir: string | undefined;
  private readonly documentLibrary: boolean;
  private readonly uploadJournal: SessionJournal | undefined;
  private readonly logger: Logger;
  /** One upload at a time per path: OneDrive for Business allows one open upload session per file. */
  private readonly writesByPath = new KeyedMutex();
  /** Folders being created, by folded path: see mkdir. */
  private readonly mkdirsInFlight = new Map<string, Promise<DriveEntry>>();
  /** Folders being listed again for their download URLs, by folded path: see urlFromRelisting. */
  private readonly relistings = new Map<string, Promise<{ items: DriveItem[]; askedAt: number }>>();
  private quotaCache: { value: Promise<Quota>; until: number } | undefined;
  private readonly memory: DriveMemory | undefined;
  /** The root's id once Graph gave it in this run (the root itself, or a child's parentReference): never changes. */
  private rootId: string | undefined;

  constructor(options: GraphDriveOptions) {
    this.api = options.api;
    this.clock = options.clock ?? systemClock;
    const c = options.cache ?? {};
    this.ttlMs = (c.ttlSeconds ?? 60) * 1000;
    this.capabilities = {
      // OneDrive and SharePoint names ignore case (rclone/rclone backend/onedrive/onedrive.go Features: CaseInsensitive).
      caseInsensitive: true,
      // https://learn.microsoft.com/en-us/graph/api/driveitem-copy
      serverSideCopy: true,
      // @microsoft.graph.downloadUrl: https://learn.microsoft.com/en-us/graph/api/driveitem-get-content
      downloadUrl: true,
      // https://learn.microsoft.com/en-us/graph/api/resources/quota
      quota: true,
      // Only where the cloud has a delta feed (rclone/rclone#6444).
      changePolling: this.api.features.delta,
    };
    this.names = nameFolding(this.capabilities.caseInsensitive);
    const lifetime = this.api.downloadUrlLifetimeMs;
    this.cache = new MetadataCache<GraphEntry>({
      ttlMs: this.ttlMs,
      maxEntries: c.maxEntries ?? 200_000,
      maxBytes: c.maxBytes ?? 128 * 1024 * 1024,
      clock: this.clock,
      names: this.names,
      sizeOf: entrySize,
      downloadUrlMarginMs: Math.min(30_000, Math.floor(lifetime / 10)),
    });
    this.shared = options.shared;
    if (this.shared) this.coherence = new CacheCoherence(this.cache, this.shared.bus, this.shared.drive);
    this.simpleMax = options.upload?.simpleMax ?? SIMPLE_UPLOAD_MAX;
    this.fragmentSize = options.upload?.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
    this.spoolDir = options.spoolDir;
    this.documentLibrary = options.documentLibrary ?? false;
    this.uploadJournal = options.uploadJournal;
    this.memory = options.memory;
    this.logger = options.logger ?? silentLogger;
    const pollSeconds = c.deltaPollSeconds ?? 0;
    if (pollSeconds > 0 && !this.api.features.delta) {
      this.logger.info('not polling for remote changes: Graph in this cloud has no delta feed (rclone/rclone#6444); cached entries expire after the TTL instead', {
        ttlSeconds: this.ttlMs / 1000,
      });
    } else if (pollSeconds > 0) {
      this.poller = new DeltaPoller(this.deltaFeed(), this.coherence?.sink ?? this.cache, pollSeconds * 1000, this.shared?.pollLease);
      this.poller.start();
    }
  }

  /** With replicas: resolves once what the others wrote and answered before this call is forgotten here (CacheCoherence.caughtUp). */
  async caughtUp(): Promise<void> {
    await this.coherence?.caughtUp();
  }

  // ---- reads ----

  async stat(path: string): Promise<GraphEntry> {
    return this.edge('stat', async () => {
      const entry = await this.lookup(path);
      if (!entry) throw notFound(path);
      return entry;
    });
  }

  /**
   * One Graph call per cold folder (all pages, `$top` at the maximum); its children's stats follow
   * from it, and so do their download URLs: a GET after a listing costs no call.
   */
  async list(path: string): Promise<DriveEntry[]> {
    return collect(this.childPages(path, this.cache.peekItem(path)?.childCount));
  }

  /**
   * The item and, for a folder, its children in pages. Cold and addressed as a collection, the
   * folder comes with its first children in one call (`$expand=children`), taken as the whole
   * listing only when provably complete (expandedFolder); otherwise the paged listing follows.
   */
  async statWithChildren(path: string, options: { collection?: boolean } = {}): Promise<ItemWithChildren> {
    return this.edge('list', async () => {
      const unknown = this.cache.peekItem(path) === undefined && pathProblem(path) === undefined && !this.belowFreshAbsence(path);
      if (unknown && (options.collection || looksLikeFolder(path))) {
        const expanded = await this.expandedFolder(path);
        if (expanded) return expanded;
      }
      const entry = await this.stat(path);
      return entry.isFolder ? { entry, children: this.childPages(path, entry.childCount) } : { entry };
    });
  }

  /**
   * One GET with `$expand=children`: the folder, and its children when they are all there. Graph
   * expands at most EXPAND_CHILDREN_LIMIT and links to none of the rest (graph/items.ts), so the
   * expansion is the listing only when fewer came back than that limit and no fewer than
   * `folder.childCount` says there are. childCount is reliable on the item itself (it is zero only
   * in delta and search answers: microsoftgraph/microsoft-graph-docs#19306,
   * microsoftgraph/microsoft-graph-explorer-v4#2830, neither used here); where it counts more than
   * came back, the paged listing is fetched. Undefined when the cheaper path is the ordinary one
   * (a file: Graph refuses the expansion with 422, and the stat is asked plainly).
   */
  private async expandedFolder(path: string): Promise<ItemWithChildren | undefined> {
    const generation = this.cache.generation;
    const ref = await this.addressOf(path);
    if (!ref) throw notFound(path);
    const askedAt = this.clock.now();
    let item: DriveItem;
    try {
      item = await this.api.getFolderWithChildren(ref);
    } catch (err) {
      if (err instanceof GraphError && err.isNotFound) {
        this.cache.setItem(path, null, generation);
        throw notFound(path);
      }
      if (err instanceof GraphError && (err.status === 422 || err.code === 'notSupported')) return undefined;
      throw err;
    }
    const { children: expanded, ...folder } = item;
    this.learnFolders(path, folder, generation);
    const entry = toEntry(folder, statPath(path, folder));
    this.cache.setItem(path, entry, generation);
    if (!entry.isFolder) return { entry };
    const listed = expanded ?? [];
    const childCount = folder.folder?.childCount;
    const complete = folder.folder !== undefined && listed.length < EXPAND_CHILDREN_LIMIT && childCount !== undefined && childCount <= listed.length;
    if (!complete) return { entry, children: this.childPages(path, childCount) };
    const children = listed.map((child) => toEntry(child, childPath(entry.path, child.name)));
    this.cache.setListing(path, children, folder.id, generation);
    this.keepListedDownloadUrls(path, listed, askedAt, LISTED_URLS_KEPT);
    return { entry, children: onePage(children) };
  }

  /** A folder's children in Graph's pages, from the cache or as they arrive (MetadataCache.listingPages). */
  private async *childPages(path: string, expectedCount?: number): AsyncGenerator<GraphEntry[]> {
    const pages = pull(
      this.cache.listingPages(path, () => {
        const seen: { folderId?: string } = {};
        return { pages: this.fetchedPages(path, seen), folderId: () => seen.folderId ?? this.cache.peekItem(path)?.id, expectedCount };
      }),
    );
    // Not `yield*`: it would keep each page through the next page's request (util/page-puller.ts).
    try {
      for (let page = await pages.next(); page; page = await pages.next()) yield page.value;
    } catch (err) {
      throw driveErrorFromGraph(err, 'list');
    } finally {
      await pages.close();
    }
  }

  /** Graph's pages of a folder's children as entries; `seen` learns the folder's id from them. */
  private async *fetchedPages(path: string, seen: { folderId?: string }): AsyncGenerator<GraphEntry[]> {
    const pages = pull(async () => this.api.childPages(await this.ref(path), undefined, { withDownloadUrls: true }));
    let askedAt = this.clock.now();
    let urlsKept = 0;
    // No local holds a page: see util/page-puller.ts.
    try {
      for (let page = await pages.next(); page; page = await pages.next()) {
        seen.folderId ??= page.value[0]?.parentReference?.id;
        if (path === '/' && seen.folderId) this.learnRootId(seen.folderId);
        urlsKept += this.keepListedDownloadUrls(path, page.value, askedAt, LISTED_URLS_KEPT - urlsKept);
        yield page.value.map((item) => toEntry(item, childPath(path, item.name)));
        askedAt = this.clock.now();
      }
    } finally {
      await pages.close();
    }
  }

  async downloadUrl(path: string): Promise<{ url: string; expiresAt: number; entry: DriveEntry }> {
    return this.edge('downloadUrl', async () => {
      let known = this.cache.peekItem(path);
      // Addressed by id, a cold file needs looking up first; that answer carries the URL too.
      if (known === undefined && !this.api.features.pathAddressing) known = await this.lookup(path);
      if (known === null) throw notFound(path);
      if (known?.isFolder) throw notAFile(path);
      const cached = await this.cache.downloadUrl(
        path,
        async () => {
          const relisted = await this.urlFromRelisting(path);
          if (relisted) return relisted;
          let fetched: DownloadUrl;
          try {
            fetched = await this.api.getDownloadUrl(await this.ref(path));
          } catch (err) {
            if (err instanceof GraphError && err.isNotFound) this.cache.setItem(path, null);
            throw err;
          }
          const item = toEntry(fetched.item, statPath(path, fetched.item));
          return { url: fetched.url, expiresAt: fetched.expiresAt, id: item.id, version: item.version, item };
        },
        // Only while the cache still knows the very item (and version) the URL was issued for:
        // after an overwrite, a move or the metadata's expiry, a URL is fetched afresh.
        (url) => {
          const now = this.cache.peekItem(path);
          return !!now && now.id === url.id && now.version === url.version;
        },
      );
      // A URL just loaded brings its item; the cache may not have kept it (an invalidation elsewhere
      // overtook the load), and an item the cache does not hold is unknown, not absent.
      const entry = this.cache.peekItem(path) ?? (cached as { item?: GraphEntry }).item ?? known;
      if (!entry) throw notFound(path);
      return { url: cached.url, expiresAt: cached.expiresAt, entry };
    });
  }

  /**
   * A folder known from our own writes has no download URLs: Graph hands them out with items it
   * is asked for, not in upload answers. When two or more of its files lack one (a tree copied
   * down right after it was copied up, files opened after they were saved), listing it again — one
   * call, up to PAGE_CHILDREN children — brings them all, where a GET each would cost one call
   * apiece. Concurrent GETs in the folder share one listing. Undefined: ask for this file alone.
   */
  private async urlFromRelisting(path: string): Promise<{ url: string; expiresAt: number; id: string; version: string; item: GraphEntry } | undefined> {
    const folder = parentPath(path);
    const listed = this.cache.peekListing(folder);
    if (!listed || listed.length > PAGE_CHILDREN) return undefined;
    const key = this.names.pathKey(folder);
    let relisting = this.relistings.get(key);
    if (!relisting) {
      const lacking = listed.filter((child) => !child.isFolder && !this.cache.hasDownloadUrl(childPath(folder, child.name))).length;
      if (lacking < 2) return undefined;
      relisting = this.relist(folder).finally(() => this.relistings.delete(key));
      this.relistings.set(key, relisting);
    }
    const { items, askedAt } = await relisting;
    const item = items.find((i) => this.names.sameName(i.name, baseName(path)));
    const url = item?.['@microsoft.graph.downloadUrl'];
    if (!item || item.folder !== undefined || !url) return undefined;
    const entry = toEntry(item, childPath(folder, item.name));
    return { url, expiresAt: askedAt + this.api.downloadUrlLifetimeMs, id: entry.id, version: entry.version, item: entry };
  }

  /** A small folder's children afresh, with their download URLs, into the cache (as a listing does). */
  private async relist(folder: string): Promise<{ items: DriveItem[]; askedAt: number }> {
    const generation = this.cache.generation;
    const askedAt = this.clock.now();
    const items = await this.api.listChildren(await this.ref(folder), undefined, { withDownloadUrls: true });
    const children = items.map((item) => toEntry(item, childPath(folder, item.name)));
    this.cache.setListing(folder, children, items[0]?.parentReference?.id ?? this.cache.peekItem(folder)?.id, generation);
    if (generation === this.cache.generation) this.keepListedDownloadUrls(folder, items, askedAt, LISTED_URLS_KEPT);
    return { items, askedAt };
  }

  /**
   * Streams the file from its download URL, a range passed on as Range. A URL the server refuses
   * (expired sooner than we assumed) is fetched again once, transparently.
   */
  async read(path: string, range?: ByteRange): Promise<ReadBody> {
    return this.edge('read', async () => {
      for (let attempt = 0; ; attempt++) {
        const { url } = await this.downloadUrl(path);
        try {
          const res = await this.api.download(url, { range });
          return readBodyOf(path, res);
        } catch (err) {
          const refused = err instanceof GraphError && [401, 403, 404, 410].includes(err.status);
          if (!refused || attempt > 0) throw err;
          this.cache.forgetDownloadUrl(path);
        }
      }
    });
  }

  /**
   * The drive's size and use, remembered for the cache TTL and shared by concurrent callers: Windows
   * asks for it on every folder it opens (and per member of a listing). Our own writes that change
   * the use (write, copy, remove) forget it.
   */
  async quota(): Promise<Quota> {
    const now = this.clock.now();
    if (this.quotaCache && this.quotaCache.until > now) return this.quotaCache.value;
    const value = this.edge('quota', async () => {
      const q = await this.api.quota();
      const total = q.total ?? 0;
      const used = q.used ?? 0;
      return { total, used, remaining: q.remaining ?? Math.max(0, total - used) };
    });
    const cached = { value, until: now + this.ttlMs };
    this.quotaCache = cached;
    value.catch(() => {
      if (this.quotaCache === cached) this.quotaCache = undefined;
    });
    return value;
  }

  // ---- writes ----

  /**
   * Concurrent writes of one path (OneDrive names ignore case) wait for each other: on OneDrive for
   * Business and SharePoint a file takes one open upload session at a time (OneDrive/onedrive-api-docs#747),
   * and the later write should replace the earlier, not fail against it.
   */
  async write(path: string, body: Readable, options: WriteOptions = {}): Promise<DriveEntry> {
    return this.edge('write', async () => {
      const key = this.names.pathKey(path);
      return this.writesByPath.run(key, () => this.ownedBy(key, () => this.writeNow(path, body, options)));
    });
  }

  /** With several replicas, a write of a path also waits for the other replicas' writes of it. */
  private async ownedBy<T>(key: string, work: () => Promise<T>): Promise<T> {
    const ownership = this.shared?.writeOwnership;
    if (!ownership) return work();
    const outcome = await ownership.run(`${this.shared!.drive}:${key}`, work);
    if ('busy' in outcome) throw new DriveError('busy', outcome.busy, { retryAfter: outcome.retryAfter });
    return outcome.value;
  }

  private async writeNow(path: string, body: Readable, options: WriteOptions): Promise<DriveEntry> {
    // Before any byte of the body is read (the RemoteDrive contract): a missing parent is refused at
    // once. The parent first, then OneDrive's naming rules: a folder that is not there is the
    // answer WebDAV gives first (RFC 4918 §9.7.1: 409), whatever the name. The root is always
    // there: a bad name in it is refused before any call.
    if (parentPath(path) === '/') assertValidPath(path, { documentLibrary: this.documentLibrary });
    const parent = await this.parentFolder(path);
    assertValidPath(path, { documentLibrary: this.documentLibrary });
    let item: DriveItem;
    try {
      item = await uploadFile(this.api, { parentId: parent.id, name: baseName(path) }, body, {
        size: options.size,
        mtime: options.mtime,
        ifMatch: options.ifMatch,
        ifNoneMatch: options.ifNoneMatch,
        signal: options.signal,
        fragmentSize: this.fragmentSize,
        simpleMax: this.simpleMax,
        spoolDir: this.spoolDir,
        journal: this.uploadJournal,
        logger: this.logger,
        parentGone: async () => {
          const id = await this.freshParent(path, parent.id);
          return id === undefined ? undefined : { parentId: id, name: baseName(path) };
        },
      });
    } catch (err) {
      this.cache.invalidateItem(path);
      if (options.ifNoneMatch === '*' && err instanceof GraphError && err.code === 'nameAlreadyExists') {
        throw new DriveError('changed', `${path} already exists and If-None-Match: * asked to only create it.`, { cause: err });
      }
      throw err;
    }
    const entry = toEntry(item, childPath(parentPath(path), item.name));
    this.cache.recordItem(path, entry);
    this.quotaCache = undefined;
    return entry;
  }

  /**
   * Concurrent MKCOLs of one new folder (rclone makes a file's parent once per transfer) cost one
   * Graph call: the later ones wait for it and find the folder made, which WebDAV answers 405
   * (RFC 4918 §9.3.1), as Graph's 409 nameAlreadyExists would have made them; its failure is theirs.
   */
  async mkdir(path: string): Promise<DriveEntry> {
    return this.edge('mkdir', async () => {
      const key = this.names.pathKey(path);
      const running = this.mkdirsInFlight.get(key);
      if (running) {
        await running;
        throw new DriveError('exists', `${path} was just created by another request.`);
      }
      // Made by one of ours a moment ago (a request that looked before it was recorded), or known from a child.
      if (this.cache.peekItem(path) || this.knowsFolder(path)) throw new DriveError('exists', `${path} already exists.`);
      const work = this.mkdirNow(path);
      this.mkdirsInFlight.set(key, work);
      try {
        return await work;
      } finally {
        if (this.mkdirsInFlight.get(key) === work) this.mkdirsInFlight.delete(key);
      }
    });
  }

  private async mkdirNow(path: string): Promise<DriveEntry> {
    // The parent first (RFC 4918 §9.3.1: 409), then OneDrive's naming rules, as in write. The
    // root is always there, and Graph takes new folders at `root/children` without its id
    // (https://learn.microsoft.com/graph/api/driveitem-post-children), in every cloud: no call to learn it.
    const inRoot = parentPath(path) === '/' && this.cache.peekItem('/') === undefined;
    let parent = inRoot ? undefined : await this.parentFolder(path);
    assertValidPath(path, { documentLibrary: this.documentLibrary });
    let item: DriveItem;
    try {
      const create = (parentId: string | undefined) => this.api.createFolder(parentId ? { id: parentId } : { path: '/' }, baseName(path), { conflictBehavior: 'fail' });
      item = await create(parent?.id).catch(async (err: unknown) => {
        const fresh = parent && err instanceof GraphError && err.isNotFound ? await this.freshParent(path, parent.id) : undefined;
        if (fresh === undefined) throw err;
        parent = { id: fresh };
        return create(fresh);
      });
    } catch (err) {
      // Its answer lost, the folder may be there: empty and new where the caller saw nothing, it is what was asked.
      const made = mayHaveHappened(err) ? await this.freshItem(path) : undefined;
      const parentId = parent?.id ?? (made ? (await this.lookup('/').catch(() => null))?.id : undefined);
      if (!made?.folder || !sameId(made.parentReference?.id, parentId) || (made.folder.childCount ?? 0) > 0) throw this.afterFailure(err, [path]);
      item = made;
    }
    // Made at `root/children`: its parentReference names the root.
    if (!parent && item.parentReference?.id) this.learnRootId(item.parentReference.id);
    const entry = toEntry(item, childPath(parentPath(path), item.name));
    this.cache.recordItem(path, entry);
    // We just made it (conflictBehavior fail): it is empty, and writes into it will be recorded.
    this.cache.setListing(path, [], item.id);
    return entry;
  }

  async move(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<DriveEntry> {
    return this.edge('move', async () => {
      assertValidPath(to, { documentLibrary: this.documentLibrary });
      if (from === '/') throw new DriveError('forbidden', 'The drive root cannot be moved.');
      return this.onceMoreAfterStaleParent(to, (remembered) => this.moveOnce(from, to, options, { remembered }));
    });
  }

  private async moveOnce(from: string, to: string, options: { overwrite?: boolean }, use: { remembered: boolean }): Promise<DriveEntry> {
    const source = await this.stat(from);
    const parent = await this.parentFolder(to, use);
    // A move resets fileSystemInfo.lastModifiedDateTime unless the PATCH sends it again
    // (rclone/rclone backend/onedrive/onedrive.go Move: "it gets reset otherwise").
    const patch = { name: baseName(to), parentId: parent.id, lastModified: source.modified.getTime() > 0 ? source.modified : undefined };
    const place = async () => {
      const placed = await this.api.update({ id: source.id }, patch, { conflictBehavior: 'fail' }).catch((err: unknown) => {
        // An earlier run's root id Graph refuses (another drive now, or an emulator started afresh): nothing moved.
        if (parent.remembered && err instanceof GraphError && (err.isNotFound || err.status === 400)) throw new StaleParent(parent);
        throw err;
      });
      if (await this.inDestinationFolder(placed, parent, to)) return placed;
      // Graph took a folder id it does not know and renamed the item where it was
      // (OneDrive/onedrive-api-docs#1381): the id was stale. Its name goes back before anything else.
      await this.api.update({ id: source.id }, { name: source.name, lastModified: patch.lastModified }, { conflictBehavior: 'fail' }).catch((err: unknown) => {
        this.cache.invalidatePrefix(parentPath(from));
        throw new DriveError('upstream', `Moving ${from} renamed it to ${placed.name} in its own folder (Graph ignored a destination it no longer knows) and the old name could not be given back: ${String(err)}`);
      });
      throw new StaleParent(parent);
    };
    let item: DriveItem;
    try {
      item = await place();
    } catch (err) {
      // A stale folder id changed nothing in the end (see place): what is known of both paths still holds.
      if (err instanceof StaleParent) throw err;
      if (!(err instanceof GraphError && err.code === 'nameAlreadyExists' && options.overwrite)) throw this.afterFailure(err, [from, to]);
      // Overwrite: the old item (file or folder) is set aside, and put back if the move fails (drive/replace.ts).
      try {
        item = await this.replaceExisting(to, source.id, {
          place,
          // The move's answer may have been lost after it happened: believe where the source is now.
          landed: async () => {
            const now = await this.api.getItem({ id: source.id });
            return sameId(now.parentReference?.id, parent.id) && this.names.sameName(now.name, patch.name) ? now : undefined;
          },
        });
      } catch (failure) {
        throw this.afterFailure(failure, [from, to]);
      }
    }
    if (parent.remembered) this.learnRootId(parent.id);
    // Whatever was known at or below `to` is gone; the destination folder's listing stays and learns
    // the item; what was known below a moved folder moves with it (same ids), so no relisting.
    const entry = toEntry(item, childPath(parentPath(to), item.name));
    this.cache.recordMove(from, to, entry, (moved, path) => ({ ...moved, path }));
    return entry;
  }

  /**
   * Whether Graph put `item` (a move's or copy's answer) in the folder at parentPath(to): the id
   * asked for, or else the folder found there now. Ids compare without case: Graph's casing of the
   * same id varies between answers (abraunegg/onedrive#3336), and a personal drive's root id was
   * changed under its users (OneDrive/onedrive-api-docs#1890), so only a folder Graph names now decides.
   */
  private async inDestinationFolder(item: DriveItem, parent: { id: string }, to: string): Promise<boolean> {
    const placedIn = item.parentReference?.id;
    if (placedIn === undefined || sameId(placedIn, parent.id)) return true;
    const where = parentPath(to);
    if (where !== '/') this.cache.invalidateItem(where);
    else this.rootId = undefined;
    const now = await this.lookup(where);
    return now !== null && sameId(now.id, placedIn);
  }

  /**
   * Graph answered 404 for `staleId`, the folder id a write or MKCOL of `path` used: another client
   * may have replaced the folder (a new id under the same name), or deleted it. What the cache held
   * at and below the folder goes, and the folder is asked for afresh: its new id, or undefined when
   * it is gone or kept its id (then the 404 stands: 409 to the client). Graph's 404 for an item id
   * it does not know: itemNotFound (https://learn.microsoft.com/graph/errors).
   */
  private async freshParent(path: string, staleId: string): Promise<string | undefined> {
    const where = parentPath(path);
    if (where === '/') {
      this.rootId = undefined;
      this.cache.invalidateItem('/');
    } else this.cache.invalidatePrefix(where);
    const now = await this.lookup(where);
    return now?.isFolder && !sameId(now.id, staleId) ? now.id : undefined;
  }

  /**
   * Runs a move or copy to `to`; after a StaleParent (nothing changed), drops the remembered root id,
   * or what the cache held of the destination's folder, and runs it once more without a remembered id.
   */
  private async onceMoreAfterStaleParent<T>(to: string, attempt: (remembered: boolean) => Promise<T>): Promise<T> {
    try {
      return await attempt(true);
    } catch (err) {
      if (!(err instanceof StaleParent)) throw err;
      if (!err.remembered) this.cache.invalidatePrefix(parentPath(to));
      // Only the id that failed: the check may have learned the right one meanwhile (inDestinationFolder).
      else if (this.memory?.rootId === err.id) this.memory.forgetRootId();
      return await attempt(false);
    }
  }

  async copy(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<DriveEntry> {
    return this.edge('copy', async () => {
      assertValidPath(to, { documentLibrary: this.documentLibrary });
      return this.onceMoreAfterStaleParent(to, () => this.copyOnce(from, to, options));
    });
  }

  private async copyOnce(from: string, to: string, options: { overwrite?: boolean }): Promise<DriveEntry> {
    const source = await this.stat(from);
    const parent = await this.parentFolder(to);
    const existing = await this.lookup(to);
    const place = async () => {
      const copied = await this.api.copy({ id: source.id }, { parentId: parent.id, name: baseName(to) }, { conflictBehavior: 'fail' });
      if (await this.inDestinationFolder(copied, parent, to)) return copied;
      // Graph took a folder id it does not know and copied beside the source
      // (OneDrive/onedrive-api-docs#1381): that copy is this request's own new item, and goes.
      await this.api.delete({ id: copied.id }, { ifMatch: copied.eTag });
      throw new StaleParent(parent);
    };
    // The monitor URL is lost with the answer: the destination shows whether the copy was made.
    const landed = async () => {
      const now = await this.freshItem(to);
      return now && !sameId(now.id, existing?.id) && sameId(now.parentReference?.id, parent.id) && sameContent(now, source) ? now : undefined;
    };
    if (existing) {
      if (sameId(existing.id, source.id)) throw new DriveError('forbidden', 'Source and destination of a copy are the same item.');
      if (!options.overwrite) throw new DriveError('exists', `${to} already exists; overwrite was not allowed.`);
    }
    let item: DriveItem;
    try {
      if (existing) item = await this.replaceExisting(to, source.id, { place, landed });
      else {
        try {
          item = await place();
        } catch (err) {
          const made = mayHaveHappened(err) ? await landed().catch(() => undefined) : undefined;
          if (!made) throw err;
          item = made;
        }
      }
    } catch (err) {
      throw this.afterFailure(err, [to]);
    }
    item = await this.keepModifiedTimes(source, item);
    this.cache.recordRemoval(to);
    const entry = toEntry(item, childPath(parentPath(to), item.name));
    this.cache.recordItem(to, entry);
    this.quotaCache = undefined;
    return entry;
  }

  async remove(path: string, options: { ifUnchanged?: { version: string; etag: string } } = {}): Promise<void> {
    return this.edge('remove', async () => {
      if (path === '/' || path === '') throw new DriveError('forbidden', 'The drive root cannot be deleted.');
      const known = this.cache.peekItem(path);
      if (known === null) throw notFound(path);
      const expected = options.ifUnchanged;
      try {
        if (expected) {
          // Read afresh: a folder's eTag misses writes below it, its entity tag does not (entity-tag.ts).
          const now = await this.api.getItem(known ? { id: known.id } : await this.ref(path));
          const entry = toEntry(now, path);
          if (entry.version !== expected.version || entry.etag !== expected.etag) throw new DriveError('changed', `${path} changed since it was read; it was not deleted.`);
          await this.api.delete({ id: now.id }, { ifMatch: expected.version });
        } else await this.api.delete(known ? { id: known.id } : await this.ref(path));
      } catch (err) {
        if (err instanceof GraphError && err.isNotFound) this.cache.recordRemoval(path);
        throw err;
      }
      this.cache.recordRemoval(path);
      this.quotaCache = undefined;
    });
  }

  async setModified(path: string, mtime: Date): Promise<DriveEntry> {
    return this.edge('setModified', async () => {
      const known = this.cache.peekItem(path);
      let item: DriveItem;
      try {
        item = await this.api.update(known ? { id: known.id } : await this.ref(path), { lastModified: mtime });
      } catch (err) {
        throw this.afterFailure(err, [path]);
      }
      const entry = toEntry(item, statPath(path, item));
      this.cache.recordItem(path, entry);
      return entry;
    });
  }

  // ---- remote changes ----

  /** Polls the delta feed once now (the background poll does this every deltaPollSeconds). */
  async pollChanges(): Promise<number> {
    if (!this.api.features.delta) return 0;
    const poller = this.poller ?? (this.manualPoller ??= new DeltaPoller(this.deltaFeed(), this.cache, 0));
    const first = await poller.pollOnce();
    return first;
  }

  private manualPoller: DeltaPoller | undefined;

  cacheStats(): CacheStats {
    return this.cache.stats();
  }

  close(): void {
    this.poller?.stop();
    this.coherence?.close();
  }

  // ---- helpers ----

  /** The edge: whatever fails inside leaves as a DriveError (graph-errors.ts), never a GraphError. */
  private async edge<T>(op: DriveOperation, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw driveErrorFromGraph(err, op);
    } finally {
      // With replicas: a change is answered once the others have been told (coherence.ts).
      if (CHANGES.has(op)) await this.coherence?.published();
    }
  }

  /** Nothing is below a folder Graph said a moment ago was not there (see parentFolder). */
  private belowFreshAbsence(path: string): boolean {
    for (let above = parentPath(path); path !== '/' && above !== '/'; above = parentPath(above)) {
      if ((this.cache.absentForMs(above) ?? Infinity) < FRESH_ABSENCE_MS) return true;
    }
    return false;
  }

  /** The entry at `path`, or null when nothing is there. Invalid names are known absent without a call. */
  private async lookup(path: string): Promise<GraphEntry | null> {
    if (path !== '/' && pathProblem(path) !== undefined) return null;
    if (this.belowFreshAbsence(path)) return null;
    return this.cache.item(path, async () => {
      const generation = this.cache.generation;
      const ref = await this.addressOf(path);
      if (!ref) return null;
      try {
        // The download URL comes in the same response for free: a GET that follows a cold stat
        // (the usual WebDAV order) then needs no second call.
        const fetchedAt = this.clock.now();
        const item = await this.api.getItem(ref, { withDownloadUrl: true });
        this.learnFolders(path, item, generation);
        const url = item['@microsoft.graph.downloadUrl'];
        const entry = toEntry(item, statPath(path, item));
        if (url && !entry.isFolder) this.cache.setDownloadUrl(path, { url, expiresAt: fetchedAt + this.api.downloadUrlLifetimeMs, id: entry.id, version: entry.version });
        return entry;
      } catch (err) {
        if (err instanceof GraphError && err.isNotFound) return null;
        throw err;
      }
    });
  }

  /**
   * The download URLs a listing brought, each trusted as long as one fetched by itself (from when
   * the listing was asked for). At most LISTED_URLS_KEPT per folder: a URL costs its length in
   * memory (a SharePoint one is over 1 KB) and a 100,000-item folder must not fill the cache with them.
   */
  private keepListedDownloadUrls(folder: string, items: readonly DriveItem[], fetchedAt: number, budget: number): number {
    let kept = 0;
    for (const item of items) {
      const url = item['@microsoft.graph.downloadUrl'];
      if (!url || item.folder !== undefined || item.eTag === undefined) continue;
      if (kept >= budget) break;
      kept++;
      this.cache.setDownloadUrl(childPath(folder, item.name), { url, expiresAt: fetchedAt + this.api.downloadUrlLifetimeMs, id: item.id, version: item.eTag });
    }
    return kept;
  }

  /**
   * How to name `path` to Graph: by path where the cloud serves that; by id otherwise, from the
   * cache, or looked up (walking from the root by id when cold) and cached for the next request.
   */
  private async ref(path: string): Promise<ItemRef> {
    if (this.api.features.pathAddressing || path === '/') return { path };
    return { id: (await this.stat(path)).id };
  }

  /** How to look `path` up: by path, or by name under its parent's id (null when the parent is not a folder). */
  private async addressOf(path: string): Promise<ItemRef | null> {
    if (this.api.features.pathAddressing || path === '/') return { path };
    const parent = await this.lookup(parentPath(path));
    return parent?.isFolder ? { parentId: parent.id, name: baseName(path) } : null;
  }

  /**
   * An item Graph found at `path` names its parent folder's id (parentReference.id): the folder at
   * parentPath(path), since Graph resolved the path through it. Kept, a write, a MKCOL or a move
   * into that folder needs no lookup of it.
   */
  private learnFolders(path: string, item: DriveItem, generation: number): void {
    if (item.root !== undefined) {
      this.learnRootId(item.id);
      return;
    }
    const parentId = item.parentReference?.id;
    if (!parentId || path === '/') return;
    const folder = parentPath(path);
    if (folder === '/') this.learnRootId(parentId);
    else this.cache.noteFolder(folder, parentId, generation);
  }

  private learnRootId(id: string): void {
    if (this.rootId === id) return;
    this.rootId = id;
    this.memory?.rememberRootId(id);
  }

  /** The id of the folder at `path` when known without a call. */
  private knownFolderId(path: string): string | undefined {
    return path === '/' ? (this.rootId ?? this.cache.folderId('/')) : this.cache.folderId(path);
  }

  /**
   * Whether a folder is known to be at `path` without asking Graph (RemoteDrive.knowsFolder): a
   * MKCOL there is answered 405 at once. rclone's webdav backend sends one for the destination's
   * folder before each move (backend/webdav/webdav.go mkParentDir).
   */
  knowsFolder(path: string): boolean {
    return path === '/' || this.knownFolderId(path) !== undefined;
  }

  /**
   * The folder that will hold `path`; WebDAV wants 409 when it is missing or a file. Known from a
   * child's parentReference (learnFolders), it costs no call. `remembered`: an earlier run's root
   * id will do (the caller checks it against Graph's answer: see move).
   */
  private async parentFolder(path: string, options: { remembered?: boolean } = {}): Promise<{ id: string; remembered?: true }> {
    const where = parentPath(path);
    const known = this.cache.peekItem(where);
    if (known === undefined) {
      const id = this.knownFolderId(where);
      if (id) return { id };
      const remembered = where === '/' && options.remembered ? this.memory?.rootId : undefined;
      if (remembered) return { id: remembered, remembered: true };
    }
    const absentFor = this.cache.absentForMs(where);
    let parent = await this.lookup(where);
    if (!parent && where !== '/' && known !== undefined && !(absentFor !== undefined && absentFor < FRESH_ABSENCE_MS)) {
      // The cache may not know a folder another client just made: ask Graph before refusing. Not
      // when Graph said so a moment ago (rclone asks for each of its transfers in turn): the
      // docs are silent; a 409 loses nothing, and the client making the folder is told 405 by Graph's 409.
      this.cache.invalidateItem(where);
      parent = await this.lookup(where);
    }
    if (!parent || !parent.isFolder) {
      throw new DriveError('parentMissing', `The folder ${where} does not exist; create it first.`);
    }
    return parent;
  }

  /**
   * Puts the source (by `place`) where a file or a folder is now, without losing that item if it
   * fails (drive/replace.ts).
   */
  private async replaceExisting(to: string, sourceId: string, work: { place: () => Promise<DriveItem>; landed: () => Promise<DriveItem | undefined> }): Promise<DriveItem> {
    this.cache.invalidateItem(to);
    const old = await this.lookup(to);
    if (!old || sameId(old.id, sourceId)) return work.place();
    const folderLength = splitPath(parentPath(to)).join('/').length;
    const maxNameLength = Math.min(MAX_NAME_LENGTH, MAX_PATH_LENGTH - folderLength - 1);
    const replaced = { id: old.id, name: old.name, eTag: old.version, modified: old.modified, isFolder: old.isFolder };
    return replaceItem({ api: this.api, old: replaced, maxNameLength, logger: this.logger, ...work });
  }

  /** The item at `path` as Graph has it now (not the cache), or undefined. */
  private async freshItem(path: string): Promise<DriveItem | undefined> {
    try {
      const ref = await this.addressOf(path);
      return ref ? await this.api.getItem(ref) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The copy is made; only its times are left to fix. A failure here keeps the copy (and its
   * copy-time mtimes) rather than failing a COPY whose bytes are all in place.
   */
  private async keepModifiedTimes(source: DriveEntry, copy: DriveItem): Promise<DriveItem> {
    try {
      return await carryModifiedTimes(this.api, { id: source.id, isFolder: source.isFolder, modified: source.modified.getTime() || undefined }, copy, this.names);
    } catch {
      return copy;
    }
  }

  /** After a failed write the cached view of these paths may be wrong: forget it. */
  private afterFailure(err: unknown, paths: string[]): unknown {
    for (const p of paths) this.cache.invalidateItem(p);
    return err;
  }

  private deltaFeed(): DeltaFeed {
    return {
      changes: async (link) => {
        const page = await this.api.delta(link);
        return {
          deltaLink: page.deltaLink,
          changes: page.items.map((item) => ({
            id: item.id,
            deleted: item.deleted !== undefined,
            isFolder: item.folder !== undefined,
            isRoot: item.root !== undefined,
            name: item.name,
            parentId: item.parentReference?.id,
            path: item.name !== undefined ? pathFromParentReference(item.parentReference?.path, item.name) : undefined,
          })),
        };
      },
    };
  }
}

/** A DriveItem as the WebDAV layer sees it (plus the hashes GraphDrive keeps for itself). */
export function toEntry(item: DriveItem, path: string): GraphEntry {
  const isFolder = item.folder !== undefined || item.root !== undefined || item.package?.type === 'oneNote';
  const created = item.fileSystemInfo?.createdDateTime ?? item.createdDateTime;
  const modified = item.fileSystemInfo?.lastModifiedDateTime ?? item.lastModifiedDateTime;
  // A class instance, not a literal: see entry-record.ts.
  const entry: GraphEntry = new EntryRecord(
    item.id,
    path,
    item.root !== undefined ? '' : item.name,
    isFolder,
    isFolder ? 0 : (item.size ?? 0),
    created ? new Date(created) : new Date(0),
    modified ? new Date(modified) : new Date(0),
    entityTagOf(item, isFolder),
    item.eTag ?? '',
  );
  if (isFolder && item.folder?.childCount !== undefined) entry.childCount = item.folder.childCount;
  if (item.file?.mimeType) entry.mimeType = item.file.mimeType;
  if (item.file?.hashes?.quickXorHash) entry.quickXorHash = item.file.hashes.quickXorHash;
  if (item.file?.hashes?.sha1Hash) entry.sha1Hash = item.file.hashes.sha1Hash;
  return entry;
}

async function* onePage<T>(page: T[]): AsyncGenerator<T[]> {
  yield page;
}

/** A download's answer as a ReadBody: 206 with its Content-Range, 200 whole, 416 refused. */
function readBodyOf(path: string, res: { status: number; headers: Record<string, string>; body: Readable }): ReadBody {
  if (res.status === 416) {
    discard(res.body);
    throw new DriveError('rangeNotSatisfiable', `The requested range lies outside ${path}.`);
  }
  const declared = Number(res.headers['content-length']);
  const length = Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
  if (res.status !== 206) return { body: res.body, length };
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers['content-range'] ?? '');
  if (!match) {
    discard(res.body);
    throw new DriveError('upstream', 'OneDrive answered a range request without a usable Content-Range; try again.');
  }
  return { body: res.body, length, range: { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) } };
}

/** Drops a download body we will not pass on (destroying an undici body errors it: that error is expected). */
function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

/** The path to report for a stat: the parent as asked, the name as stored (OneDrive keeps case). */
function statPath(asked: string, item: DriveItem): string {
  if (asked === '/' || item.root !== undefined) return '/';
  return childPath(parentPath(asked), item.name);
}

/**
 * Estimated heap bytes of a cached entry: the object and its two Dates (~330), plus its strings.
 * Checked against the heap by bench/cache-memory.ts (the estimate must not be below what it measures).
 */
function entrySize(entry: GraphEntry): number {
  let n = 330 + 2 * (entry.id.length + entry.path.length + entry.name.length + entry.etag.length + entry.version.length);
  n += 2 * ((entry.mimeType?.length ?? 0) + (entry.quickXorHash?.length ?? 0) + (entry.sha1Hash?.length ?? 0));
  return n;
}

/**
 * Two Graph item ids name the same item (case aside: see inDestinationFolder). Every check of where
 * an item is compares this way, the lost-answer ones (`landed`) too: an exact compare there took a
 * move or copy that had happened for one that had not. An absent id matches nothing.
 */
function sameId(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && (a === b || a.toLowerCase() === b.toLowerCase());
}

/** Whether `item` is a copy of `source`: both folders, or files of the same size and hash. */
function sameContent(item: DriveItem, source: GraphEntry): boolean {
  if (source.isFolder) return item.folder !== undefined;
  if (item.folder !== undefined || item.size !== source.size) return false;
  const hashes = item.file?.hashes;
  if (source.quickXorHash && hashes?.quickXorHash) return hashes.quickXorHash === source.quickXorHash;
  if (source.sha1Hash && hashes?.sha1Hash) return hashes.sha1Hash.toLowerCase() === source.sha1Hash.toLowerCase();
  return false;
}

function notFound(path: string): DriveError {
  return new DriveError('notFound', `Nothing exists at ${path}.`);
}

function notAFile(path: string): DriveError {
  return new DriveError('isFolder', `${path} is a folder; only files have a download URL.`);
}

/**
 * A move or copy went to a folder id Graph no longer knows: refused (nothing happened), or taken
 * and ignored, its stray result already undone. The caller asks for the folder afresh, once.
 */
class StaleParent extends Error {
  readonly id: string;
  readonly remembered: boolean;
  constructor(parent: { id: string; remembered?: true }) {
    super(`The destination folder ${parent.id} is no longer known to Graph.`);
    this.id = parent.id;
    this.remembered = parent.remembered === true;
  }
}
