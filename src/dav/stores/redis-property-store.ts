import type { Redis } from 'ioredis';
import type { SharedRedis } from '../../redis/connection.js';
import { viaRedis } from '../../redis/errors.js';
import type { ResourceRef } from './lock-system.js';
import { IS_ANCESTOR } from './redis-lock-system.js';
import { SameTickReads } from './same-tick-reads.js';
import {
  applyChanges,
  DEFAULT_PROPERTY_LIMITS,
  fieldOf,
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

/*
 * Layout (under the fleet's key prefix), per mount M, by record field (property-store.ts fieldOf:
 * `#` and the item id, or a path key for a record not tied to an item yet):
 *   dav:props:M   hash  field → the resource's PropertyMap as JSON (absent when it has none)
 *   dav:sizes:M   hash  field → "count bytes" of that map (so scripts need not parse it)
 *   dav:owners:M  hash  field → the user charged for it
 *   dav:paths:M   hash  `#id` field → the path key its item was last seen at
 * and for all mounts:
 *   dav:used:count / dav:used:bytes   hash  user → what the user has stored
 * A resource's JSON, size, owner and path change together, only inside the scripts below. Stores
 * written before ids hold path-key fields only, which are tied to ids as their items are seen.
 */

/** Lua helpers shared by the scripts: the ancestor rule of lock-system.ts, sizes, charging, property-store.ts fieldsWithin. */
const HELPERS = `${IS_ANCESTOR}
local function sizeAt(sizes, key)
  local s = redis.call('HGET', sizes, key)
  if not s then return 0, 0 end
  local c, b = string.match(s, '^(%d+) (%d+)$')
  return tonumber(c), tonumber(b)
end
local function charge(user, count, bytes)
  if not user or user == '' then return end
  local c = redis.call('HINCRBY', KEYS_COUNT, user, count)
  redis.call('HINCRBY', KEYS_BYTES, user, bytes)
  if c <= 0 then
    redis.call('HDEL', KEYS_COUNT, user)
    redis.call('HDEL', KEYS_BYTES, user)
  end
end
local function isId(field)
  return string.sub(field, 1, 1) == '#'
end
local function pathOf(paths, field)
  if isId(field) then return redis.call('HGET', paths, field) or '' end
  return field
end
local function drop(props, sizes, owners, paths, key)
  local c, b = sizeAt(sizes, key)
  charge(redis.call('HGET', owners, key), -c, -b)
  redis.call('HDEL', props, key)
  redis.call('HDEL', sizes, key)
  redis.call('HDEL', owners, key)
  redis.call('HDEL', paths, key)
end
local function put(props, sizes, owners, paths, key, path, json, size, owner)
  redis.call('HSET', props, key, json)
  redis.call('HSET', sizes, key, size)
  if owner and owner ~= '' then redis.call('HSET', owners, key, owner) end
  if isId(key) then redis.call('HSET', paths, key, path) end
  local c, b = string.match(size, '^(%d+) (%d+)$')
  charge(owner, tonumber(c), tonumber(b))
end
local function fieldsWithin(props, paths, own, key, depth0)
  local top = nil
  if redis.call('HEXISTS', props, own) == 1 then top = own elseif redis.call('HEXISTS', props, key) == 1 then top = key end
  local out = {}
  if top then table.insert(out, top) end
  if depth0 then return out end
  for _, f in ipairs(redis.call('HKEYS', props)) do
    if f ~= top and isAncestor(key, pathOf(paths, f)) then table.insert(out, f) end
  end
  return out
end
local function used(user)
  return tonumber(redis.call('HGET', KEYS_COUNT, user) or '0'), tonumber(redis.call('HGET', KEYS_BYTES, user) or '0')
end
local function overBudget(usedCount, usedBytes, extraCount, extraBytes, maxCount, maxBytes)
  return (extraCount > 0 and usedCount + extraCount > maxCount) or (extraBytes > 0 and usedBytes + extraBytes > maxBytes)
end
`;

const PREAMBLE = `local KEYS_COUNT, KEYS_BYTES = KEYS[4], KEYS[5]\n${HELPERS}`;

/**
 * KEYS: props, sizes, owners, used:count, used:bytes, paths (of the resource's mount).
 * ARGV: the field read, the JSON the caller read there ('' for none), the field to write (the
 * item's id: differs from the one read when a path-keyed record is tied to its item now), the path
 * key the item is at, the JSON to write ('' for none), its size, user, maxPerUser, maxBytesPerUser.
 * Compare-and-set: {'retry'} when the map is no longer what the caller read; {'limit', usedCount,
 * usedBytes, extraCount, extraBytes} when the user's budget does not fit; {'ok'} once written and charged to the user.
 */
const PATCH = `${PREAMBLE}
local field, seen, target, path, json, size, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local current = redis.call('HGET', KEYS[1], field) or ''
if current ~= seen then return {'retry'} end
if target ~= field and redis.call('HEXISTS', KEYS[1], target) == 1 then return {'retry'} end
local beforeCount, beforeBytes = sizeAt(KEYS[2], field)
local afterCount, afterBytes = string.match(size, '^(%d+) (%d+)$')
afterCount, afterBytes = tonumber(afterCount), tonumber(afterBytes)
local mineCount, mineBytes = 0, 0
if redis.call('HGET', KEYS[3], field) == user then mineCount, mineBytes = beforeCount, beforeBytes end
local usedCount, usedBytes = used(user)
local extraCount, extraBytes = afterCount - mineCount, afterBytes - mineBytes
if overBudget(usedCount, usedBytes, extraCount, extraBytes, tonumber(ARGV[8]), tonumber(ARGV[9])) then
  return {'limit', usedCount, usedBytes, extraCount, extraBytes}
end
drop(KEYS[1], KEYS[2], KEYS[3], KEYS[6], field)
if json ~= '' then put(KEYS[1], KEYS[2], KEYS[3], KEYS[6], target, path, json, size, user) end
return {'ok'}
`;

/**
 * KEYS: props, sizes, owners, paths. ARGV: pairs of (path key, `#id` field). Ties each record kept
 * under the path key to the item id seen there, unless that item has a record of its own already.
 */
const ATTACH = `
for i = 1, #ARGV, 2 do
  local key, field = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', KEYS[1], field) == 0 and redis.call('HEXISTS', KEYS[1], key) == 1 then
    for n = 1, 3 do
      local value = redis.call('HGET', KEYS[n], key)
      if value then redis.call('HSET', KEYS[n], field, value) end
      redis.call('HDEL', KEYS[n], key)
    end
    redis.call('HSET', KEYS[4], field, key)
  end
end
return 1
`;

/**
 * KEYS: source props, sizes, owners, used:count, used:bytes, target props, sizes, owners, source
 * paths, target paths.
 * ARGV: how ('copy' | 'copy-depth0' | 'move' | 'check' | 'check-depth0'), the source's own field,
 * its path key, the target's id field ('' when unknown), its path key, user, maxPerUser,
 * maxBytesPerUser, keepIds ('1' for a move within a mount: the items keep their ids).
 * Copies check the user's budget first ({'limit', usedCount, usedBytes, extraCount, extraBytes});
 * a check only answers that; otherwise the target's records are replaced by the source's, placed
 * as property-store.ts placeOf says.
 */
const TRANSFER = `${PREAMBLE}
local how, fromOwn, fromKey, toIdField, toKey, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local keepIds = ARGV[9] == '1'
local depth0 = how == 'copy-depth0' or how == 'check-depth0'
local isCopy = how ~= 'move'
local toOwn = toIdField
if toOwn == '' then toOwn = toKey end
local sourceFields = fieldsWithin(KEYS[1], KEYS[9], fromOwn, fromKey, depth0)
local moving = {}
if KEYS[1] == KEYS[6] then
  for _, f in ipairs(sourceFields) do moving[f] = true end
end
local targetFields = {}
for _, f in ipairs(fieldsWithin(KEYS[6], KEYS[10], toOwn, toKey, false)) do
  if not moving[f] then table.insert(targetFields, f) end
end
if isCopy then
  local count, bytes = 0, 0
  for _, k in ipairs(sourceFields) do
    local c, b = sizeAt(KEYS[2], k)
    count, bytes = count + c, bytes + b
  end
  for _, k in ipairs(targetFields) do
    if redis.call('HGET', KEYS[8], k) == user then
      local c, b = sizeAt(KEYS[7], k)
      count, bytes = count - c, bytes - b
    end
  end
  local usedCount, usedBytes = used(user)
  if overBudget(usedCount, usedBytes, count, bytes, tonumber(ARGV[7]), tonumber(ARGV[8])) then
    return {'limit', usedCount, usedBytes, count, bytes}
  end
  if how == 'check' or how == 'check-depth0' then return {'ok'} end
end
if #sourceFields == 0 and #targetFields == 0 then return {'ok'} end
local top = nil
if #sourceFields > 0 and (sourceFields[1] == fromOwn or sourceFields[1] == fromKey) then top = sourceFields[1] end
local moved = {}
for _, f in ipairs(sourceFields) do
  local newField, newPath
  if f == top then
    newPath = toKey
    if toIdField ~= '' then newField = toIdField elseif keepIds and isId(f) then newField = f else newField = toKey end
  else
    local path = pathOf(KEYS[9], f)
    local rest = path
    if fromKey ~= '/' then rest = string.sub(path, #fromKey + 1) end
    if toKey == '/' then newPath = rest else newPath = toKey .. rest end
    if keepIds and isId(f) then newField = f else newField = newPath end
  end
  local owner = user
  if not isCopy then owner = redis.call('HGET', KEYS[3], f) or '' end
  table.insert(moved, {newField, newPath, redis.call('HGET', KEYS[1], f), redis.call('HGET', KEYS[2], f), owner})
end
for _, k in ipairs(targetFields) do drop(KEYS[6], KEYS[7], KEYS[8], KEYS[10], k) end
if not isCopy then
  for _, k in ipairs(sourceFields) do
    if redis.call('HEXISTS', KEYS[1], k) == 1 then drop(KEYS[1], KEYS[2], KEYS[3], KEYS[9], k) end
  end
end
for _, m in ipairs(moved) do put(KEYS[6], KEYS[7], KEYS[8], KEYS[10], m[1], m[2], m[3], m[4], m[5]) end
return {'ok'}
`;

/** KEYS: props, sizes, owners, used:count, used:bytes, paths. ARGV: the resource's own field, its path key. Drops the records at and below it. */
const REMOVE_TREE = `${PREAMBLE}
for _, k in ipairs(fieldsWithin(KEYS[1], KEYS[6], ARGV[1], ARGV[2], false)) do drop(KEYS[1], KEYS[2], KEYS[3], KEYS[6], k) end
return 1
`;

interface PropertyCommands {
  davPropsPatch(...keysAndArgs: string[]): Promise<Array<string | number>>;
  davPropsAttach(...keysAndArgs: string[]): Promise<number>;
  davPropsTransfer(...keysAndArgs: string[]): Promise<Array<string | number>>;
  davPropsRemoveTree(...keysAndArgs: string[]): Promise<number>;
}

const USED = ['dav:used:count', 'dav:used:bytes'];
/**
 * Fields per HMGET. One tick may batch the listings of many concurrent PROPFINDs (64 × 1,000 in
 * bench table 5): ioredis spreads a command's arguments, which overflowed the stack (and then
 * crashed the process in its auto-pipelining, redis/ioredis#1931); and Redis runs each command alone.
 */
const HMGET_FIELDS = 500;
/** A patch lost the compare-and-set to another writer this many times in a row: the store is contended beyond reason. */
const MAX_PATCH_ATTEMPTS = 50;

/** A resource's record as read: the field it is kept under and its raw JSON ('' for none). */
interface RawRecord {
  field: string;
  raw: string;
}

/**
 * The PropertyStore that replicas share, in Redis. `patch` reads the resource's map, computes the
 * result, and writes it with a compare-and-set script that also checks and charges the user's
 * budget, so two replicas racing for the last room in a budget, or from one version, cannot both
 * win; a lost compare-and-set is retried on the new content. Copies, moves and removals of subtrees
 * are one script each. While Redis is unreachable every call throws SharedStateUnavailableError.
 */
export class RedisPropertyStore implements PropertyStore {
  private readonly redis: Redis & PropertyCommands;
  private readonly limits: PropertyLimits;
  /** The records asked for in one tick, one HMGET per mount. */
  private readonly raws = new SameTickReads<ResourceRef, RawRecord>((resources) => this.readRaws(resources));

  constructor(shared: SharedRedis, limits: Partial<PropertyLimits> = {}) {
    const redis = shared.commands;
    redis.defineCommand('davPropsPatch', { numberOfKeys: 6, lua: PATCH });
    redis.defineCommand('davPropsAttach', { numberOfKeys: 4, lua: ATTACH });
    redis.defineCommand('davPropsTransfer', { numberOfKeys: 10, lua: TRANSFER });
    redis.defineCommand('davPropsRemoveTree', { numberOfKeys: 6, lua: REMOVE_TREE });
    this.redis = redis as Redis & PropertyCommands;
    this.limits = { ...DEFAULT_PROPERTY_LIMITS, ...limits };
  }

  async get(resource: ResourceRef): Promise<VersionedProperties> {
    const properties = (await this.read(resource)).map;
    return { properties, version: versionOf(properties) };
  }

  async getMany(resources: readonly ResourceRef[]): Promise<PropertyMap[]> {
    // A listing's maps in HMGETs of at most HMGET_FIELDS each: a few round trips, not one per child.
    const records = await this.readRaws([...resources]);
    await this.attach(resources, records);
    return records.map(({ raw }) => (raw ? (JSON.parse(raw) as PropertyMap) : EMPTY));
  }

  async patch(resource: ResourceRef, changes: readonly PropertyChange[], options: { user: string; expectedVersion?: string }): Promise<PatchOutcome> {
    for (let attempt = 0; attempt < MAX_PATCH_ATTEMPTS; attempt++) {
      const { field, raw, map: before } = await this.read(resource, false);
      if (options.expectedVersion !== undefined && versionOf(before) !== options.expectedVersion) return { ok: false, reason: 'changed', version: versionOf(before) };
      const after = applyChanges(before, changes);
      const problem = resourceProblem(this.limits, before, after);
      if (problem) return { ok: false, reason: 'limit', message: problem };
      const size = sizeOf(after);
      const reply = await viaRedis('PROPPATCH', () =>
        this.redis.davPropsPatch(
          ...keysOf(resource.mount),
          field,
          raw,
          fieldOf(resource),
          resource.key,
          size.count > 0 ? JSON.stringify(after) : '',
          `${size.count} ${size.bytes}`,
          options.user,
          String(this.limits.maxPerUser),
          String(this.limits.maxBytesPerUser),
        ),
      );
      if (reply[0] === 'ok') return { ok: true, version: versionOf(after), before };
      if (reply[0] === 'limit') {
        return { ok: false, reason: 'limit', message: budgetProblem(this.limits, options.user, reply) };
      }
    }
    throw new Error(`PROPPATCH of ${resource.path} lost ${MAX_PATCH_ATTEMPTS} races in a row`);
  }

  async copyProblem(from: ResourceRef, to: ResourceRef, options: { user: string; depth0?: boolean }): Promise<string | undefined> {
    return this.transfer(from, to, options.depth0 ? 'check-depth0' : 'check', options.user);
  }

  async copy(from: ResourceRef, to: ResourceRef, options: { user: string; depth0?: boolean }): Promise<CopyOutcome> {
    const message = await this.transfer(from, to, options.depth0 ? 'copy-depth0' : 'copy', options.user);
    return message ? { ok: false, reason: 'limit', message } : { ok: true };
  }

  async move(from: ResourceRef, to: ResourceRef): Promise<void> {
    await this.transfer(from, to, 'move', '');
  }

  async removeTree(resource: ResourceRef): Promise<void> {
    await viaRedis('remove dead properties', () => this.redis.davPropsRemoveTree(...keysOf(resource.mount), fieldOf(resource), resource.key));
  }

  async usageOf(user: string): Promise<Usage> {
    const [count, bytes] = await viaRedis('read property usage', () => Promise.all(USED.map((key) => this.redis.hget(key, user))));
    return { count: Number(count ?? 0), bytes: Number(bytes ?? 0) };
  }

  /** The connection belongs to the SharedRedis, which its owner closes. */
  async close(): Promise<void> {}

  /** The resource's record; one kept under its path key is tied to its item's id first (unless `attach` is false: PATCH ties it in its own step). */
  private async read(resource: ResourceRef, attach = true): Promise<RawRecord & { map: PropertyMap }> {
    const record = await this.raws.read(resource);
    if (attach) await this.attach([resource], [record]);
    return { ...record, map: record.raw ? (JSON.parse(record.raw) as PropertyMap) : {} };
  }

  /** Ties the records found under path keys to the ids of the items now seen there (rare: records from before ids, or copied below a folder). */
  private async attach(resources: readonly ResourceRef[], records: readonly RawRecord[]): Promise<void> {
    const byMount = new Map<string, string[]>();
    resources.forEach((r, i) => {
      const own = fieldOf(r);
      if (!records[i].raw || records[i].field === own) return;
      const pairs = byMount.get(r.mount) ?? [];
      pairs.push(r.key, own);
      byMount.set(r.mount, pairs);
    });
    if (byMount.size === 0) return;
    await viaRedis('tie dead properties to items', () =>
      Promise.all([...byMount].map(([mount, pairs]) => {
        const [props, sizes, owners, , , paths] = keysOf(mount);
        return this.redis.davPropsAttach(props, sizes, owners, paths, ...pairs);
      })),
    );
    records.forEach((record, i) => {
      if (record.raw) record.field = fieldOf(resources[i]);
    });
  }

  /** Each resource's record: by its id, else (kept before ids, or not yet tied) under its path key. */
  private async readRaws(resources: ResourceRef[]): Promise<RawRecord[]> {
    const asked: Array<{ mount: string; field: string }> = [];
    for (const r of resources) {
      asked.push({ mount: r.mount, field: fieldOf(r) });
      if (r.id !== undefined) asked.push({ mount: r.mount, field: r.key });
    }
    const byMount = new Map<string, number[]>();
    asked.forEach((a, i) => {
      const indexes = byMount.get(a.mount);
      if (indexes) indexes.push(i);
      else byMount.set(a.mount, [i]);
    });
    const values = new Array<string>(asked.length).fill('');
    await viaRedis('read dead properties', () =>
      Promise.all(
        [...byMount].flatMap(([mount, indexes]) =>
          chunks(indexes, HMGET_FIELDS).map(async (some) => {
            const got = await this.redis.hmget(propsKey(mount), ...some.map((i) => asked[i].field));
            some.forEach((at, n) => (values[at] = got[n] ?? ''));
          }),
        ),
      ),
    );
    const out: RawRecord[] = [];
    let at = 0;
    for (const r of resources) {
      const own = { field: asked[at].field, raw: values[at] };
      at++;
      if (r.id === undefined) {
        out.push(own);
        continue;
      }
      const byPath = { field: asked[at].field, raw: values[at] };
      at++;
      out.push(own.raw || !byPath.raw ? own : byPath);
    }
    return out;
  }

  /** Runs TRANSFER; for a copy or check over the budget, the sentence for the 507 answer. */
  private async transfer(from: ResourceRef, to: ResourceRef, how: string, user: string): Promise<string | undefined> {
    const [props, sizes, owners, , , toPaths] = keysOf(to.mount);
    const fromKeys = keysOf(from.mount);
    const reply = await viaRedis(how.startsWith('check') ? 'check a COPY' : how === 'move' ? 'MOVE' : 'COPY', () =>
      this.redis.davPropsTransfer(
        ...fromKeys.slice(0, 5),
        props,
        sizes,
        owners,
        fromKeys[5],
        toPaths,
        how,
        fieldOf(from),
        from.key,
        to.id !== undefined ? fieldOf(to) : '',
        to.key,
        user,
        String(this.limits.maxPerUser),
        String(this.limits.maxBytesPerUser),
        how === 'move' && from.mount === to.mount ? '1' : '0',
      ),
    );
    if (reply[0] !== 'limit') return undefined;
    return `Copying would store more dead properties than allowed. ${budgetProblem(this.limits, user, reply)}`;
  }
}

/** The sentence for a script's {'limit', usedCount, usedBytes, extraCount, extraBytes}. */
function budgetProblem(limits: PropertyLimits, user: string, reply: Array<string | number>): string {
  const [, usedCount, usedBytes, extraCount, extraBytes] = reply.map(Number);
  return userProblem(limits, user, { count: usedCount, bytes: usedBytes }, { count: extraCount, bytes: extraBytes }) ?? `The dead properties of "${user}" would exceed the limits.`;
}

/** What a resource without dead properties has (shared, read-only). */
const EMPTY: PropertyMap = Object.freeze({}) as PropertyMap;

function propsKey(mount: string): string {
  return `dav:props:${mount}`;
}

/** The six keys the scripts take for a mount: its props, sizes and owners hashes, the usage hashes, its paths hash. */
function keysOf(mount: string): [string, string, string, string, string, string] {
  return [propsKey(mount), `dav:sizes:${mount}`, `dav:owners:${mount}`, USED[0], USED[1], `dav:paths:${mount}`];
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
