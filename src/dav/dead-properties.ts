import type { Logger } from '../util/logger.js';
import { JsonFile } from './json-file.js';
import { isAncestor } from './locks.js';
import { storeKey } from './paths.js';

/**
 * Dead properties (PROPPATCH of any namespace), kept by mount and drive path in one JSON file
 * under the data dir. A property is stored as its complete element, serialised with its own
 * namespace declarations, so it can be written back into any multistatus verbatim.
 * MOVE, COPY and DELETE carry or drop the properties of a whole subtree.
 */
export type PropertyMap = Record<string, string>; // clark name → serialised element

interface StoredProperties {
  version: 1;
  /** mount → path key → properties */
  mounts: Record<string, Record<string, PropertyMap>>;
}

export class DeadPropertyStore {
  private constructor(
    private readonly file: JsonFile<StoredProperties>,
    private readonly data: StoredProperties,
  ) {}

  static async open(path: string | undefined, logger: Logger): Promise<DeadPropertyStore> {
    const { file, data } = await JsonFile.load<StoredProperties>(path, { version: 1, mounts: {} }, logger);
    if (!data.mounts || typeof data.mounts !== 'object') data.mounts = {};
    return new DeadPropertyStore(file, data);
  }

  get(mount: string, path: string): PropertyMap {
    return this.data.mounts[mount]?.[storeKey(path)] ?? {};
  }

  /** Replaces all dead properties of one resource (PROPPATCH commits a whole new map at once). */
  async replace(mount: string, path: string, properties: PropertyMap): Promise<void> {
    const byPath = (this.data.mounts[mount] ??= {});
    if (Object.keys(properties).length === 0) delete byPath[storeKey(path)];
    else byPath[storeKey(path)] = { ...properties };
    await this.persist();
  }

  async removeTree(mount: string, path: string): Promise<void> {
    const byPath = this.data.mounts[mount];
    if (!byPath) return;
    let changed = false;
    for (const key of this.keysWithin(byPath, storeKey(path))) {
      delete byPath[key];
      changed = true;
    }
    if (changed) await this.persist();
  }

  /** Copies (or moves) the properties of `from` and everything below it to `to`. */
  async copyTree(fromMount: string, from: string, toMount: string, to: string, options: { move?: boolean; depth0?: boolean } = {}): Promise<void> {
    const source = this.data.mounts[fromMount];
    if (!source) return;
    const fromKey = storeKey(from);
    const toKey = storeKey(to);
    const target = (this.data.mounts[toMount] ??= {});
    const keys = options.depth0 ? (source[fromKey] ? [fromKey] : []) : this.keysWithin(source, fromKey);
    if (keys.length === 0 && !target[toKey]) return;
    const moved: Array<[string, PropertyMap]> = keys.map((key) => [rebase(key, fromKey, toKey), source[key]]);
    for (const key of this.keysWithin(target, toKey)) delete target[key];
    if (options.move) for (const key of keys) delete source[key];
    for (const [key, props] of moved) target[key] = { ...props };
    await this.persist();
  }

  flush(): Promise<void> {
    return this.file.flush();
  }

  private keysWithin(byPath: Record<string, PropertyMap>, key: string): string[] {
    return Object.keys(byPath).filter((k) => k === key || isAncestor(key, k));
  }

  private persist(): Promise<void> {
    return this.file.save(() => this.data);
  }
}

/** `/a/b/c` moved from `/a` to `/x` → `/x/b/c`. */
export function rebase(key: string, fromKey: string, toKey: string): string {
  if (key === fromKey) return toKey;
  const rest = fromKey === '/' ? key : key.slice(fromKey.length);
  return toKey === '/' ? rest : toKey + rest;
}
