import type { Redis } from 'ioredis';
import type { SharedRedis } from '../../redis/connection.js';
import { viaRedis } from '../../redis/errors.js';
import type { ResourceRef } from './lock-system.js';
import { IS_ANCESTOR } from './redis-lock-system.js';
import { SameTickReads } from './same-tick-reads.js';
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

/*
 * Layout (under the fleet's key prefix), per mount M:
 *   dav:props:M   hash  store key → the resource's PropertyMap as JSON (absent when it has none)
 *   dav:sizes:M   hash  store key → "count bytes" of that map (so scripts need not parse it)
 *   dav:owners:M  hash  store key → the user charged for it
 * and for all mounts:
 *   dav:used:count / dav:used:bytes   hash  user → what the user has stored
 * A resource's JSON, size and owner change together, only inside the scripts below.
 */

/** Lua helpers shared by the scripts: the ancestor rule of lock-system.ts, sizes, charging. */
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
local function drop(props, sizes, owners, key)
  local c, b = sizeAt(sizes, key)
  charge(redis.call('HGET', owners, key), -c, -b)
  redis.call('HDEL', props, key)
  redis.call('HDEL', sizes, key)
  redis.call('HDEL', owners, key)
end
local function put(props, sizes, owners, key, json, size, owner)
  redis.call('HSET', props, key, json)
  redis.call('HSET', sizes, key, size)
  if owner and owner ~= '' then redis.call('HSET', owners, key, owner) end
  local c, b = string.match(size, '^(%d+) (%d+)$')
  charge(owner, tonumber(c), tonumber(b))
end
local function keysWithin(props, key, depth0)
  if depth0 then
    if redis.call('HEXISTS', props, key) == 1 then return {key} end
    return {}
  end
  local out = {}
  for _, k in ipairs(redis.call('HKEYS', props)) do
    if k == key or isAncestor(key, k) then table.insert(out, k) end
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
 * KEYS: props, sizes, owners, used:count, used:bytes (of the resource's mount).
 * ARGV: key, the JSON the caller read ('' for none), the JSON to write ('' for none), its size,
 * user, the read map's size, maxPerUser, maxBytesPerUser.
 * Compare-and-set: {'retry'} when the map is no longer what the caller read; {'limit', usedCount,
 * usedBytes, extraCount, extraBytes} when the user's budget does not fit; {'ok'} once written and charged to the user.
 */
const PATCH = `${PREAMBLE}
local key, seen, json, size, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local current = redis.call('HGET', KEYS[1], key) or ''
if current ~= seen then return {'retry'} end
local beforeCount, beforeBytes = sizeAt(KEYS[2], key)
local afterCount, afterBytes = string.match(size, '^(%d+) (%d+)$')
afterCount, afterBytes = tonumber(afterCount), tonumber(afterBytes)
local mineCount, mineBytes = 0, 0
if redis.call('HGET', KEYS[3], key) == user then mineCount, mineBytes = beforeCount, beforeBytes end
local usedCount, usedBytes = used(user)
local extraCount, extraBytes = afterCount - mineCount, afterBytes - mineBytes
if overBudget(usedCount, usedBytes, extraCount, extraBytes, tonumber(ARGV[6]), tonumber(ARGV[7])) then
  return {'limit', usedCount, usedBytes, extraCount, extraBytes}
end
drop(KEYS[1], KEYS[2], KEYS[3], key)
if json ~= '' then put(KEYS[1], KEYS[2], KEYS[3], key, json, size, user) end
return {'ok'}
`;

/**
 * KEYS: source props, sizes, owners, used:count, used:bytes, target props, sizes, owners.
 * ARGV: how ('copy' | 'copy-depth0' | 'move' | 'check' | 'check-depth0'), from key, to key, user,
 * maxPerUser, maxBytesPerUser.
 * Copies check the user's budget first ({'limit', usedCount, usedBytes, extraCount, extraBytes});
 * a check only answers that; otherwise the target subtree is replaced by the rebased source.
 */
const TRANSFER = `${PREAMBLE}
local how, fromKey, toKey, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local depth0 = how == 'copy-depth0' or how == 'check-depth0'
local isCopy = how ~= 'move'
local sourceKeys = keysWithin(KEYS[1], fromKey, depth0)
local targetKeys = keysWithin(KEYS[6], toKey, false)
if isCopy then
  local count, bytes = 0, 0
  for _, k in ipairs(sourceKeys) do
    local c, b = sizeAt(KEYS[2], k)
    count, bytes = count + c, bytes + b
  end
  for _, k in ipairs(targetKeys) do
    if redis.call('HGET', KEYS[8], k) == user then
      local c, b = sizeAt(KEYS[7], k)
      count, bytes = count - c, bytes - b
    end
  end
  local usedCount, usedBytes = used(user)
  if overBudget(usedCount, usedBytes, count, bytes, tonumber(ARGV[5]), tonumber(ARGV[6])) then
    return {'limit', usedCount, usedBytes, count, bytes}
  end
  if how == 'check' or how == 'check-depth0' then return {'ok'} end
end
if #sourceKeys == 0 and redis.call('HEXISTS', KEYS[6], toKey) == 0 then return {'ok'} end
local moved = {}
for _, k in ipairs(sourceKeys) do
  local rest = k
  if k == fromKey then rest = '' elseif fromKey ~= '/' then rest = string.sub(k, #fromKey + 1) end
  local target
  if k == fromKey then target = toKey elseif toKey == '/' then target = rest else target = toKey .. rest end
  local owner = user
  if not isCopy then owner = redis.call('HGET', KEYS[3], k) or '' end
  table.insert(moved, {target, redis.call('HGET', KEYS[1], k), redis.call('HGET', KEYS[2], k), owner})
end
for _, k in ipairs(targetKeys) do drop(KEYS[6], KEYS[7], KEYS[8], k) end
if not isCopy then
  for _, k in ipairs(sourceKeys) do
    if redis.call('HEXISTS', KEYS[1], k) == 1 then drop(KEYS[1], KEYS[2], KEYS[3], k) end
  end
end
for _, m in ipairs(moved) do put(KEYS[6], KEYS[7], KEYS[8], m[1], m[2], m[3], m[4]) end
return {'ok'}
`;

/** KEYS: props, sizes, owners, used:count, used:bytes. ARGV: key. Drops the properties at and below it. */
const REMOVE_TREE = `${PREAMBLE}
for _, k in ipairs(keysWithin(KEYS[1], ARGV[1], false)) do drop(KEYS[1], KEYS[2], KEYS[3], k) end
return 1
`;

interface PropertyCommands {
  davPropsPatch(...keysAndArgs: string[]): Promise<Array<string | number>>;
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
  /** The raw maps asked for in one tick, one HMGET per mount. */
  private readonly raws = new SameTickReads<ResourceRef, string>((resources) => this.readRaws(resources));

  constructor(shared: SharedRedis, limits: Partial<PropertyLimits> = {}) {
    const redis = shared.commands;
    redis.defineCommand('davPropsPatch', { numberOfKeys: 5, lua: PATCH });
    redis.defineCommand('davPropsTransfer', { numberOfKeys: 8, lua: TRANSFER });
    redis.defineCommand('davPropsRemoveTree', { numberOfKeys: 5, lua: REMOVE_TREE });
    this.redis = redis as Redis & PropertyCommands;
    this.limits = { ...DEFAULT_PROPERTY_LIMITS, ...limits };
  }

  async get(resource: ResourceRef): Promise<VersionedProperties> {
    const properties = (await this.read(resource)).map;
    return { properties, version: versionOf(properties) };
  }

  async getMany(resources: readonly ResourceRef[]): Promise<PropertyMap[]> {
    // A listing's maps in HMGETs of at most HMGET_FIELDS each: a few round trips, not one per child.
    const raws = await this.readRaws([...resources]);
    return raws.map((raw) => (raw ? (JSON.parse(raw) as PropertyMap) : EMPTY));
  }

  async patch(resource: ResourceRef, changes: readonly PropertyChange[], options: { user: string; expectedVersion?: string }): Promise<PatchOutcome> {
    for (let attempt = 0; attempt < MAX_PATCH_ATTEMPTS; attempt++) {
      const { raw, map: before } = await this.read(resource);
      if (options.expectedVersion !== undefined && versionOf(before) !== options.expectedVersion) return { ok: false, reason: 'changed', version: versionOf(before) };
      const after = applyChanges(before, changes);
      const problem = resourceProblem(this.limits, before, after);
      if (problem) return { ok: false, reason: 'limit', message: problem };
      const size = sizeOf(after);
      const reply = await viaRedis('PROPPATCH', () =>
        this.redis.davPropsPatch(
          ...keysOf(resource.mount),
          resource.key,
          raw,
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
    await viaRedis('remove dead properties', () => this.redis.davPropsRemoveTree(...keysOf(resource.mount), resource.key));
  }

  async usageOf(user: string): Promise<Usage> {
    const [count, bytes] = await viaRedis('read property usage', () => Promise.all(USED.map((key) => this.redis.hget(key, user))));
    return { count: Number(count ?? 0), bytes: Number(bytes ?? 0) };
  }

  /** The connection belongs to the SharedRedis, which its owner closes. */
  async close(): Promise<void> {}

  private async read(resource: ResourceRef): Promise<{ raw: string; map: PropertyMap }> {
    const raw = await this.raws.read(resource);
    return { raw, map: raw ? (JSON.parse(raw) as PropertyMap) : {} };
  }

  private async readRaws(resources: ResourceRef[]): Promise<string[]> {
    const byMount = new Map<string, number[]>();
    resources.forEach((r, i) => {
      const indexes = byMount.get(r.mount);
      if (indexes) indexes.push(i);
      else byMount.set(r.mount, [i]);
    });
    const raws = new Array<string>(resources.length).fill('');
    await viaRedis('read dead properties', () =>
      Promise.all(
        [...byMount].flatMap(([mount, indexes]) =>
          chunks(indexes, HMGET_FIELDS).map(async (some) => {
            const values = await this.redis.hmget(propsKey(mount), ...some.map((i) => resources[i].key));
            some.forEach((at, n) => (raws[at] = values[n] ?? ''));
          }),
        ),
      ),
    );
    return raws;
  }

  /** Runs TRANSFER; for a copy or check over the budget, the sentence for the 507 answer. */
  private async transfer(from: ResourceRef, to: ResourceRef, how: string, user: string): Promise<string | undefined> {
    const [props, sizes, owners] = keysOf(to.mount);
    const reply = await viaRedis(how.startsWith('check') ? 'check a COPY' : how === 'move' ? 'MOVE' : 'COPY', () =>
      this.redis.davPropsTransfer(
        ...keysOf(from.mount),
        props,
        sizes,
        owners,
        how,
        from.key,
        to.key,
        user,
        String(this.limits.maxPerUser),
        String(this.limits.maxBytesPerUser),
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

/** The five keys the scripts take for a mount: its props, sizes and owners hashes, then the usage hashes. */
function keysOf(mount: string): [string, string, string, string, string] {
  return [propsKey(mount), `dav:sizes:${mount}`, `dav:owners:${mount}`, USED[0], USED[1]];
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
