import { createHash } from 'node:crypto';
import type { Principal } from '../access/basic-auth.js';
import { isAncestor, rebase } from '../../util/drive-path.js';
import type { ResourceRef } from './lock-system.js';

/**
 * The dead-property provider seam (mod_dav's property database; golang.org/x/net/webdav's
 * DeadPropsHolder, whose Patch is all-or-nothing): PROPPATCH's properties of any namespace behind
 * an async interface, so one process keeps them in a file and several replicas share a network
 * store. A property is kept as its complete element, serialised with its own namespace
 * declarations, so it can be written back into any multistatus verbatim.
 *
 * Any signed-in user can write here, so a store is bounded (`deadProperties` in the config): per
 * resource and per user, in properties and in bytes. A resource's properties are charged to the
 * user who last wrote them (PROPPATCH) or copied them (COPY); moved ones stay with their owner.
 * The limits are checked inside the same atomic step that writes, so two racing writers cannot
 * both squeeze past a limit. Only growth is refused: a change that shrinks is always allowed.
 */
export type PropertyMap = Record<string, string>; // clark name → serialised element

/** One PROPPATCH instruction: set `name` to `value`, or remove it when `value` is undefined. */
export interface PropertyChange {
  name: string;
  value?: string;
}

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

export interface Usage {
  count: number;
  bytes: number;
}

/** A resource's properties and the version they have (changes whenever they do). */
export interface VersionedProperties {
  properties: PropertyMap;
  version: string;
}

export type PatchOutcome =
  /** Applied; `before` is the whole map as it was, for a caller that must undo. */
  | { ok: true; version: string; before: PropertyMap }
  /** Refused, nothing changed: a limit would be exceeded (`message` is a sentence for the 507 answer). */
  | { ok: false; reason: 'limit'; message: string }
  /** Refused, nothing changed: the properties are no longer at `expectedVersion`. */
  | { ok: false; reason: 'changed'; version: string };

export type CopyOutcome = { ok: true } | { ok: false; reason: 'limit'; message: string };

export interface PropertyStore {
  get(resource: ResourceRef): Promise<VersionedProperties>;
  /**
   * The properties of many resources at once, in order, without versions: what a Depth 1 PROPFIND
   * shows for every child (one store round trip for the listing, not one per child). The maps are
   * read-only.
   */
  getMany(resources: readonly ResourceRef[]): Promise<PropertyMap[]>;
  /**
   * Applies the changes in order, all or none, charged to `user`: refused when a limit would be
   * exceeded, or when `expectedVersion` is given and the properties have moved on from it.
   */
  patch(resource: ResourceRef, changes: readonly PropertyChange[], options: { user: string; expectedVersion?: string }): Promise<PatchOutcome>;
  /** Why copying `from` (and below it, unless depth0) to `to` would not fit `user`'s budget now; undefined when it fits. */
  copyProblem(from: ResourceRef, to: ResourceRef, options: { user: string; depth0?: boolean }): Promise<string | undefined>;
  /** Replaces the properties at and below `to` with copies of those at and below `from` (only `from`'s own with depth0), charged to `user`; checked against the limits in the same step. */
  copy(from: ResourceRef, to: ResourceRef, options: { user: string; depth0?: boolean }): Promise<CopyOutcome>;
  /** Moves the properties at and below `from` to `to` (replacing what was there); they stay charged to their owners. */
  move(from: ResourceRef, to: ResourceRef): Promise<void>;
  /** Drops the properties at and below the resource. */
  removeTree(resource: ResourceRef): Promise<void>;
  /** What `user` has stored: properties and bytes. */
  usageOf(user: string): Promise<Usage>;
  /** Finishes pending writes and lets go of the store. */
  close(): Promise<void>;
}

/** Whom a principal's properties are charged to; anonymous visitors share one budget (no user name has a ':'). */
export function ownerOf(principal: Principal): string {
  return principal.anonymous ? ':anonymous' : principal.name;
}

/** Properties and bytes (names and serialised values, UTF-8) of one resource's map. */
export function sizeOf(props: PropertyMap): Usage {
  let bytes = 0;
  const names = Object.keys(props);
  for (const name of names) bytes += Buffer.byteLength(name) + Buffer.byteLength(props[name]);
  return { count: names.length, bytes };
}

/** A version that depends only on the content, so every store and replica computes the same one. */
export function versionOf(props: PropertyMap): string {
  // Most resources have none: PROPFIND of a large folder should not hash thousands of empty maps.
  const names = Object.keys(props);
  if (names.length === 0) return EMPTY_VERSION;
  return hashOf(names, props);
}

function hashOf(names: string[], props: PropertyMap): string {
  const entries = names
    .sort()
    .map((name) => [name, props[name]]);
  return createHash('sha256').update(JSON.stringify(entries)).digest('base64url').slice(0, 22);
}

const EMPTY_VERSION = hashOf([], {});

/** `props` with the changes applied in order. */
export function applyChanges(props: PropertyMap, changes: readonly PropertyChange[]): PropertyMap {
  const next = { ...props };
  for (const { name, value } of changes) {
    if (value === undefined) delete next[name];
    else next[name] = value;
  }
  return next;
}

/** The changes that bring the names `changes` touched back to their values in `before`. */
export function undoChanges(before: PropertyMap, changes: readonly PropertyChange[]): PropertyChange[] {
  const names = [...new Set(changes.map((c) => c.name))];
  return names.map((name) => (Object.hasOwn(before, name) ? { name, value: before[name] } : { name }));
}

/** Why a resource may not go from `before` to `after` (per-resource limits), or undefined. */
export function resourceProblem(limits: PropertyLimits, before: PropertyMap, after: PropertyMap): string | undefined {
  const was = sizeOf(before);
  const will = sizeOf(after);
  if (will.count > limits.maxPerResource && will.count > was.count) {
    return `A resource may carry at most ${limits.maxPerResource} dead properties; this change would give it ${will.count}. Remove some first.`;
  }
  if (will.bytes > limits.maxBytesPerResource && will.bytes > was.bytes) {
    return `A resource's dead properties may take at most ${limits.maxBytesPerResource} bytes; this change would make them ${will.bytes}. Store less.`;
  }
  return undefined;
}

/** Why `user`, who has `used` stored, may not store `extra` more (per-user limits), or undefined. */
export function userProblem(limits: PropertyLimits, user: string, used: Usage, extra: Usage): string | undefined {
  if (extra.count > 0 && used.count + extra.count > limits.maxPerUser) {
    return `Each user may store at most ${limits.maxPerUser} dead properties; ${used.count} are stored for "${user}". Remove some first.`;
  }
  if (extra.bytes > 0 && used.bytes + extra.bytes > limits.maxBytesPerUser) {
    return `Each user's dead properties may take at most ${limits.maxBytesPerUser} bytes; "${user}" has ${used.bytes} stored. Remove some first.`;
  }
  return undefined;
}

/*
 * Records by item id. A resource's properties are kept under `#` and its item's id (lock-system.ts
 * ResourceRef says why ids), with the path key the item was last seen at; where no id is known (a
 * record written before ids were kept, or one copied to a path whose item onedav has not seen yet)
 * under the path key itself, until the item there is first seen. Path keys start with '/', so the
 * two kinds of field never meet.
 */

/** The field a resource's record is kept under. */
export function fieldOf(resource: ResourceRef): string {
  return resource.id !== undefined ? `#${resource.id}` : resource.key;
}

export function isIdField(field: string): boolean {
  return field.startsWith('#');
}

/** A mount's records as the tree operations see them. */
export interface RecordIndex {
  has(field: string): boolean;
  fields(): string[];
  /** Where the record's item was last seen: its path key ('' when unknown). */
  pathOf(field: string): string;
}

/**
 * The records at and below a resource, its own first: its own by id (else the one at its path
 * key), then (unless depth0) every record last seen strictly below its path. A record at the same
 * path but of another id belongs to another item (replaced, or renamed elsewhere): not this one's.
 * A member renamed elsewhere by another client is found where it was last seen.
 */
export function fieldsWithin(index: RecordIndex, resource: ResourceRef, depth0 = false): string[] {
  const own = fieldOf(resource);
  const top = index.has(own) ? own : index.has(resource.key) ? resource.key : undefined;
  const out = top !== undefined ? [top] : [];
  if (depth0) return out;
  for (const field of index.fields()) if (field !== top && isAncestor(resource.key, index.pathOf(field))) out.push(field);
  return out;
}

/**
 * Where a record found at `path` below (or at: `top`) `from` goes when it is moved or copied to
 * `to`. A move within one mount keeps the items, so their records keep their ids; anything else
 * lands on new items: the top on `to`'s id when known, the rest at their new paths until seen.
 */
export function placeOf(field: string, path: string, move: { from: ResourceRef; to: ResourceRef; top: string | undefined; keepIds: boolean }): { field: string; path: string } {
  const { to } = move;
  if (field === move.top) return { field: to.id !== undefined ? `#${to.id}` : move.keepIds && isIdField(field) ? field : to.key, path: to.key };
  const moved = rebase(path, move.from.key, to.key);
  return move.keepIds && isIdField(field) ? { field, path: moved } : { field: moved, path: moved };
}
