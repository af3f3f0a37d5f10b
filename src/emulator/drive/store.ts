import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../../util/clock.js';
import { EmulatorHttpError } from '../request-io.js';
import type { BlobStore, StoredBlob } from './blobs.js';
import { MAX_VERSIONS, type DriveRecord, type ItemRecord, type VersionRecord } from './model.js';
import { assertPathLength, assertValidName, nameKey, renamedCandidate } from './name-rules.js';
import { versionId } from './versions.js';

export type ConflictBehavior = 'fail' | 'replace' | 'rename';

export interface PersistedDrives {
  version: 1;
  drives: DriveRecord[];
  items: ItemRecord[];
}

/** What a caller chooses for a new drive; the store fills in the root, the times and the counters. */
export type DriveSpec = Omit<DriveRecord, 'rootId' | 'createdAt' | 'seq' | 'nextItemNumber'>;

export interface FileTimes {
  fsCreatedAt?: number;
  fsModifiedAt?: number;
}

/** Where a path lands: the item itself, or the deepest existing folder and the names still missing. */
export type Resolution = { item: ItemRecord; parent?: undefined; missing?: undefined } | { item?: undefined; parent: ItemRecord; missing: string[] };

export function notFound(message = 'The resource could not be found.'): EmulatorHttpError {
  return new EmulatorHttpError(404, 'itemNotFound', message);
}

function nameConflict(name: string): EmulatorHttpError {
  return new EmulatorHttpError(409, 'nameAlreadyExists', `The specified item name already exists: '${name}'. Use @microsoft.graph.conflictBehavior rename or replace, or pick another name.`);
}

/**
 * The drives and items, in memory. Names are unique per folder, compared case-insensitively as
 * OneDrive does. Every change bumps the drive's change sequence (delta), the item's eTag, and for
 * content its cTag. A change below a folder bumps the cTag (not the eTag) of every folder above it.
 * Deleted items stay as tombstones for delta.
 */
export class DriveStore {
  readonly drives = new Map<string, DriveRecord>();
  private readonly items = new Map<string, ItemRecord>();
  private readonly children = new Map<string, Map<string, string>>();
  private readonly blobRefs = new Map<string, number>();
  /** Each folder's children in name order, kept until they change: a 100,000-item folder is paged without sorting it per page. */
  private readonly sorted = new Map<string, ItemRecord[]>();
  /** Set on every change; the service flushes when set. */
  dirty = false;

  constructor(
    private readonly clock: Clock,
    readonly blobs: BlobStore,
  ) {}

  // ---- drives -------------------------------------------------------------------------------

  ensureDrive(spec: DriveSpec): DriveRecord {
    const existing = this.drives.get(spec.id);
    if (existing) {
      existing.quotaTotal = existing.quotaTotal || spec.quotaTotal;
      return existing;
    }
    const now = this.nowSec();
    const drive: DriveRecord = { ...spec, rootId: '', createdAt: now, seq: 0, nextItemNumber: 101 };
    this.drives.set(drive.id, drive);
    const root = this.newRecord(drive, null, 'root', true, now);
    root.seq = ++drive.seq;
    drive.rootId = root.id;
    this.items.set(root.id, root);
    this.children.set(root.id, new Map());
    this.dirty = true;
    return drive;
  }

  drive(id: string): DriveRecord | undefined {
    return this.drives.get(id);
  }

  usage(driveId: string): { used: number; deleted: number; live: number; versions: number } {
    let live = 0;
    let deleted = 0;
    let versions = 0;
    for (const item of this.items.values()) {
      if (item.driveId !== driveId || item.isFolder) continue;
      if (item.deletedAt) deleted += item.size;
      else live += item.size;
      for (const version of item.versions ?? []) versions += version.size;
    }
    const used = this.countsHistory(driveId) ? live + deleted + versions : live;
    return { used, deleted, live, versions };
  }

  /**
   * OneDrive for Business and SharePoint count the recycle bin and earlier versions against the
   * quota; personal OneDrive counts neither (the emulator's reading of "storage used").
   */
  private countsHistory(driveId: string): boolean {
    return this.drives.get(driveId)?.type !== 'personal';
  }

  /**
   * Throws 507 unless `newBytes` fit where `replacedBytes` of current content are being replaced:
   * where history counts, the replaced content stays (as a version) and frees nothing.
   */
  assertRoomFor(driveId: string, newBytes: number, replacedBytes: number): void {
    this.assertRoom(driveId, this.countsHistory(driveId) ? newBytes : newBytes - replacedBytes);
  }

  /** Throws 507 quotaLimitReached unless `extraBytes` more fit in the drive. */
  assertRoom(driveId: string, extraBytes: number): void {
    const drive = this.drives.get(driveId);
    if (!drive || extraBytes <= 0) return;
    const { used } = this.usage(driveId);
    if (used + extraBytes > drive.quotaTotal) {
      throw new EmulatorHttpError(
        507,
        'quotaLimitReached',
        `Insufficient Space Available: the drive has ${Math.max(0, drive.quotaTotal - used)} bytes left and the write needs ${extraBytes}. Free some space (empty the recycle bin) and retry.`,
      );
    }
  }

  // ---- reading ------------------------------------------------------------------------------

  /** A live (not deleted) item. */
  item(id: string): ItemRecord | undefined {
    const item = this.items.get(id);
    return item && !item.deletedAt ? item : undefined;
  }

  /** Any item, tombstones included. */
  anyItem(id: string): ItemRecord | undefined {
    return this.items.get(id);
  }

  root(driveId: string): ItemRecord {
    const drive = this.drives.get(driveId);
    const root = drive && this.items.get(drive.rootId);
    if (!root) throw notFound();
    return root;
  }

  /** The folder's children in name order (shared: callers must not change the array). */
  childrenOf(folderId: string): ItemRecord[] {
    const known = this.sorted.get(folderId);
    if (known) return known;
    const index = this.children.get(folderId);
    if (!index) return [];
    const list: ItemRecord[] = [];
    for (const id of index.values()) {
      const child = this.items.get(id);
      if (child) list.push(child);
    }
    list.sort((a, b) => compareNames(a.name, b.name));
    this.sorted.set(folderId, list);
    return list;
  }

  /** The first `limit` children in name order. */
  firstChildren(folderId: string, limit: number): ItemRecord[] {
    return this.childrenOf(folderId).slice(0, limit);
  }

  childCount(folderId: string): number {
    return this.children.get(folderId)?.size ?? 0;
  }

  childByName(folderId: string, name: string): ItemRecord | undefined {
    const id = this.children.get(folderId)?.get(nameKey(name));
    return id ? this.items.get(id) : undefined;
  }

  /** Decoded path from the drive root without leading slash: '' for the root, 'a/b.txt' below. */
  pathOf(item: ItemRecord): string {
    const names: string[] = [];
    let cur: ItemRecord | undefined = item;
    while (cur && cur.parentId !== null) {
      names.push(cur.name);
      cur = this.items.get(cur.parentId);
    }
    return names.reverse().join('/');
  }

  isAncestor(ancestorId: string, item: ItemRecord): boolean {
    let cur: ItemRecord | undefined = item;
    while (cur) {
      if (cur.id === ancestorId) return true;
      cur = cur.parentId ? this.items.get(cur.parentId) : undefined;
    }
    return false;
  }

  resolve(base: ItemRecord, segments: string[]): Resolution {
    let cur = base;
    for (let i = 0; i < segments.length; i++) {
      if (!cur.isFolder) throw notFound();
      const child = this.childByName(cur.id, segments[i]);
      if (!child) return { parent: cur, missing: segments.slice(i) };
      cur = child;
    }
    return { item: cur };
  }

  /** Every live item of a subtree, parents before children (delta's first enumeration). */
  subtree(rootId: string): ItemRecord[] {
    const out: ItemRecord[] = [];
    const visit = (id: string): void => {
      const item = this.items.get(id);
      if (!item || item.deletedAt) return;
      out.push(item);
      if (item.isFolder) for (const child of this.childrenOf(id)) visit(child.id);
    };
    visit(rootId);
    return out;
  }

  /** Items of a drive changed after `seq` (tombstones included), oldest change first. */
  changedSince(driveId: string, seq: number): ItemRecord[] {
    const out: ItemRecord[] = [];
    for (const item of this.items.values()) if (item.driveId === driveId && item.seq > seq) out.push(item);
    return out.sort((a, b) => a.seq - b.seq);
  }

  allLive(driveId: string): ItemRecord[] {
    return [...this.items.values()].filter((i) => i.driveId === driveId && !i.deletedAt);
  }

  // ---- writing ------------------------------------------------------------------------------

  /** Creates the missing folders of a path below `parent` (as PUT-by-path does) and returns the last one. */
  ensureFolders(parent: ItemRecord, names: string[], by?: string): ItemRecord {
    let cur = parent;
    for (const name of names) {
      const existing = this.childByName(cur.id, name);
      if (existing) {
        if (!existing.isFolder) throw nameConflict(name);
        cur = existing;
        continue;
      }
      cur = this.createFolder(cur, name, 'fail', by).item;
    }
    return cur;
  }

  createFolder(parent: ItemRecord, name: string, behavior: ConflictBehavior, by?: string): { item: ItemRecord; created: boolean } {
    this.assertPlaceable(parent, name);
    const finalName = this.placeName(parent, name, true, behavior);
    const now = this.nowSec();
    const item = this.newItem(parent, finalName, true, now, by);
    this.children.set(item.id, new Map());
    this.attach(item);
    return { item, created: true };
  }

  /**
   * Puts content at `parent/name`. An existing file of that name gets the new content in place
   * (same id, new eTag/cTag) under `replace`; `rename` and `fail` act as Graph's conflictBehavior.
   */
  putFile(
    parent: ItemRecord,
    name: string,
    blob: StoredBlob,
    options: { behavior: ConflictBehavior; by?: string; times?: FileTimes; mimeType?: string },
  ): { item: ItemRecord; created: boolean } {
    this.assertPlaceable(parent, name);
    const existing = this.childByName(parent.id, name);
    if (existing?.isFolder && options.behavior === 'replace') throw nameConflict(name);
    if (existing && options.behavior === 'replace') {
      return { item: this.replaceContent(existing, blob, options.by, options.times), created: false };
    }
    const finalName = this.placeName(parent, name, false, options.behavior);
    this.assertRoomFor(parent.driveId, blob.size, 0);
    const now = this.nowSec();
    const item = this.newItem(parent, finalName, false, now, options.by);
    item.fsCreatedAt = truncSec(options.times?.fsCreatedAt) ?? now;
    item.fsModifiedAt = truncSec(options.times?.fsModifiedAt) ?? now;
    item.mimeType = options.mimeType ?? mimeTypeFor(finalName);
    this.setBlob(item, blob);
    this.attach(item);
    return { item, created: true };
  }

  /** New content for a file; the content it had becomes its newest earlier version. */
  replaceContent(item: ItemRecord, blob: StoredBlob, by?: string, times?: FileTimes): ItemRecord {
    if (item.isFolder) throw new EmulatorHttpError(409, 'nameAlreadyExists', `'${item.name}' is a folder; a file cannot replace it.`);
    this.assertRoomFor(item.driveId, blob.size, item.size);
    const oldSize = item.size;
    const previous = this.currentAsVersion(item);
    // The new blob is counted before old versions are trimmed: a restore may reuse the oldest one's blob.
    this.setBlob(item, blob);
    if (previous) this.keepVersion(item, previous);
    const now = this.nowSec();
    item.fsModifiedAt = truncSec(times?.fsModifiedAt) ?? now;
    if (times?.fsCreatedAt) item.fsCreatedAt = truncSec(times.fsCreatedAt)!;
    if (by) item.modifiedBy = by;
    this.adjustSize(item.parentId, item.size - oldSize);
    this.touch(item, true);
    this.touchFolder(item.parentId);
    return item;
  }

  /**
   * restoreVersion: an earlier version's content becomes current again, as a new version; every
   * existing version stays.
   */
  restoreVersion(item: ItemRecord, id: string, by?: string): ItemRecord {
    if (item.isFolder) throw new EmulatorHttpError(400, 'invalidRequest', 'Folders have no versions; restore a file version.');
    const drive = this.drives.get(item.driveId)!;
    if (id === versionId(drive.type, item.versionNumber ?? 1, true)) {
      throw new EmulatorHttpError(400, 'invalidRequest', 'That is the current version; only an earlier version can be restored. List the versions for their ids.');
    }
    const version = item.versions?.find((v) => v.id === id);
    if (!version) throw notFound(`The version '${id}' could not be found. List the item's versions for valid ids.`);
    const { blobId, size, quickXorHash, sha1Hash } = version;
    return this.replaceContent(item, { id: blobId, size, quickXorHash, sha1Hash }, by);
  }

  update(item: ItemRecord, patch: { description?: string; times?: FileTimes; by?: string }): void {
    if (patch.description !== undefined) item.description = patch.description;
    if (patch.times?.fsCreatedAt !== undefined) item.fsCreatedAt = truncSec(patch.times.fsCreatedAt)!;
    if (patch.times?.fsModifiedAt !== undefined) item.fsModifiedAt = truncSec(patch.times.fsModifiedAt)!;
    if (patch.by) item.modifiedBy = patch.by;
    this.touch(item, false);
  }

  /**
   * Renames and/or moves within a drive. `replace` deletes a conflicting item first.
   * `resetModified`: the move stamps fileSystemInfo.lastModifiedDateTime with now (profile.moveResetsModified).
   */
  move(item: ItemRecord, newParent: ItemRecord, newName: string, behavior: ConflictBehavior, by?: string, options: { resetModified?: boolean } = {}): ItemRecord {
    if (item.parentId === null) throw new EmulatorHttpError(400, 'invalidRequest', 'The root folder cannot be moved or renamed.');
    if (!newParent.isFolder) throw new EmulatorHttpError(400, 'invalidRequest', 'The destination parent is not a folder.');
    if (newParent.driveId !== item.driveId) {
      throw new EmulatorHttpError(400, 'invalidRequest', 'Moving items between drives is not supported; copy the item and delete the original.');
    }
    if (item.isFolder && this.isAncestor(item.id, newParent)) {
      throw new EmulatorHttpError(400, 'invalidRequest', 'A folder cannot be moved into itself or one of its subfolders.');
    }
    this.assertPlaceable(newParent, newName);
    const existing = this.childByName(newParent.id, newName);
    if (existing?.id === item.id) {
      // Same folder, same name up to case: a case-only rename or a no-op.
      if (existing.name === newName) {
        if (by) item.modifiedBy = by;
        this.touch(item, false);
        return item;
      }
    } else {
      if (existing && behavior === 'replace' && this.isAncestor(existing.id, item)) {
        throw new EmulatorHttpError(400, 'invalidRequest', 'An item cannot replace a folder that contains it.');
      }
      newName = this.placeName(newParent, newName, item.isFolder, behavior);
    }
    const oldParentId = item.parentId;
    this.detach(item);
    this.adjustSize(oldParentId, -item.size);
    item.parentId = newParent.id;
    item.name = newName;
    if (by) item.modifiedBy = by;
    if (options.resetModified) item.fsModifiedAt = this.nowSec();
    this.attach(item, false);
    this.touch(item, false);
    this.touchFolder(oldParentId);
    if (oldParentId !== newParent.id) this.touchFolder(newParent.id);
    // Descendants are not touched: their ids and tags stay, and delta does not report them
    // (https://learn.microsoft.com/graph/api/driveitem-delta: "renaming a folder does not result in
    // any descendants of the folder being returned from delta").
    return item;
  }

  /** Sends an item (and everything below it) to the recycle bin. */
  remove(item: ItemRecord): void {
    if (item.parentId === null) throw new EmulatorHttpError(403, 'notAllowed', 'The root folder of a drive cannot be deleted.');
    const parentId = item.parentId;
    this.detach(item);
    this.adjustSize(parentId, -item.size);
    const now = this.clock.now();
    const bury = (node: ItemRecord): void => {
      if (node.isFolder) {
        for (const child of this.childrenOf(node.id)) bury(child);
        this.children.delete(node.id);
        this.sorted.delete(node.id);
      }
      node.deletedAt = now;
      if (node.blobId) {
        this.release(node.blobId);
        node.blobId = undefined;
      }
      // The recycle bin keeps the item's size, not its version history.
      for (const version of node.versions ?? []) this.release(version.blobId);
      node.versions = undefined;
      node.seq = this.nextSeq(node.driveId);
    };
    bury(item);
    this.touchFolder(parentId);
  }

  /**
   * Copies an item (folders recursively) under `destParent`; blobs are shared, not duplicated.
   * `resetModified`: every new item's fileSystemInfo.lastModifiedDateTime is the time of the copy
   * (profile.copyResetsModified).
   */
  copy(source: ItemRecord, destParent: ItemRecord, name: string, behavior: ConflictBehavior, by?: string, options: { resetModified?: boolean } = {}): ItemRecord {
    if (source.isFolder && this.isAncestor(source.id, destParent)) {
      throw new EmulatorHttpError(400, 'invalidRequest', 'A folder cannot be copied into itself or one of its subfolders.');
    }
    this.assertPlaceable(destParent, name);
    const bytes = source.isFolder ? this.subtree(source.id).reduce((n, i) => n + (i.isFolder ? 0 : i.size), 0) : source.size;
    this.assertRoomFor(destParent.driveId, bytes, 0);
    const existing = this.childByName(destParent.id, name);
    if (existing && behavior === 'replace') {
      if (existing.id === source.id || this.isAncestor(existing.id, source)) {
        throw new EmulatorHttpError(400, 'invalidRequest', 'A copy cannot replace its own source or a folder containing it.');
      }
      this.remove(existing);
    }
    const finalName = this.placeName(destParent, name, source.isFolder, behavior === 'replace' ? 'fail' : behavior);
    const clone = (src: ItemRecord, parent: ItemRecord, cloneName: string): ItemRecord => {
      const now = this.nowSec();
      const item = this.newItem(parent, cloneName, src.isFolder, now, by);
      item.fsCreatedAt = src.fsCreatedAt;
      item.fsModifiedAt = options.resetModified ? now : src.fsModifiedAt;
      item.description = src.description;
      if (src.isFolder) {
        this.children.set(item.id, new Map());
        this.attach(item);
        for (const child of this.childrenOf(src.id)) clone(child, item, child.name);
      } else {
        item.mimeType = src.mimeType;
        this.setBlob(item, { id: src.blobId!, size: src.size, quickXorHash: src.quickXorHash!, sha1Hash: src.sha1Hash });
        this.attach(item);
      }
      return item;
    };
    return clone(source, destParent, finalName);
  }

  /** Releases tombstones' bytes from the quota (emptying the recycle bin). */
  emptyRecycleBin(driveId: string): void {
    for (const item of this.items.values()) if (item.driveId === driveId && item.deletedAt) item.size = 0;
    this.dirty = true;
  }

  // ---- persistence --------------------------------------------------------------------------

  snapshot(): PersistedDrives {
    return { version: 1, drives: [...this.drives.values()], items: [...this.items.values()] };
  }

  restore(state: PersistedDrives): void {
    this.drives.clear();
    this.items.clear();
    this.children.clear();
    this.sorted.clear();
    this.blobRefs.clear();
    for (const drive of state.drives) this.drives.set(drive.id, drive);
    for (const item of state.items) {
      this.items.set(item.id, item);
      if (item.isFolder && !item.deletedAt) this.children.set(item.id, this.children.get(item.id) ?? new Map());
    }
    for (const item of state.items) {
      if (item.deletedAt) continue;
      if (item.parentId !== null) {
        let index = this.children.get(item.parentId);
        if (!index) this.children.set(item.parentId, (index = new Map()));
        index.set(nameKey(item.name), item.id);
      }
      if (item.blobId) this.blobRefs.set(item.blobId, (this.blobRefs.get(item.blobId) ?? 0) + 1);
      for (const version of item.versions ?? []) this.blobRefs.set(version.blobId, (this.blobRefs.get(version.blobId) ?? 0) + 1);
    }
    this.dirty = false;
  }

  referencedBlobs(): Set<string> {
    return new Set(this.blobRefs.keys());
  }

  /** Forgets every item of every drive (tests' reset); drives get fresh empty roots. */
  clear(): void {
    const specs = [...this.drives.values()];
    this.drives.clear();
    this.items.clear();
    this.children.clear();
    this.sorted.clear();
    for (const id of this.blobRefs.keys()) void this.blobs.remove(id);
    this.blobRefs.clear();
    for (const spec of specs) {
      this.ensureDrive({ id: spec.id, type: spec.type, tenantId: spec.tenantId, name: spec.name, ownerUserId: spec.ownerUserId, siteId: spec.siteId, quotaTotal: spec.quotaTotal, webUrl: spec.webUrl });
    }
  }

  // ---- internals ----------------------------------------------------------------------------

  private assertPlaceable(parent: ItemRecord, name: string): void {
    if (!parent.isFolder || parent.deletedAt) throw notFound('The parent folder could not be found.');
    const drive = this.drives.get(parent.driveId);
    assertValidName(name, { atLibraryRoot: parent.parentId === null && drive?.type === 'documentLibrary' });
    const parentPath = this.pathOf(parent);
    assertPathLength(parentPath ? `${parentPath}/${name}` : name);
  }

  /** Applies conflictBehavior for a new item called `name` in `parent`; returns the name to use. */
  private placeName(parent: ItemRecord, name: string, isFolder: boolean, behavior: ConflictBehavior): string {
    const existing = this.childByName(parent.id, name);
    if (!existing) return name;
    if (behavior === 'fail') throw nameConflict(name);
    if (behavior === 'replace') {
      this.remove(existing);
      return name;
    }
    for (let n = 1; ; n++) {
      const candidate = renamedCandidate(name, isFolder, n);
      if (!this.childByName(parent.id, candidate)) return candidate;
    }
  }

  private newItem(parent: ItemRecord, name: string, isFolder: boolean, now: number, by?: string): ItemRecord {
    return this.newRecord(this.drives.get(parent.driveId)!, parent.id, name, isFolder, now, by);
  }

  /** A fresh record (the root when `parentId` is null) with first tags; `seq` is set when it is attached. */
  private newRecord(drive: DriveRecord, parentId: string | null, name: string, isFolder: boolean, now: number, by?: string): ItemRecord {
    return {
      id: this.newItemId(drive),
      driveId: drive.id,
      parentId,
      name,
      isFolder,
      createdAt: now,
      modifiedAt: now,
      fsCreatedAt: now,
      fsModifiedAt: now,
      tagGuid: randomUUID().toUpperCase(),
      eTagVersion: 1,
      cTagVersion: 1,
      size: 0,
      createdBy: by,
      modifiedBy: by,
      seq: 0,
    };
  }

  private newItemId(drive: DriveRecord): string {
    if (drive.type === 'personal') return `${drive.id.toUpperCase()}!${drive.nextItemNumber++}`;
    return `01${base32(randomBytes(20))}`;
  }

  private setBlob(item: ItemRecord, blob: StoredBlob): void {
    item.blobId = blob.id;
    item.size = blob.size;
    item.quickXorHash = blob.quickXorHash;
    item.sha1Hash = blob.sha1Hash;
    item.contentModifiedAt = this.nowSec();
    this.blobRefs.set(blob.id, (this.blobRefs.get(blob.id) ?? 0) + 1);
  }

  /** The file's current content, described as the version it becomes once replaced. */
  private currentAsVersion(item: ItemRecord): VersionRecord | undefined {
    if (!item.blobId) return undefined;
    const drive = this.drives.get(item.driveId)!;
    const number = item.versionNumber ?? 1;
    return {
      number,
      id: versionId(drive.type, number, false),
      blobId: item.blobId,
      size: item.size,
      quickXorHash: item.quickXorHash ?? '',
      sha1Hash: item.sha1Hash,
      modifiedAt: item.contentModifiedAt ?? item.modifiedAt,
      modifiedBy: item.modifiedBy,
    };
  }

  /** Files the replaced content (its blob reference moves along) and drops versions past the drive's limit. */
  private keepVersion(item: ItemRecord, previous: VersionRecord): void {
    const versions = (item.versions ??= []);
    versions.push(previous);
    item.versionNumber = previous.number + 1;
    const limit = MAX_VERSIONS[this.drives.get(item.driveId)!.type];
    while (versions.length > limit) this.release(versions.shift()!.blobId);
  }

  private release(blobId: string): void {
    const refs = (this.blobRefs.get(blobId) ?? 1) - 1;
    if (refs > 0) {
      this.blobRefs.set(blobId, refs);
      return;
    }
    this.blobRefs.delete(blobId);
    void this.blobs.remove(blobId);
  }

  /** Links a new or moved item under its parent. */
  private attach(item: ItemRecord, isNew = true): void {
    this.items.set(item.id, item);
    this.children.get(item.parentId!)!.set(nameKey(item.name), item.id);
    this.sorted.delete(item.parentId!);
    this.adjustSize(item.parentId, item.size);
    if (isNew) {
      item.seq = this.nextSeq(item.driveId);
      this.touchFolder(item.parentId);
    }
    this.dirty = true;
  }

  private detach(item: ItemRecord): void {
    if (item.parentId) this.children.get(item.parentId)?.delete(nameKey(item.name));
    if (item.parentId) this.sorted.delete(item.parentId);
  }

  private adjustSize(folderId: string | null, delta: number): void {
    if (delta === 0) return;
    let cur = folderId ? this.items.get(folderId) : undefined;
    while (cur) {
      cur.size += delta;
      cur = cur.parentId ? this.items.get(cur.parentId) : undefined;
    }
  }

  private touch(item: ItemRecord, content: boolean): void {
    item.eTagVersion++;
    if (content) item.cTagVersion++;
    item.modifiedAt = this.nowSec();
    item.seq = this.nextSeq(item.driveId);
    this.dirty = true;
  }

  /**
   * Something below this folder changed. This folder and every folder above it get a new cTag and
   * lastModifiedDateTime and show up in delta again; their eTags stay: "The eTag value is only
   * modified when the folder's properties are changed, except for properties that are derived from
   * descendants (like childCount or lastModifiedDateTime)" (https://learn.microsoft.com/graph/api/resources/driveitem).
   * Delta reports every ancestor of a changed item (microsoftgraph/msgraph-sdk-java#2548).
   */
  private touchFolder(folderId: string | null): void {
    const now = this.nowSec();
    let folder = folderId ? this.items.get(folderId) : undefined;
    while (folder) {
      folder.cTagVersion++;
      folder.modifiedAt = now;
      folder.seq = this.nextSeq(folder.driveId);
      folder = folder.parentId ? this.items.get(folder.parentId) : undefined;
    }
    this.dirty = true;
  }

  private nextSeq(driveId: string): number {
    const drive = this.drives.get(driveId)!;
    return ++drive.seq;
  }

  private nowSec(): number {
    return Math.floor(this.clock.now() / 1000) * 1000;
  }
}

function truncSec(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.floor(ms / 1000) * 1000;
}

function compareNames(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.slice(0, 32);
}

const MIME: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'application/javascript',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  zip: 'application/x-zip-compressed',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  mp4: 'video/mp4',
  mkv: 'video/x-matroska',
  webm: 'video/webm',
  mov: 'video/quicktime',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};

function mimeTypeFor(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && MIME[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}
