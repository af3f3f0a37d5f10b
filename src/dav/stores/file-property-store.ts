import type { Logger } from '../../util/logger.js';
import { JsonFile } from './json-file.js';
import type { ResourceRef } from './lock-system.js';
import {
  applyChanges,
  DEFAULT_PROPERTY_LIMITS,
  fieldOf,
  fieldsWithin,
  isIdField,
  placeOf,
  type RecordIndex,
  resourceProblem,
  sizeOf,
  userProblem,
  versionOf,
  type CopyOutcome,
  type PatchOutcome,
  type PropertyChange,
  type PropertyLimits,
  type PropertyMap,
  type PropertyStore,
  type Usage,
  type VersionedProperties,
} from './property-store.js';


interface StoredProperties {
  version: 1;
  /** mount → record field (fieldOf: `#id`, or a path key in files written before ids) → properties */
  mounts: Record<string, Record<string, PropertyMap>>;
  /** mount → record field → the user charged for that resource's properties (absent in older files). */
  owners?: Record<string, Record<string, string>>;
  /** mount → `#id` field → the path key its item was last seen at (absent in files written before ids). */
  paths?: Record<string, Record<string, string>>;
}

/**
 * The PropertyStore of one process: one JSON file under the data dir, kept by mount and record
 * field (property-store.ts: the item id, or the path key where there is none; without a file
 * path, memory only). A file written before ids were kept holds path keys only: each is tied to
 * the item's id the first time the item is seen. Each method checks and changes the data without awaiting in
 * between, which makes it atomic in one process; the save follows.
 */
export class FilePropertyStore implements PropertyStore {
  private readonly usage = new Map<string, Usage>();

  private constructor(
    private readonly file: JsonFile<StoredProperties>,
    private readonly data: StoredProperties,
    private readonly limits: PropertyLimits,
  ) {
    for (const [mount, byPath] of Object.entries(data.mounts)) {
      for (const [key, props] of Object.entries(byPath)) this.charge(this.ownerAt(mount, key), props, 1);
    }
  }

  static async open(path: string | undefined, logger: Logger, limits: Partial<PropertyLimits> = {}): Promise<FilePropertyStore> {
    const { file, data } = await JsonFile.load<StoredProperties>(path, { version: 1, mounts: {} }, logger);
    if (!data.mounts || typeof data.mounts !== 'object') data.mounts = {};
    if (!data.owners || typeof data.owners !== 'object') data.owners = {};
    if (!data.paths || typeof data.paths !== 'object') data.paths = {};
    return new FilePropertyStore(file, data, { ...DEFAULT_PROPERTY_LIMITS, ...limits });
  }

  async usageOf(user: string): Promise<Usage> {
    return this.usedBy(user);
  }

  async get(resource: ResourceRef): Promise<VersionedProperties> {
    const properties = { ...this.mapAt(resource.mount, this.fieldFor(resource)) };
    return { properties, version: versionOf(properties) };
  }

  async getMany(resources: readonly ResourceRef[]): Promise<PropertyMap[]> {
    return resources.map((r) => this.mapAt(r.mount, this.fieldFor(r)));
  }

  async patch(resource: ResourceRef, changes: readonly PropertyChange[], options: { user: string; expectedVersion?: string }): Promise<PatchOutcome> {
    const { mount } = resource;
    const field = this.fieldFor(resource);
    const before = this.mapAt(mount, field);
    if (options.expectedVersion !== undefined && versionOf(before) !== options.expectedVersion) return { ok: false, reason: 'changed', version: versionOf(before) };
    const after = applyChanges(before, changes);
    const mine = this.ownerAt(mount, field) === options.user ? sizeOf(before) : { count: 0, bytes: 0 };
    const grows = sizeOf(after);
    const problem = resourceProblem(this.limits, before, after) ?? userProblem(this.limits, options.user, this.usedBy(options.user), { count: grows.count - mine.count, bytes: grows.bytes - mine.bytes });
    if (problem) return { ok: false, reason: 'limit', message: problem };
    this.drop(mount, field);
    if (Object.keys(after).length > 0) this.put(mount, fieldOf(resource), resource.key, after, options.user);
    await this.persist();
    return { ok: true, version: versionOf(after), before: { ...before } };
  }

  async copyProblem(from: ResourceRef, to: ResourceRef, options: { user: string; depth0?: boolean }): Promise<string | undefined> {
    const source = this.data.mounts[from.mount] ?? {};
    let count = 0;
    let bytes = 0;
    for (const field of this.fieldsWithin(from, options.depth0)) {
      const size = sizeOf(source[field]);
      count += size.count;
      bytes += size.bytes;
    }
    // What the copy replaces at the destination stops counting against whoever owned it.
    const target = this.data.mounts[to.mount] ?? {};
    for (const field of this.fieldsWithin(to)) {
      if (this.ownerAt(to.mount, field) !== options.user) continue;
      const size = sizeOf(target[field]);
      count -= size.count;
      bytes -= size.bytes;
    }
    const problem = userProblem(this.limits, options.user, this.usedBy(options.user), { count, bytes });
    return problem && `Copying would store more dead properties than allowed. ${problem}`;
  }

  async copy(from: ResourceRef, to: ResourceRef, options: { user: string; depth0?: boolean }): Promise<CopyOutcome> {
    const problem = await this.copyProblem(from, to, options);
    if (problem) return { ok: false, reason: 'limit', message: problem };
    await this.transfer(from, to, options.depth0 ? 'copy-depth0' : 'copy', options.user);
    return { ok: true };
  }

  move(from: ResourceRef, to: ResourceRef): Promise<void> {
    return this.transfer(from, to, 'move', '');
  }

  async removeTree(resource: ResourceRef): Promise<void> {
    const fields = this.fieldsWithin(resource);
    for (const field of fields) this.drop(resource.mount, field);
    if (fields.length > 0) await this.persist();
  }

  close(): Promise<void> {
    return this.file.flush();
  }

  private async transfer(from: ResourceRef, to: ResourceRef, how: 'copy' | 'copy-depth0' | 'move', user: string): Promise<void> {
    const fields = this.fieldsWithin(from, how === 'copy-depth0');
    const moving = new Set(from.mount === to.mount ? fields : []);
    const replaced = this.fieldsWithin(to).filter((f) => !moving.has(f));
    if (fields.length === 0 && replaced.length === 0) return;
    const source = this.data.mounts[from.mount] ?? {};
    const top = fields[0] !== undefined && this.isTop(from, fields[0]) ? fields[0] : undefined;
    const moved = fields.map((field) => {
      const place = placeOf(field, this.pathOf(from.mount, field), { from, to, top, keepIds: how === 'move' && from.mount === to.mount });
      return { ...place, props: source[field], owner: how === 'move' ? this.ownerAt(from.mount, field) : user };
    });
    for (const field of replaced) this.drop(to.mount, field);
    if (how === 'move') for (const field of fields) this.drop(from.mount, field);
    for (const { field, path, props, owner } of moved) this.put(to.mount, field, path, { ...props }, owner);
    await this.persist();
  }

  /** Whether `field` holds the properties of `resource` itself (not of something below it). */
  private isTop(resource: ResourceRef, field: string): boolean {
    return field === fieldOf(resource) || field === resource.key;
  }

  /**
   * The field holding the resource's properties. One written before ids (a path key) is tied to the
   * item's id now, the first time the item is seen: that is how older files carry over.
   */
  private fieldFor(resource: ResourceRef): string {
    const field = fieldOf(resource);
    if (field === resource.key) return field;
    const byField = this.data.mounts[resource.mount];
    if (!byField || byField[field] || !byField[resource.key]) return field;
    const owner = this.ownerAt(resource.mount, resource.key);
    const props = byField[resource.key];
    this.drop(resource.mount, resource.key);
    this.put(resource.mount, field, resource.key, props, owner);
    void this.persist();
    return field;
  }

  private fieldsWithin(resource: ResourceRef, depth0 = false): string[] {
    return fieldsWithin(this.index(resource.mount), resource, depth0);
  }

  private index(mount: string): RecordIndex {
    const byField = this.data.mounts[mount] ?? {};
    return { has: (field) => Object.hasOwn(byField, field), fields: () => Object.keys(byField), pathOf: (field) => this.pathOf(mount, field) };
  }

  private pathOf(mount: string, field: string): string {
    return isIdField(field) ? (this.data.paths?.[mount]?.[field] ?? '') : field;
  }

  private mapAt(mount: string, field: string): PropertyMap {
    return this.data.mounts[mount]?.[field] ?? {};
  }

  private usedBy(user: string): Usage {
    return { ...(this.usage.get(user) ?? { count: 0, bytes: 0 }) };
  }

  private ownerAt(mount: string, field: string): string {
    return this.data.owners?.[mount]?.[field] ?? '';
  }

  private put(mount: string, field: string, path: string, props: PropertyMap, owner: string): void {
    (this.data.mounts[mount] ??= {})[field] = props;
    const owners = (this.data.owners ??= {});
    if (owner) (owners[mount] ??= {})[field] = owner;
    if (isIdField(field)) ((this.data.paths ??= {})[mount] ??= {})[field] = path;
    this.charge(owner, props, 1);
  }

  private drop(mount: string, field: string): void {
    const props = this.data.mounts[mount]?.[field];
    if (!props) return;
    this.charge(this.ownerAt(mount, field), props, -1);
    delete this.data.mounts[mount][field];
    if (this.data.owners?.[mount]) delete this.data.owners[mount][field];
    if (this.data.paths?.[mount]) delete this.data.paths[mount][field];
  }

  private charge(owner: string, props: PropertyMap, sign: 1 | -1): void {
    if (!owner) return;
    const size = sizeOf(props);
    const used = this.usage.get(owner) ?? { count: 0, bytes: 0 };
    used.count += sign * size.count;
    used.bytes += sign * size.bytes;
    if (used.count <= 0) this.usage.delete(owner);
    else this.usage.set(owner, used);
  }

  private persist(): Promise<void> {
    return this.file.save(() => this.data);
  }
}
