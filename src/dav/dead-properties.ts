import type { Logger } from '../util/logger.js';
import type { Principal } from './auth.js';
import { DavError } from './errors.js';
import { JsonFile } from './json-file.js';
import { isAncestor } from './locks.js';
import { storeKey } from './paths.js';

/**
 * Dead properties (PROPPATCH of any namespace), kept by mount and drive path in one JSON file
 * under the data dir. A property is stored as its complete element, serialised with its own
 * namespace declarations, so it can be written back into any multistatus verbatim.
 * MOVE, COPY and DELETE carry or drop the properties of a whole subtree.
 *
 * Any signed-in user can write here, so the store is bounded (`deadProperties` in the config):
 * per resource and per user, in properties and in bytes. A resource's properties are charged to
 * the user who last wrote them (PROPPATCH) or copied them (COPY); a write that would grow past a
 * limit is refused with 507 Insufficient Storage. Shrinking is always allowed.
 */
export type PropertyMap = Record<string, string>; // clark name → serialised element

export interface PropertyLimits {
  /** Dead properties one resource may carry. */
  maxPerResource: number;
  /** Bytes (names + serialised values, UTF-8) one resource's properties may take. */
  maxBytesPerResource: number;
  /** Dead properties one user may have stored, over all resources. */
  maxPerUser: number;
  /** Bytes one user's properties may take, over all resources. */
  maxBytesPerUser: number;
}

export const DEFAULT_PROPERTY_LIMITS: PropertyLimits = {
  maxPerResource: 100,
  maxBytesPerResource: 64 * 1024,
  maxPerUser: 20_000,
  maxBytesPerUser: 4 * 1024 * 1024,
};

/** Whom a principal's properties are charged to; anonymous visitors share one budget (no user name has a ':'). */
export function ownerOf(principal: Principal): string {
  return principal.anonymous ? ':anonymous' : principal.name;
}

interface StoredProperties {
  version: 1;
  /** mount → path key → properties */
  mounts: Record<string, Record<string, PropertyMap>>;
  /** mount → path key → the user charged for that resource's properties (absent in older files). */
  owners?: Record<string, Record<string, string>>;
}

interface Usage {
  count: number;
  bytes: number;
}

export class DeadPropertyStore {
  private readonly usage = new Map<string, Usage>();

  private constructor(
    private readonly file: JsonFile<StoredProperties>,
    private readonly data: StoredProperties,
    private readonly limits: PropertyLimits,
  ) {
    for (const [mount, byPath] of Object.entries(data.mounts)) {
      for (const [key, props] of Object.entries(byPath)) this.charge(this.ownerOf(mount, key), props, 1);
    }
  }

  static async open(path: string | undefined, logger: Logger, limits: Partial<PropertyLimits> = {}): Promise<DeadPropertyStore> {
    const { file, data } = await JsonFile.load<StoredProperties>(path, { version: 1, mounts: {} }, logger);
    if (!data.mounts || typeof data.mounts !== 'object') data.mounts = {};
    if (!data.owners || typeof data.owners !== 'object') data.owners = {};
    return new DeadPropertyStore(file, data, { ...DEFAULT_PROPERTY_LIMITS, ...limits });
  }

  /** What `user` has stored: properties and bytes. */
  usageOf(user: string): Usage {
    return { ...(this.usage.get(user) ?? { count: 0, bytes: 0 }) };
  }

  /**
   * Why `user` may not give the resource these properties (a sentence for the 507 answer), or
   * undefined when it fits. Only growth is refused: a change that shrinks is always allowed.
   */
  problemWith(mount: string, path: string, properties: PropertyMap, user: string): string | undefined {
    const key = storeKey(path);
    const before = sizeOf(this.data.mounts[mount]?.[key] ?? {});
    const after = sizeOf(properties);
    const { maxPerResource, maxBytesPerResource } = this.limits;
    if (after.count > maxPerResource && after.count > before.count) {
      return `A resource may carry at most ${maxPerResource} dead properties; this change would give it ${after.count}. Remove some first.`;
    }
    if (after.bytes > maxBytesPerResource && after.bytes > before.bytes) {
      return `A resource's dead properties may take at most ${maxBytesPerResource} bytes; this change would make them ${after.bytes}. Store less.`;
    }
    const mine = this.ownerOf(mount, key) === user ? before : { count: 0, bytes: 0 };
    return this.userProblem(user, after.count - mine.count, after.bytes - mine.bytes);
  }

  get(mount: string, path: string): PropertyMap {
    return this.data.mounts[mount]?.[storeKey(path)] ?? {};
  }

  /**
   * Replaces all dead properties of one resource (PROPPATCH commits a whole new map at once),
   * charged to `user`. Throws 507 when that grows past a limit (see problemWith).
   */
  async replace(mount: string, path: string, properties: PropertyMap, user = ''): Promise<void> {
    const problem = this.problemWith(mount, path, properties, user);
    if (problem) throw new DavError(507, problem);
    const key = storeKey(path);
    this.drop(mount, key);
    if (Object.keys(properties).length > 0) this.put(mount, key, { ...properties }, user);
    await this.persist();
  }

  async removeTree(mount: string, path: string): Promise<void> {
    const byPath = this.data.mounts[mount];
    if (!byPath) return;
    let changed = false;
    for (const key of this.keysWithin(byPath, storeKey(path))) {
      this.drop(mount, key);
      changed = true;
    }
    if (changed) await this.persist();
  }

  /** Throws 507 unless `user` may copy the properties of `from` (and below, unless depth0). */
  assertRoomForCopy(fromMount: string, from: string, toMount: string, to: string, user: string, options: { depth0?: boolean } = {}): void {
    const source = this.data.mounts[fromMount] ?? {};
    const fromKey = storeKey(from);
    const keys = options.depth0 ? (source[fromKey] ? [fromKey] : []) : this.keysWithin(source, fromKey);
    let count = 0;
    let bytes = 0;
    for (const key of keys) {
      const size = sizeOf(source[key]);
      count += size.count;
      bytes += size.bytes;
    }
    // What the copy replaces at the destination stops counting against whoever owned it.
    const target = this.data.mounts[toMount] ?? {};
    for (const key of this.keysWithin(target, storeKey(to))) {
      if (this.ownerOf(toMount, key) !== user) continue;
      const size = sizeOf(target[key]);
      count -= size.count;
      bytes -= size.bytes;
    }
    const problem = this.userProblem(user, count, bytes);
    if (problem) throw new DavError(507, `Copying would store more dead properties than allowed. ${problem}`);
  }

  /**
   * Copies (or moves) the properties of `from` and everything below it to `to`. Copies are charged
   * to `user`; moved properties stay with whoever they were charged to.
   */
  async copyTree(fromMount: string, from: string, toMount: string, to: string, options: { move?: boolean; depth0?: boolean; user?: string } = {}): Promise<void> {
    const source = this.data.mounts[fromMount];
    if (!source) return;
    const fromKey = storeKey(from);
    const toKey = storeKey(to);
    const target = (this.data.mounts[toMount] ??= {});
    const keys = options.depth0 ? (source[fromKey] ? [fromKey] : []) : this.keysWithin(source, fromKey);
    if (keys.length === 0 && !target[toKey]) return;
    const moved = keys.map((key) => ({ key: rebase(key, fromKey, toKey), props: source[key], owner: options.move ? this.ownerOf(fromMount, key) : (options.user ?? '') }));
    for (const key of this.keysWithin(target, toKey)) this.drop(toMount, key);
    if (options.move) for (const key of keys) this.drop(fromMount, key);
    for (const { key, props, owner } of moved) this.put(toMount, key, { ...props }, owner);
    await this.persist();
  }

  flush(): Promise<void> {
    return this.file.flush();
  }

  private userProblem(user: string, extraCount: number, extraBytes: number): string | undefined {
    const { maxPerUser, maxBytesPerUser } = this.limits;
    const used = this.usageOf(user);
    if (extraCount > 0 && used.count + extraCount > maxPerUser) {
      return `Each user may store at most ${maxPerUser} dead properties; ${used.count} are stored for "${user}". Remove some first.`;
    }
    if (extraBytes > 0 && used.bytes + extraBytes > maxBytesPerUser) {
      return `Each user's dead properties may take at most ${maxBytesPerUser} bytes; "${user}" has ${used.bytes} stored. Remove some first.`;
    }
    return undefined;
  }

  private ownerOf(mount: string, key: string): string {
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
    this.charge(this.ownerOf(mount, key), props, -1);
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

  private keysWithin(byPath: Record<string, PropertyMap>, key: string): string[] {
    return Object.keys(byPath).filter((k) => k === key || isAncestor(key, k));
  }

  private persist(): Promise<void> {
    return this.file.save(() => this.data);
  }
}

/** Properties and bytes (names and serialised values, UTF-8) of one resource's map. */
function sizeOf(props: PropertyMap): Usage {
  let bytes = 0;
  const names = Object.keys(props);
  for (const name of names) bytes += Buffer.byteLength(name) + Buffer.byteLength(props[name]);
  return { count: names.length, bytes };
}

/** `/a/b/c` moved from `/a` to `/x` → `/x/b/c`. */
export function rebase(key: string, fromKey: string, toKey: string): string {
  if (key === fromKey) return toKey;
  const rest = fromKey === '/' ? key : key.slice(fromKey.length);
  return toKey === '/' ? rest : toKey + rest;
}
