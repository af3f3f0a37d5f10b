import type { Logger } from '../../util/logger.js';
import { JsonFile } from './json-file.js';
import { isSameOrBelow, rebase } from '../../util/drive-path.js';
import type { ResourceRef } from './lock-system.js';
import {
  applyChanges,
  DEFAULT_PROPERTY_LIMITS,
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
  /** mount → path key → properties */
  mounts: Record<string, Record<string, PropertyMap>>;
  /** mount → path key → the user charged for that resource's properties (absent in older files). */
  owners?: Record<string, Record<string, string>>;
}

/**
 * The PropertyStore of one process: one JSON file under the data dir, kept by mount and resource
 * key (`ResourceRef.key`; without a file path, memory only). Each method checks and changes the data without awaiting in
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
    return new FilePropertyStore(file, data, { ...DEFAULT_PROPERTY_LIMITS, ...limits });
  }

  async usageOf(user: string): Promise<Usage> {
    return this.usedBy(user);
  }

  async get(resource: ResourceRef): Promise<VersionedProperties> {
    const properties = { ...this.mapAt(resource.mount, resource.key) };
    return { properties, version: versionOf(properties) };
  }

  async getMany(resources: readonly ResourceRef[]): Promise<PropertyMap[]> {
    return resources.map((r) => this.mapAt(r.mount, r.key));
  }

  async patch(resource: ResourceRef, changes: readonly PropertyChange[], options: { user: string; expectedVersion?: string }): Promise<PatchOutcome> {
    const { mount } = resource;
    const key = resource.key;
    const before = this.mapAt(mount, key);
    if (options.expectedVersion !== undefined && versionOf(before) !== options.expectedVersion) return { ok: false, reason: 'changed', version: versionOf(before) };
    const after = applyChanges(before, changes);
    const mine = this.ownerAt(mount, key) === options.user ? sizeOf(before) : { count: 0, bytes: 0 };
    const grows = sizeOf(after);
    const problem = resourceProblem(this.limits, before, after) ?? userProblem(this.limits, options.user, this.usedBy(options.user), { count: grows.count - mine.count, bytes: grows.bytes - mine.bytes });
    if (problem) return { ok: false, reason: 'limit', message: problem };
    this.drop(mount, key);
    if (Object.keys(after).length > 0) this.put(mount, key, after, options.user);
    await this.persist();
    return { ok: true, version: versionOf(after), before: { ...before } };
  }

  async copyProblem(from: ResourceRef, to: ResourceRef, options: { user: string; depth0?: boolean }): Promise<string | undefined> {
    const source = this.data.mounts[from.mount] ?? {};
    let count = 0;
    let bytes = 0;
    for (const key of this.sourceKeys(from, options.depth0)) {
      const size = sizeOf(source[key]);
      count += size.count;
      bytes += size.bytes;
    }
    // What the copy replaces at the destination stops counting against whoever owned it.
    const target = this.data.mounts[to.mount] ?? {};
    for (const key of keysWithin(target, to.key)) {
      if (this.ownerAt(to.mount, key) !== options.user) continue;
      const size = sizeOf(target[key]);
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
    const byPath = this.data.mounts[resource.mount];
    if (!byPath) return;
    let changed = false;
    for (const key of keysWithin(byPath, resource.key)) {
      this.drop(resource.mount, key);
      changed = true;
    }
    if (changed) await this.persist();
  }

  close(): Promise<void> {
    return this.file.flush();
  }

  private async transfer(from: ResourceRef, to: ResourceRef, how: 'copy' | 'copy-depth0' | 'move', user: string): Promise<void> {
    const source = this.data.mounts[from.mount] ?? {};
    const fromKey = from.key;
    const toKey = to.key;
    const target = this.data.mounts[to.mount] ?? {};
    const keys = this.sourceKeys(from, how === 'copy-depth0');
    if (keys.length === 0 && !target[toKey]) return;
    const moved = keys.map((key) => ({ key: rebase(key, fromKey, toKey), props: source[key], owner: how === 'move' ? this.ownerAt(from.mount, key) : user }));
    for (const key of keysWithin(target, toKey)) this.drop(to.mount, key);
    if (how === 'move') for (const key of keys) this.drop(from.mount, key);
    for (const { key, props, owner } of moved) this.put(to.mount, key, { ...props }, owner);
    await this.persist();
  }

  private sourceKeys(from: ResourceRef, depth0 = false): string[] {
    const source = this.data.mounts[from.mount] ?? {};
    const key = from.key;
    return depth0 ? (source[key] ? [key] : []) : keysWithin(source, key);
  }

  private mapAt(mount: string, key: string): PropertyMap {
    return this.data.mounts[mount]?.[key] ?? {};
  }

  private usedBy(user: string): Usage {
    return { ...(this.usage.get(user) ?? { count: 0, bytes: 0 }) };
  }

  private ownerAt(mount: string, key: string): string {
    return this.data.owners?.[mount]?.[key] ?? '';
  }

  private put(mount: string, key: string, props: PropertyMap, owner: string): void {
    (this.data.mounts[mount] ??= {})[key] = props;
    const owners = (this.data.owners ??= {});
    if (owner) (owners[mount] ??= {})[key] = owner;
    this.charge(owner, props, 1);
  }

  private drop(mount: string, key: string): void {
    const props = this.data.mounts[mount]?.[key];
    if (!props) return;
    this.charge(this.ownerAt(mount, key), props, -1);
    delete this.data.mounts[mount][key];
    if (this.data.owners?.[mount]) delete this.data.owners[mount][key];
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

function keysWithin(byPath: Record<string, PropertyMap>, key: string): string[] {
  return Object.keys(byPath).filter((k) => isSameOrBelow(k, key));
}
