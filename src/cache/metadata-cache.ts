import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../util/clock.js';
import { baseName as nameOf, childPath as joinPath, parentPath as parentOf, type NameFolding } from '../util/drive-path.js';
import { pull } from '../util/page-puller.js';
import { SingleFlight } from './single-flight.js';

/** What the cache needs to know about an item; the drive facade stores its DriveEntry. */
export interface CacheableItem {
  id: string;
  name: string;
  isFolder: boolean;
}

export interface CachedDownloadUrl {
  url: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** The item the URL was issued for, and its version then (the caller checks them before handing the URL out). */
  id?: string;
  version?: string;
}

export interface MetadataCacheOptions<T extends CacheableItem> {
  /** How long items and listings are trusted; 0 turns storing off (loads are still coalesced). */
  ttlMs: number;
  maxEntries: number;
  /** Approximate memory bound over all entries. */
  maxBytes: number;
  clock?: Clock;
  /** How the drive compares names: keys are folded as the drive folds them. */
  names: NameFolding;
  /** Estimated bytes of one item; the default sizes its JSON. */
  sizeOf?: (item: T) => number;
  /** Download URLs are dropped this long before they expire (default 30 s). */
  downloadUrlMarginMs?: number;
  /**
   * Largest listing kept (estimated bytes, default half of maxBytes): a bigger folder is streamed
   * every time rather than cached, so one huge folder neither flushes everything else nor is kept half.
   */
  maxListingBytes?: number;
}

/** A folder's children arriving in pages (GraphDrive: Graph's pages), and the folder's id once known. */
export interface PagedLoad<T> {
  pages: AsyncIterable<T[]>;
  folderId(): string | undefined;
  /** How many children the folder said it has, when known: a listing that will not fit is not kept from its first page on. */
  expectedCount?: number;
}

/** Pages handed out from a cached listing: the size of Graph's largest page. */
const CACHED_PAGE = 1000;

/**
 * Estimated bytes a listed child costs beyond its own entry: its slot in the listing's array, in
 * the name index big listings get (a folded name and a Map entry), and in pathById (a path key and
 * a Map entry). Measured with bench/cache-memory.ts.
 */
const LISTED_CHILD_OVERHEAD = 200;

/** What a write of this process changed: everything at (and below) `path`, and its parent's listing. */
export interface LocalChange {
  path: string;
  id?: string;
}

/** A remote change, as the delta feed reports it. */
export interface RemoteChange {
  id: string;
  deleted: boolean;
  isFolder?: boolean;
  /** The drive root: reported whenever anything changes; carries nothing to forget. */
  isRoot?: boolean;
  name?: string;
  /** The item's drive path when the feed gives it (personal OneDrive does; business often doesn't). */
  path?: string;
  parentId?: string;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Loads that joined one already in flight. */
  coalesced: number;
  entries: number;
  bytes: number;
  evictions: number;
  invalidations: number;
}

type Entry<T> =
  | { kind: 'item'; item: T | null }
  /** `bytes`: the children's estimated size (sizeOf + LISTED_CHILD_OVERHEAD each), kept so one change does not re-size them all. */
  | { kind: 'listing'; folderId?: string; children: T[]; bytes: number }
  | { kind: 'url'; url: CachedDownloadUrl }
  | { kind: 'folder'; id: string };

/**
 * Items by path, folder listings and download URLs, in one lru-cache bounded by entries and bytes,
 * with a TTL on an injected clock. Keys are folded as the drive compares names (`options.names`).
 * A cached listing also answers item lookups of its children (present or absent) with no call.
 */
export class MetadataCache<T extends CacheableItem> {
  private readonly lru: LRUCache<string, Entry<T>>;
  private readonly flights = new SingleFlight<unknown>();
  private readonly nameIndex = new WeakMap<T[], Map<string, T>>();
  /** id → path key of cached items and listed folders, to map delta changes that carry no path. */
  private readonly pathById = new Map<string, string>();
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly names: NameFolding;
  private readonly sizeOf: (item: T) => number;
  private readonly urlMarginMs: number;
  private readonly maxListingBytes: number;
  private counters = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };
  /**
   * Told what this process's own writes changed (paths, and the item's id when known), so other
   * replicas can forget it too (coherence.ts). Not told of what it applies from them or from delta.
   */
  onLocalChange: ((change: LocalChange) => void) | undefined;

  constructor(options: MetadataCacheOptions<T>) {
    this.ttlMs = options.ttlMs;
    this.clock = options.clock ?? systemClock;
    this.names = options.names;
    this.sizeOf = options.sizeOf ?? ((item) => 64 + 2 * JSON.stringify(item).length);
    this.urlMarginMs = options.downloadUrlMarginMs ?? 30_000;
    this.maxListingBytes = Math.min(options.maxListingBytes ?? Math.floor(options.maxBytes / 2), options.maxBytes);
    this.lru = new LRUCache<string, Entry<T>>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (entry, key) => Math.max(1, this.entrySize(entry, key)),
      ttl: Math.max(1, options.ttlMs),
      ttlResolution: 0,
      perf: { now: () => this.clock.now() },
      dispose: (entry, key, reason) => {
        if (reason === 'evict') this.counters.evictions++;
        if (reason === 'set') return; // replaced by a newer value for the same key
        const path = key.slice(2);
        const forget = (id: string, at: string) => {
          if (this.pathById.get(id) === at) this.pathById.delete(id);
        };
        if (entry.kind === 'item' && entry.item) forget(entry.item.id, path);
        if (entry.kind === 'folder') forget(entry.id, path);
        if (entry.kind === 'listing') {
          if (entry.folderId) forget(entry.folderId, path);
          for (const child of entry.children) forget(child.id, this.names.pathKey(joinPath(path, child.name)));
        }
      },
    });
  }

  private get storing(): boolean {
    return this.ttlMs > 0;
  }

  // ---- items ----

  /** The item at `path` (null when absent), from the cache or `load` (single-flight). */
  async item(path: string, load: () => Promise<T | null>): Promise<T | null> {
    const known = this.peekItem(path);
    if (known !== undefined) {
      this.counters.hits++;
      return known;
    }
    this.counters.misses++;
    return this.flights.run(`i:${this.names.pathKey(path)}`, load, (item) => this.setItem(path, item as T | null)) as Promise<T | null>;
  }

  /** Cached knowledge of `path`: the item, null (known absent), or undefined (unknown). */
  peekItem(path: string): T | null | undefined {
    const entry = this.lru.get(`i:${this.names.pathKey(path)}`);
    if (entry?.kind === 'item') return entry.item;
    if (path === '/' || path === '') return undefined;
    const parent = this.lru.get(`l:${this.names.pathKey(parentOf(path))}`);
    if (parent?.kind === 'listing') return this.childNamed(parent.children, this.names.nameKey(nameOf(path)));
    return undefined;
  }

  /**
   * How long ago the cache learned that nothing is at `path` (its own entry is null, or its
   * parent's listing lacks it), in ms; undefined when it does not hold that.
   */
  absentForMs(path: string): number | undefined {
    const ageOf = (key: string) => {
      const remaining = this.lru.getRemainingTTL(key);
      return remaining > 0 ? Math.max(0, this.ttlMs - remaining) : undefined;
    };
    const key = `i:${this.names.pathKey(path)}`;
    const entry = this.lru.peek(key);
    if (entry?.kind === 'item') return entry.item === null ? ageOf(key) : undefined;
    if (path === '/' || path === '') return undefined;
    const listingKey = `l:${this.names.pathKey(parentOf(path))}`;
    const listing = this.lru.peek(listingKey);
    if (listing?.kind !== 'listing' || this.childNamed(listing.children, this.names.nameKey(nameOf(path))) !== null) return undefined;
    return ageOf(listingKey);
  }

  /**
   * The child of a cached listing with this (folded) name. Big listings get a name index on first
   * use, so a client stat-ing every file of a 10,000-item folder does not scan it 10,000 times.
   * Listings are replaced, never changed in place, so an index stays true for its array (one
   * changed child moves the index on to the new array: changeListing).
   */
  private childNamed(children: T[], name: string): T | null {
    if (children.length < 32) return children.find((c) => this.names.nameKey(c.name) === name) ?? null;
    let index = this.nameIndex.get(children);
    if (!index) {
      index = new Map();
      for (const child of children) {
        const key = this.names.nameKey(child.name);
        if (!index.has(key)) index.set(key, child);
      }
      this.nameIndex.set(children, index);
    }
    return index.get(name) ?? null;
  }

  /**
   * Changes with every invalidation: read it before a load, pass it to setItem/setListing after,
   * and an answer that an invalidation overtook meanwhile is not kept (as single-flight loads are not).
   */
  get generation(): number {
    return this.flights.epoch;
  }

  setItem(path: string, item: T | null, generation?: number): void {
    if (!this.storing || (generation !== undefined && generation !== this.generation)) return;
    const key = this.names.pathKey(path);
    this.lru.set(`i:${key}`, { kind: 'item', item });
    if (item) this.pathById.set(item.id, key);
  }

  // ---- folders known by a child ----

  /**
   * A folder is at `path` with this id: what a child's `parentReference.id` says when the child was
   * looked up by its path. Enough to make or move something into the folder, or to answer a MKCOL
   * of it, without asking Graph about the folder itself; trusted as long as an item.
   */
  noteFolder(path: string, id: string, generation?: number): void {
    if (!this.storing || (generation !== undefined && generation !== this.generation)) return;
    const key = this.names.pathKey(path);
    if (this.lru.peek(`i:${key}`) !== undefined || this.lru.peek(`l:${key}`) !== undefined) return;
    this.lru.set(`f:${key}`, { kind: 'folder', id });
    this.pathById.set(id, key);
  }

  /** The id of the folder at `path` when the cache knows one is there (its item, its listing, or a child's parentReference). */
  folderId(path: string): string | undefined {
    const item = this.peekItem(path);
    if (item !== undefined) return item?.isFolder ? item.id : undefined;
    const key = this.names.pathKey(path);
    const listing = this.lru.get(`l:${key}`);
    if (listing?.kind === 'listing' && listing.folderId) return listing.folderId;
    const folder = this.lru.get(`f:${key}`);
    return folder?.kind === 'folder' ? folder.id : undefined;
  }

  // ---- listings ----

  /** A folder's children, from the cache or `load` (single-flight); loading also fills their item entries. */
  async listing(path: string, load: () => Promise<{ folderId?: string; children: T[] }>): Promise<T[]> {
    let loaded: { folderId?: string; children: T[] } | undefined;
    const paged = (): PagedLoad<T> => ({
      pages: (async function* () {
        loaded = await load();
        yield loaded.children;
      })(),
      folderId: () => loaded?.folderId,
    });
    return collect(this.listingPages(path, paged));
  }

  /**
   * A folder's children in pages: from the cached listing, or from `load` as its pages arrive. The
   * listing is stored once the last page came, only if nothing was invalidated meanwhile and it fits
   * maxListingBytes; a bigger one is dropped as soon as it outgrows that, so streaming it holds one
   * page at a time. Concurrent cold listings of one folder share the first caller's load (they get
   * its pages once it is complete), unless it was too big to keep: then each streams its own.
   */
  async *listingPages(path: string, load: () => PagedLoad<T>): AsyncGenerator<T[]> {
    const known = this.peekListing(path);
    if (known !== undefined) {
      this.counters.hits++;
      yield* inPages(known);
      return;
    }
    this.counters.misses++;
    type Whole = { folderId?: string; children: T[] } | null;
    let lead: { settle: (value: Whole) => void; fail: (err: unknown) => void } | undefined;
    const shared = this.flights.run(
      `l:${this.names.pathKey(path)}`,
      () => new Promise<Whole>((settle, fail) => (lead = { settle, fail })),
      (value) => {
        const whole = value as Whole;
        if (whole) this.setListing(path, whole.children, whole.folderId);
      },
    ) as Promise<Whole>;
    let streamed: AsyncGenerator<T[]>;
    if (lead) {
      shared.catch(() => {});
      streamed = this.streamed(load(), lead);
    } else {
      const whole = await shared;
      if (whole) {
        yield* inPages(whole.children);
        return;
      }
      streamed = this.streamed(load(), undefined);
    }
    // Not `yield*`: it would keep each page through the next page's request (util/page-puller.ts).
    const pages = pull(streamed);
    try {
      for (let page = await pages.next(); page; page = await pages.next()) yield page.value;
    } finally {
      await pages.close();
    }
  }

  /** Streams `load`'s pages, keeping them for the cache while they fit; `lead` learns the outcome. */
  private async *streamed(load: PagedLoad<T>, lead: { settle: (value: { folderId?: string; children: T[] } | null) => void; fail: (err: unknown) => void } | undefined): AsyncGenerator<T[]> {
    let kept: T[] | undefined = lead && this.storing ? [] : undefined;
    let bytes = 0;
    let done = false;
    // No local holds a page while the next is awaited: see util/page-puller.ts.
    const pages = pull(load.pages);
    try {
      for (let page = await pages.next(); page; page = await pages.next()) {
        if (kept) {
          bytes += this.pageBytes(page.value);
          const count = kept.length + page.value.length;
          const projected = count > 0 ? (bytes / count) * Math.max(count, load.expectedCount ?? 0) : bytes;
          if (bytes > this.maxListingBytes || projected > this.maxListingBytes) kept = undefined;
          else kept.push(...page.value);
        }
        yield page.value;
      }
      done = true;
      lead?.settle(kept ? { folderId: load.folderId(), children: kept } : null);
    } catch (err) {
      done = true;
      lead?.fail(err);
      throw err;
    } finally {
      // The reader stopped early (client gone): nothing complete to share or keep.
      if (!done) lead?.settle(null);
      await pages.close();
    }
  }

  /** Estimated bytes a page of children adds to a kept listing. */
  private pageBytes(page: readonly T[]): number {
    let bytes = 0;
    for (const child of page) bytes += this.sizeOf(child) + LISTED_CHILD_OVERHEAD;
    return bytes;
  }

  peekListing(path: string): T[] | undefined {
    const entry = this.lru.get(`l:${this.names.pathKey(path)}`);
    return entry?.kind === 'listing' ? entry.children : undefined;
  }

  /** Keeps a folder's complete listing (refused when larger than maxListingBytes: see listingPages). */
  setListing(path: string, children: T[], folderId?: string, generation?: number): void {
    if (!this.storing || (generation !== undefined && generation !== this.generation)) return;
    const key = this.names.pathKey(path);
    const id = folderId ?? this.peekItemEntry(path)?.id;
    const entry: Entry<T> = { kind: 'listing', folderId: id, children, bytes: this.pageBytes(children) };
    const size = Math.max(1, this.entrySize(entry, `l:${key}`));
    if (size > this.maxListingBytes) {
      this.lru.delete(`l:${key}`);
      return;
    }
    this.lru.set(`l:${key}`, entry, { size });
    if (id) this.pathById.set(id, key);
    // Children are answered from the listing itself (see peekItem); drop older per-item entries.
    for (const child of children) {
      this.lru.delete(`i:${this.names.pathKey(joinPath(path, child.name))}`);
      this.pathById.set(child.id, this.names.pathKey(joinPath(path, child.name)));
    }
  }

  // ---- download URLs ----

  /**
   * A download URL, from the cache while it is fresh and `valid` accepts it (the caller checks it
   * still belongs to the item it knows at `path`), or from `load` (single-flight). A load may bring
   * the item along: it is stored with the URL.
   */
  async downloadUrl<U extends CachedDownloadUrl>(path: string, load: () => Promise<U & { item?: T }>, valid: (url: CachedDownloadUrl) => boolean = () => true): Promise<U> {
    const entry = this.lru.get(`u:${this.names.pathKey(path)}`);
    if (entry?.kind === 'url' && entry.url.expiresAt - this.urlMarginMs > this.clock.now() && valid(entry.url)) {
      this.counters.hits++;
      return entry.url as U;
    }
    this.counters.misses++;
    return this.flights.run(`u:${this.names.pathKey(path)}`, load, (value) => {
      const { url, expiresAt, id, version, item } = value as U & { item?: T };
      if (item) this.setItem(path, item);
      this.setDownloadUrl(path, { url, expiresAt, id, version });
    }) as Promise<U>;
  }

  /** Whether a download URL for `path` is cached and still fresh (no LRU touch). */
  hasDownloadUrl(path: string): boolean {
    const entry = this.lru.peek(`u:${this.names.pathKey(path)}`);
    return entry?.kind === 'url' && entry.url.expiresAt - this.urlMarginMs > this.clock.now();
  }

  setDownloadUrl(path: string, url: CachedDownloadUrl): void {
    const ttl = url.expiresAt - this.urlMarginMs - this.clock.now();
    if (ttl <= 0) return;
    // Governed by the URL's own lifetime, not the metadata TTL.
    this.lru.set(`u:${this.names.pathKey(path)}`, { kind: 'url', url }, { ttl });
  }

  /** Forgets a download URL the server refused (expired early). */
  forgetDownloadUrl(path: string): void {
    this.lru.delete(`u:${this.names.pathKey(path)}`);
  }

  // ---- after our own writes: record exactly what changed ----

  /** A write put `item` at `path`: its entry, its URL and its place in the parent's listing change. */
  recordItem(path: string, item: T): void {
    this.noteInvalidation();
    this.onLocalChange?.({ path, id: item.id });
    const key = this.names.pathKey(path);
    this.lru.delete(`u:${key}`);
    this.lru.delete(`i:${key}`);
    this.lru.delete(`f:${key}`);
    const parentKey = `l:${this.names.pathKey(parentOf(path))}`;
    const parent = this.lru.get(parentKey);
    if (parent?.kind === 'listing') this.changeListing(parentKey, parent, this.names.nameKey(item.name), { id: item.id, add: item });
    this.setItem(path, item);
  }

  /** A delete or move removed whatever was at `path` (and below, for folders). */
  recordRemoval(path: string): void {
    this.noteInvalidation();
    this.onLocalChange?.({ path });
    this.dropPrefix(path);
    const parentKey = `l:${this.names.pathKey(parentOf(path))}`;
    const parent = this.lru.get(parentKey);
    if (parent?.kind === 'listing') this.changeListing(parentKey, parent, this.names.nameKey(nameOf(path)), {});
    this.setItem(path, null);
  }

  /**
   * A move of ours put the item that was at `from` at `to`. What we knew below a moved folder moves
   * along, ids kept and paths rebased (`rebase` gives an item its new path): Graph moves the subtree
   * with the folder, so nothing below needs listing again. Only listings are carried (with what
   * they answer: their children, and the download URLs of those); the rest is forgotten.
   */
  recordMove(from: string, to: string, item: T, rebase: (item: T, path: string) => T): void {
    const carried = item.isFolder ? this.subtreeMoved(from, to, rebase) : [];
    this.recordRemoval(from);
    this.recordRemoval(to);
    this.recordItem(to, item);
    for (const { key, entry, ttl } of carried) {
      this.lru.set(key, entry, { ttl });
      if (entry.kind !== 'listing') continue;
      const path = key.slice(2);
      if (entry.folderId) this.pathById.set(entry.folderId, path);
      for (const child of entry.children) this.pathById.set(child.id, this.names.pathKey(joinPath(path, child.name)));
    }
  }

  /** The listings at and below `from`, and their files' download URLs, as they read at `to`, with their remaining lifetimes. */
  private subtreeMoved(from: string, to: string, rebase: (item: T, path: string) => T): Array<{ key: string; entry: Entry<T>; ttl: number }> {
    const out: Array<{ key: string; entry: Entry<T>; ttl: number }> = [];
    const remaining = (key: string) => this.lru.getRemainingTTL(key);
    const walk = (oldFolder: string, newFolder: string) => {
      const oldKey = `l:${this.names.pathKey(oldFolder)}`;
      const listing = this.lru.peek(oldKey);
      const ttl = remaining(oldKey);
      if (listing?.kind !== 'listing' || !(ttl > 0)) return;
      const children = listing.children.map((c) => rebase(c, joinPath(newFolder, c.name)));
      out.push({ key: `l:${this.names.pathKey(newFolder)}`, entry: { kind: 'listing', folderId: listing.folderId, children, bytes: this.pageBytes(children) }, ttl });
      for (const child of listing.children) {
        if (child.isFolder) {
          walk(joinPath(oldFolder, child.name), joinPath(newFolder, child.name));
          continue;
        }
        const urlKey = `u:${this.names.pathKey(joinPath(oldFolder, child.name))}`;
        const url = this.lru.peek(urlKey);
        const urlTtl = remaining(urlKey);
        if (url?.kind === 'url' && urlTtl > 0) out.push({ key: `u:${this.names.pathKey(joinPath(newFolder, child.name))}`, entry: url, ttl: urlTtl });
      }
    };
    walk(from, to);
    return out;
  }

  // ---- invalidation ----

  /** Forget the item at `path`, its download URL and its parent's listing. */
  invalidateItem(path: string): void {
    this.noteInvalidation();
    this.onLocalChange?.({ path });
    const key = this.names.pathKey(path);
    this.lru.delete(`i:${key}`);
    this.lru.delete(`u:${key}`);
    this.lru.delete(`f:${key}`);
    this.lru.delete(`l:${this.names.pathKey(parentOf(path))}`);
  }

  /** Forget everything at or below `path`, and the parent's listing. */
  invalidatePrefix(path: string): void {
    this.noteInvalidation();
    this.dropPrefix(path);
    this.lru.delete(`l:${this.names.pathKey(parentOf(path))}`);
  }

  /**
   * Another replica changed `path` (and maybe the item `id`): forget it, everything below it, its
   * parent's listing, and wherever else this cache holds that id. Tells no one (it is not ours).
   */
  forgetChanged(path: string, id?: string): void {
    const at = id !== undefined ? this.pathById.get(id) : undefined;
    this.invalidatePrefix(path);
    if (at !== undefined && at !== this.names.pathKey(path)) this.invalidatePrefix(at);
  }

  invalidateAll(): void {
    this.noteInvalidation();
    this.lru.clear();
    this.pathById.clear();
  }

  /**
   * Applies remote changes from the delta feed: each changed item's old and new places are
   * forgotten (with everything below, for folders), and the listings that held or now hold it.
   * Folders still at their place are reported because something below changed (which is reported
   * too): their own entry and their parent's listing (which holds their tags) are dropped, their
   * subtree stays, so a change deep down doesn't empty the cache.
   * Delta never reports what is below a renamed or moved folder
   * (https://learn.microsoft.com/graph/api/driveitem-delta), so a folder change we cannot place
   * could be the old home of anything we hold: every entry below a folder whose id we never
   * learned is dropped then, and no stale child path is ever served.
   */
  applyRemoteChanges(changes: RemoteChange[]): number {
    // Place every change against the cache as it is now, before forgetting anything: forgetting
    // one entry also forgets the ids it taught us.
    for (const change of changes) {
      if (!change.isRoot) continue;
      // The root never moves: only its own entry (its tags) goes stale, and its id places its children.
      this.lru.delete('i:/');
      this.pathById.set(change.id, '/');
    }
    let unplacedFolder = false;
    const placed = changes
      .filter((change) => !change.isRoot)
      .map((change) => {
        const oldKey = this.pathById.get(change.id);
        const parentKey = change.parentId !== undefined ? this.pathById.get(change.parentId) : undefined;
        const newKey =
          change.path !== undefined ? this.names.pathKey(change.path) : parentKey !== undefined && change.name !== undefined ? this.names.pathKey(joinPath(parentKey, change.name)) : undefined;
        const inPlace = change.isFolder === true && !change.deleted && oldKey !== undefined && (newKey === oldKey || this.seemsInPlace(oldKey, change));
        const maybeFolder = change.isFolder === true || (change.deleted && change.isFolder === undefined);
        if (oldKey === undefined && maybeFolder) unplacedFolder = true;
        return { change, oldKey, parentKey, newKey, inPlace };
      });
    // Nothing is forgotten before this: the ids known now are the ones the placing above saw.
    if (unplacedFolder) this.dropBelowUnknownFolders(new Set(this.pathById.values()));
    let applied = 0;
    for (const { change, oldKey, parentKey, newKey, inPlace } of placed) {
      this.noteInvalidation();
      if (inPlace) {
        // Reported because something below it changed (reported on its own): its tags are stale,
        // in its own entry and in its parent's listing; its subtree is not.
        this.lru.delete(`i:${oldKey}`);
        this.lru.delete(`l:${parentOf(oldKey!)}`);
        continue;
      }
      let known = false;
      if (oldKey !== undefined) {
        this.invalidatePrefix(oldKey);
        known = true;
      }
      if (newKey !== undefined && newKey !== oldKey) {
        this.invalidatePrefix(newKey);
        known = true;
      }
      if (parentKey !== undefined) {
        this.lru.delete(`l:${parentKey}`);
        known = true;
      }
      if (!known && !change.deleted) {
        // A change we cannot place: drop the listings whose folder id we never learned.
        for (const [key, entry] of [...this.lru.entries()]) {
          if (entry.kind === 'listing' && !entry.folderId) this.lru.delete(key);
        }
      }
      if (known) applied++;
    }
    return applied;
  }

  stats(): CacheStats {
    return {
      ...this.counters,
      coalesced: this.flights.coalesced,
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
    };
  }

  /**
   * A folder whose new parent we cannot place: still in place only if its name is unchanged and
   * its old parent is known to be the reported parent. When we never learned the old parent's id
   * it may have moved, and its descendants would not be reported: it is treated as moved.
   */
  private seemsInPlace(oldKey: string, change: RemoteChange): boolean {
    if (change.name === undefined || this.names.nameKey(change.name) !== this.names.nameKey(nameOf(oldKey))) return false;
    const parentKey = parentOf(oldKey);
    const parentId = this.idAt(parentKey);
    return parentId !== undefined && parentId === change.parentId;
  }

  /** Drops every entry with an ancestor folder (below the root) whose id is not in `known`. */
  private dropBelowUnknownFolders(known: Set<string>): void {
    const underUnknown = (path: string): boolean => {
      for (let p = parentOf(path); p !== '/' && p !== ''; p = parentOf(p)) if (!known.has(p)) return true;
      return false;
    };
    for (const key of [...this.lru.keys()]) {
      const path = key.slice(2);
      // A listing is keyed by its own folder: what it holds sits below that folder, so the folder counts too.
      const probe = key.startsWith('l:') ? joinPath(path, 'x') : path;
      if (underUnknown(probe)) this.lru.delete(key);
    }
  }

  /** The id of the folder or item cached at a path key, if known. */
  private idAt(key: string): string | undefined {
    const listing = this.lru.peek(`l:${key}`);
    if (listing?.kind === 'listing' && listing.folderId) return listing.folderId;
    const item = this.lru.peek(`i:${key}`);
    if (item?.kind === 'item' && item.item) return item.item.id;
    const folder = this.lru.peek(`f:${key}`);
    if (folder?.kind === 'folder') return folder.id;
    if (key === '/') return undefined;
    const parent = this.lru.peek(`l:${parentOf(key)}`);
    if (parent?.kind === 'listing') return parent.children.find((c) => this.names.nameKey(c.name) === nameOf(key))?.id;
    return undefined;
  }

  private peekItemEntry(path: string): T | null | undefined {
    const entry = this.lru.get(`i:${this.names.pathKey(path)}`);
    return entry?.kind === 'item' ? entry.item : undefined;
  }

  private noteInvalidation(): void {
    this.counters.invalidations++;
    this.flights.invalidate();
  }

  /**
   * The listing with one child changed: the child named `name` (folded) and any child with `id`
   * gone, `add` appended. A new array, as listings are never changed in place (a PROPFIND may be
   * paging through the old one), but no name is folded again, no child re-sized and the name index
   * is carried over: done over the whole listing, a write into a cached folder of 50,000 items cost
   * 25–40 ms of CPU (bench/cache-updates.ts). The listing keeps its deadline (noUpdateTTL): it
   * holds fresh data for this child only.
   */
  private changeListing(key: string, listing: Extract<Entry<T>, { kind: 'listing' }>, name: string, change: { id?: string; add?: T }): void {
    const old = listing.children;
    const gone = new Set<T>();
    const named = this.childNamed(old, name);
    if (named) gone.add(named);
    // The same item under another name here (renamed): every listed child's id is in pathById.
    const at = change.id !== undefined ? this.pathById.get(change.id) : undefined;
    if (at !== undefined && at !== '/' && `l:${parentOf(at)}` === key) {
      const other = this.childNamed(old, nameOf(at));
      if (other && other.id === change.id) gone.add(other);
    }
    const children = old.slice();
    for (const child of gone) children.splice(children.indexOf(child), 1);
    if (change.add) children.push(change.add);
    const bytes = listing.bytes - this.pageBytes([...gone]) + (change.add ? this.pageBytes([change.add]) : 0);
    const entry: Entry<T> = { ...listing, children, bytes };
    const size = Math.max(1, this.entrySize(entry, key));
    if (size > this.maxListingBytes) {
      this.lru.delete(key);
      return;
    }
    const index = this.nameIndex.get(old);
    if (index) {
      this.nameIndex.delete(old);
      for (const child of gone) {
        const folded = this.names.nameKey(child.name);
        if (index.get(folded) === child) index.delete(folded);
      }
      if (change.add) index.set(this.names.nameKey(change.add.name), change.add);
      this.nameIndex.set(children, index);
    }
    this.lru.set(key, entry, { noUpdateTTL: true, size });
  }

  private dropPrefix(path: string): void {
    const key = this.names.pathKey(path);
    const known = this.peekItem(path);
    if (known && !known.isFolder) {
      // A file has nothing below it: its own entries go, without a scan of the whole cache (6 ms
      // per change with 50,000 cached items: bench/cache-updates.ts).
      for (const kind of ['i', 'u', 'f', 'l']) this.lru.delete(`${kind}:${key}`);
      if (this.pathById.get(known.id) === key) this.pathById.delete(known.id);
      return;
    }
    const below = key === '/' ? '/' : `${key}/`;
    const within = (p: string) => p === key || p.startsWith(below);
    for (const k of [...this.lru.keys()]) if (within(k.slice(2))) this.lru.delete(k);
    for (const [id, p] of this.pathById) if (within(p)) this.pathById.delete(id);
  }

  private entrySize(entry: Entry<T>, key: string): number {
    const base = 48 + key.length * 2;
    switch (entry.kind) {
      case 'item':
        return base + (entry.item ? this.sizeOf(entry.item) : 0);
      case 'listing':
        return base + entry.bytes;
      case 'url':
        return base + 2 * (entry.url.url.length + (entry.url.id?.length ?? 0) + (entry.url.version?.length ?? 0)) + 16;
      case 'folder':
        return base + 2 * entry.id.length + 16;
    }
  }
}

/** A cached listing handed out in pages (slices: the listing itself is never changed in place). */
function* inPages<T>(children: T[]): Generator<T[]> {
  for (let i = 0; i < children.length; i += CACHED_PAGE) yield children.slice(i, i + CACHED_PAGE);
}

/** Every page of a listing as one array (one page: that page itself). */
export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  let all: T[] | undefined;
  let copied = false;
  for await (const page of pages) {
    if (!all) all = page;
    else {
      if (!copied) all = all.slice();
      copied = true;
      for (const item of page) all.push(item);
    }
  }
  return all ?? [];
}
