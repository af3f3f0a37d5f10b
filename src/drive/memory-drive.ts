import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { systemClock, type Clock } from '../util/clock.js';
import { childPath, joinPath, nameFolding, parentPath, splitPath, type NameFolding } from '../util/drive-path.js';
import { DriveError } from './errors.js';
import type { ByteRange, DriveCapabilities, DriveEntry, Quota, ReadBody, RemoteDrive, WriteOptions } from './types.js';

export interface MemoryDriveOptions {
  /** Names differing only in case are one item (as on OneDrive); default false (as on Linux). */
  caseInsensitive?: boolean;
  /** Bytes the drive holds; writes beyond it fail with noSpace. Default 1 GiB. */
  capacity?: number;
  /** Whether it declares the quota capability (RFC 4331 properties); default true. */
  quota?: boolean;
  clock?: Clock;
}

interface Node {
  id: string;
  name: string;
  created: Date;
  modified: Date;
  /** Bumped on every change to the item (what ifMatch compares). */
  version: number;
  /** Bumped when a file's bytes or a folder's members change (what the entity tag shows). */
  contentVersion: number;
  data?: Buffer;
  children?: Map<string, Node>;
}

/**
 * A complete RemoteDrive held in memory: the second implementation that keeps the seam honest
 * (test/drive/conformance.test.ts runs the same suite on it and on GraphDrive) and a backend for
 * fast tests. Folders and files in a tree; case-sensitive or not by option.
 */
export class MemoryDrive implements RemoteDrive {
  readonly capabilities: DriveCapabilities;
  private readonly root: Node;
  private readonly clock: Clock;
  private readonly capacity: number;
  private readonly names: NameFolding;
  private nextId = 1;
  private readonly idPrefix = randomBytes(3).toString('hex');

  constructor(options: MemoryDriveOptions = {}) {
    const caseInsensitive = options.caseInsensitive ?? false;
    this.capabilities = { caseInsensitive, serverSideCopy: true, downloadUrl: false, quota: options.quota ?? true, changePolling: false };
    this.names = nameFolding(caseInsensitive);
    this.clock = options.clock ?? systemClock;
    this.capacity = options.capacity ?? 1024 ** 3;
    this.root = this.node('', true);
  }

  async stat(path: string): Promise<DriveEntry> {
    return this.entry(this.find(path), this.canonical(path));
  }

  async list(path: string): Promise<DriveEntry[]> {
    const folder = this.find(path);
    if (!folder.children) throw new DriveError('notFolder', `${path} is a file, not a folder.`);
    const base = this.canonical(path);
    return [...folder.children.values()].map((child) => this.entry(child, childPath(base, child.name)));
  }

  async read(path: string, range?: ByteRange): Promise<ReadBody> {
    const file = this.find(path);
    if (!file.data) throw new DriveError('isFolder', `${path} is a folder; only files have bytes.`);
    const total = file.data.length;
    if (!range) return { body: Readable.from([file.data]), length: total };
    if (range.start >= total || (range.end !== undefined && range.end < range.start)) {
      throw new DriveError('rangeNotSatisfiable', `Bytes ${range.start}- are outside the file (${total} bytes).`);
    }
    const end = Math.min(total - 1, range.end ?? total - 1);
    const part = file.data.subarray(range.start, end + 1);
    return { body: Readable.from([part]), length: part.length, range: { start: range.start, end, total } };
  }

  async quota(): Promise<Quota> {
    const used = sizeOf(this.root);
    return { total: this.capacity, used, remaining: Math.max(0, this.capacity - used) };
  }

  async write(path: string, body: Readable, options: WriteOptions = {}): Promise<DriveEntry> {
    // Before any byte of the body is read (the RemoteDrive contract): a missing parent is refused at once.
    const { parent, name } = this.parentOf(path);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of body) {
        if (options.signal?.aborted) throw new DriveError('aborted', 'The upload was cancelled; the previous file is unchanged.');
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
      }
    } catch (err) {
      if (err instanceof DriveError) throw err;
      throw new DriveError('aborted', 'The body stopped arriving; the previous file is unchanged.', { cause: err });
    }
    if (options.signal?.aborted) throw new DriveError('aborted', 'The upload was cancelled; the previous file is unchanged.');
    const data = Buffer.concat(chunks);
    if (options.size !== undefined && options.size !== data.length) {
      throw new DriveError('badRequest', `The body did not match its declared length: ${data.length} bytes arrived, ${options.size} were declared.`);
    }
    // Checked after the body arrived, as a real upload would: the drive may have changed meanwhile.
    const existing = parent.children!.get(this.names.nameKey(name));
    if (existing?.children) throw new DriveError('exists', `${path} is a folder; a file cannot replace it.`);
    if (existing && options.ifNoneMatch === '*') throw new DriveError('changed', `${path} already exists and ifNoneMatch * asked to only create it.`);
    if (options.ifMatch !== undefined && (!existing || versionOf(existing) !== options.ifMatch)) throw new DriveError('changed', `${path} changed since it was read.`);
    const used = sizeOf(this.root) - (existing?.data?.length ?? 0);
    if (used + data.length > this.capacity) throw new DriveError('noSpace', 'The drive is full; free some space and retry.');
    const now = new Date(this.clock.now());
    const file = existing ?? this.node(name, false);
    file.data = data;
    file.modified = options.mtime ?? now;
    file.version++;
    file.contentVersion++;
    if (!existing) this.attach(parent, file);
    return this.entry(file, childPath(this.canonical(parentPath(path)), file.name));
  }

  async mkdir(path: string): Promise<DriveEntry> {
    const { parent, name } = this.parentOf(path);
    if (parent.children!.has(this.names.nameKey(name))) throw new DriveError('exists', `Something already exists at ${path}.`);
    const folder = this.node(name, true);
    this.attach(parent, folder);
    return this.entry(folder, childPath(this.canonical(parentPath(path)), name));
  }

  async move(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<DriveEntry> {
    const source = this.find(from);
    if (source === this.root) throw new DriveError('forbidden', 'The drive root cannot be moved.');
    const { parent, name } = this.parentOf(to);
    if (this.isWithin(parent, source)) throw new DriveError('forbidden', 'A folder cannot be moved into itself.');
    const existing = parent.children!.get(this.names.nameKey(name));
    if (existing && existing !== source) this.makeRoomFor(existing, to, options.overwrite);
    this.detach(this.find(parentPath(from)), source);
    source.name = name;
    source.version++;
    this.attach(parent, source);
    return this.entry(source, childPath(this.canonical(parentPath(to)), name));
  }

  async copy(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<DriveEntry> {
    const source = this.find(from);
    const { parent, name } = this.parentOf(to);
    if (source === parent || this.isWithin(parent, source)) throw new DriveError('forbidden', 'A folder cannot be copied into itself.');
    const existing = parent.children!.get(this.names.nameKey(name));
    if (existing === source) throw new DriveError('forbidden', 'Source and destination of a copy are the same item.');
    const used = sizeOf(this.root) - (existing ? sizeOf(existing) : 0);
    if (used + sizeOf(source) > this.capacity) throw new DriveError('noSpace', 'The drive is full; free some space and retry.');
    if (existing) this.makeRoomFor(existing, to, options.overwrite);
    const copy = this.clone(source, name);
    this.attach(parent, copy);
    return this.entry(copy, childPath(this.canonical(parentPath(to)), name));
  }

  async remove(path: string, options: { ifUnchanged?: { version: string; etag: string } } = {}): Promise<void> {
    const item = this.find(path);
    if (item === this.root) throw new DriveError('forbidden', 'The drive root cannot be deleted.');
    const expected = options.ifUnchanged;
    if (expected && (versionOf(item) !== expected.version || this.entry(item, path).etag !== expected.etag)) {
      throw new DriveError('changed', `${path} changed since it was read; it was not deleted.`);
    }
    this.detach(this.find(parentPath(path)), item);
  }

  async setModified(path: string, mtime: Date): Promise<DriveEntry> {
    const item = this.find(path);
    item.modified = mtime;
    item.version++;
    return this.entry(item, this.canonical(path));
  }

  // ---- the tree ----

  private node(name: string, folder: boolean): Node {
    const now = new Date(this.clock.now());
    const node: Node = { id: `${this.idPrefix}-${this.nextId++}`, name, created: now, modified: now, version: 1, contentVersion: 1 };
    if (folder) node.children = new Map();
    else node.data = Buffer.alloc(0);
    return node;
  }

  private find(path: string): Node {
    let node = this.root;
    for (const segment of splitPath(path)) {
      const next = node.children?.get(this.names.nameKey(segment));
      if (!next) throw new DriveError('notFound', `Nothing exists at ${path}.`);
      node = next;
    }
    return node;
  }

  /** The folder that will hold `path` and the new item's name; parentMissing when it is absent or a file. */
  private parentOf(path: string): { parent: Node; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new DriveError('forbidden', 'The drive root cannot be replaced.');
    if (name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new DriveError('invalidName', `Cannot use ${JSON.stringify(name)} as a name.`);
    let parent: Node;
    try {
      parent = this.find(joinPath(parts));
    } catch {
      throw new DriveError('parentMissing', `The folder ${joinPath(parts)} does not exist; create it first.`);
    }
    if (!parent.children) throw new DriveError('parentMissing', `${joinPath(parts)} is a file, not a folder.`);
    return { parent, name };
  }

  /** The path with each name as stored (the case the drive keeps). */
  private canonical(path: string): string {
    let node = this.root;
    const names: string[] = [];
    for (const segment of splitPath(path)) {
      node = node.children!.get(this.names.nameKey(segment))!;
      names.push(node.name);
    }
    return joinPath(names);
  }

  /**
   * Clears the destination for a move or copy, only with overwrite: a file or a folder with all it
   * holds, as if deleted (RFC 4918 §9.8.4, §9.9.4). In memory the replacement cannot fail halfway,
   * so nothing needs setting aside.
   */
  private makeRoomFor(existing: Node, to: string, overwrite: boolean | undefined): void {
    if (!overwrite) throw new DriveError('exists', `${to} already exists; overwrite was not allowed.`);
    this.detach(this.find(parentPath(to)), existing);
  }

  private attach(folder: Node, child: Node): void {
    folder.children!.set(this.names.nameKey(child.name), child);
    folder.contentVersion++;
  }

  private detach(folder: Node, child: Node): void {
    folder.children!.delete(this.names.nameKey(child.name));
    folder.contentVersion++;
  }

  private isWithin(node: Node, ancestor: Node): boolean {
    if (node === ancestor) return true;
    for (const child of ancestor.children?.values() ?? []) if (this.isWithin(node, child)) return true;
    return false;
  }

  /** A deep copy with new ids; times are kept (what WebDAV clients expect of a COPY). */
  private clone(source: Node, name: string): Node {
    const copy = this.node(name, source.children !== undefined);
    copy.created = source.created;
    copy.modified = source.modified;
    if (source.data) copy.data = Buffer.from(source.data);
    for (const child of source.children?.values() ?? []) copy.children!.set(this.names.nameKey(child.name), this.clone(child, child.name));
    return copy;
  }

  private entry(node: Node, path: string): DriveEntry {
    return {
      id: node.id,
      path,
      name: node.name,
      isFolder: node.children !== undefined,
      size: node.data?.length ?? 0,
      created: node.created,
      modified: node.modified,
      etag: `"${node.id}-${node.contentVersion}"`,
      version: versionOf(node),
    };
  }
}

function versionOf(node: Node): string {
  return `${node.id}.${node.version}`;
}

function sizeOf(node: Node): number {
  let n = node.data?.length ?? 0;
  for (const child of node.children?.values() ?? []) n += sizeOf(child);
  return n;
}
