import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedRedis } from '../../redis/connection.js';
import { viaRedis } from '../../redis/errors.js';
import type { Clock } from '../../util/clock.js';
import {
  ancestorsFor,
  conflictsAmong,
  coveringAmong,
  isWithin,
  recordOf,
  type CreateOutcome,
  type LockRecord,
  type LockRequest,
  type LockSystem,
  type RemoveOptions,
  type ResourceRef,
  type UnlockOutcome,
} from './lock-system.js';
import { SameTickReads } from './same-tick-reads.js';

/** Lua: is key `a` a strict ancestor of `b` (the same rule as isAncestor in util/drive-path.ts, on bytes). Also used by redis-property-store.ts. */
export const IS_ANCESTOR = `
local function isAncestor(a, b)
  if a == b then return false end
  if a == '/' then return string.sub(b, 1, 1) == '/' end
  return string.sub(b, 1, #a + 1) == a .. '/'
end
`;

/** Lua: lock-system.ts's rootedAt (by id when both know one, else by key); '' is no id. */
const ROOTED_AT = `
local function rootedAt(lock, id, key)
  if lock.id and id ~= '' then return lock.id == id end
  return lock.key == key
end
`;

/**
 * KEYS[1] the locks hash (token → stored lock JSON). ARGV: now, mount, key, depth, scope, token,
 * JSON, id ('' without), the resolved ancestors as JSON [{id, key}] ('' when not resolved).
 * Drops expired locks, then takes the lock unless an active one conflicts (conflictsAmong's rule):
 * returns {1} or {0, conflicting lock JSON…}.
 */
const CREATE = `${IS_ANCESTOR}${ROOTED_AT}
local now = tonumber(ARGV[1])
local mount, key, depth, scope, id = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8]
local ancestors = nil
if ARGV[9] ~= '' then ancestors = cjson.decode(ARGV[9]) end
local function fromAbove(lock)
  if lock.depth ~= 'infinity' then return false end
  if ancestors and lock.id then
    for _, a in ipairs(ancestors) do
      if rootedAt(lock, a.id or '', a.key) then return true end
    end
    return false
  end
  return isAncestor(lock.key, key)
end
local all = redis.call('HGETALL', KEYS[1])
local conflicts = {}
for i = 1, #all, 2 do
  local lock = cjson.decode(all[i + 1])
  if lock.expiresAt <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif lock.mount == mount then
    local inScope = rootedAt(lock, id, key) or fromAbove(lock) or (depth == 'infinity' and isAncestor(key, lock.key))
    if inScope and (scope == 'exclusive' or lock.scope == 'exclusive') then table.insert(conflicts, all[i + 1]) end
  end
end
if #conflicts > 0 then
  table.insert(conflicts, 1, 0)
  return conflicts
end
redis.call('HSET', KEYS[1], ARGV[6], ARGV[7])
return {1}
`;

/** KEYS[1] locks. ARGV: token, principal, now, timeoutSeconds, expiresAt. The refreshed JSON, or false. */
const REFRESH = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local lock = cjson.decode(raw)
if lock.expiresAt <= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return false
end
if lock.principal ~= ARGV[2] then return false end
lock.timeoutSeconds = tonumber(ARGV[4])
lock.expiresAt = tonumber(ARGV[5])
local updated = cjson.encode(lock)
redis.call('HSET', KEYS[1], ARGV[1], updated)
return updated
`;

/** KEYS[1] locks. ARGV: token, principal, now. 'unlocked' | 'no-such-lock' | 'forbidden'. */
const UNLOCK = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 'no-such-lock' end
local lock = cjson.decode(raw)
if lock.expiresAt <= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 'no-such-lock'
end
if lock.principal ~= ARGV[2] then return 'forbidden' end
redis.call('HDEL', KEYS[1], ARGV[1])
return 'unlocked'
`;

/**
 * KEYS[1] locks. ARGV: mount, key, keepRoot ('1'/'0'), now, id ('' without), the id the kept root
 * locks are tied to now ('' to leave them). Drops the locks rooted at or below the resource (and
 * expired ones).
 */
const REMOVE_WITHIN = `${IS_ANCESTOR}${ROOTED_AT}
local mount, key, keepRoot, now, id, rootIdNow = ARGV[1], ARGV[2], ARGV[3] == '1', tonumber(ARGV[4]), ARGV[5], ARGV[6]
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local lock = cjson.decode(all[i + 1])
  local root = lock.mount == mount and rootedAt(lock, id, key)
  if lock.expiresAt <= now or (lock.mount == mount and isAncestor(key, lock.key)) or (root and not keepRoot) then
    redis.call('HDEL', KEYS[1], all[i])
  elseif root and rootIdNow ~= '' and lock.id ~= rootIdNow then
    lock.id = rootIdNow
    redis.call('HSET', KEYS[1], all[i], cjson.encode(lock))
  end
end
return 1
`;

/**
 * KEYS[1] locks. ARGV: mount, key, id. Ties the locks rooted at the key that have no id yet (taken
 * before ids were kept) to the item `id` seen there.
 */
const ATTACH = `
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local lock = cjson.decode(all[i + 1])
  if not lock.id and lock.mount == ARGV[1] and lock.key == ARGV[2] then
    lock.id = ARGV[3]
    redis.call('HSET', KEYS[1], all[i], cjson.encode(lock))
  end
end
return 1
`;

interface LockCommands {
  davLockCreate(key: string, ...args: string[]): Promise<Array<number | string>>;
  davLockRefresh(key: string, ...args: string[]): Promise<string | null>;
  davLockUnlock(key: string, ...args: string[]): Promise<UnlockOutcome>;
  davLockRemoveWithin(key: string, ...args: string[]): Promise<number>;
  davLockAttach(key: string, ...args: string[]): Promise<number>;
}

const LOCKS_KEY = 'dav:locks';

/**
 * The LockSystem that replicas share: every lock in one Redis hash (token → lock), every decision
 * in one Lua script, so of two replicas racing for a lock exactly one gets it. Expiry is an
 * absolute time stored with the lock and compared inside the scripts against the caller's clock
 * (replicas keep their clocks in sync with NTP, as they must for HTTP dates anyway); expired locks
 * never conflict and are deleted when a script passes them. The hash holds only active locks,
 * which clients take one per edited document, so reading it whole stays cheap.
 *
 * While Redis is unreachable every call throws SharedStateUnavailableError: a replica never
 * grants a lock it could not record where the others look.
 */
export class RedisLockSystem implements LockSystem {
  private readonly redis: Redis & LockCommands;
  /** Every lock record, read once for all the callers of one tick (a PROPFIND asks per child). */
  private readonly allLocks = new SameTickReads<undefined, string[]>(async (callers) => {
    const all = await viaRedis('read locks', () => this.redis.hvals(LOCKS_KEY));
    return callers.map(() => all);
  });

  constructor(
    shared: SharedRedis,
    private readonly clock: Clock,
  ) {
    const redis = shared.commands;
    redis.defineCommand('davLockCreate', { numberOfKeys: 1, lua: CREATE });
    redis.defineCommand('davLockRefresh', { numberOfKeys: 1, lua: REFRESH });
    redis.defineCommand('davLockUnlock', { numberOfKeys: 1, lua: UNLOCK });
    redis.defineCommand('davLockRemoveWithin', { numberOfKeys: 1, lua: REMOVE_WITHIN });
    redis.defineCommand('davLockAttach', { numberOfKeys: 1, lua: ATTACH });
    this.redis = redis as Redis & LockCommands;
  }

  async create(request: LockRequest): Promise<CreateOutcome> {
    const ancestors = await ancestorsFor(await this.active(), request);
    const lock = recordOf(request, `opaquelocktoken:${randomUUID()}`, this.clock.now() + request.timeoutSeconds * 1000);
    const reply = await viaRedis('lock', () =>
      this.redis.davLockCreate(
        LOCKS_KEY,
        String(this.clock.now()),
        request.mount,
        request.key,
        String(request.depth),
        request.scope,
        lock.token,
        JSON.stringify(lock),
        request.id ?? '',
        ancestors ? JSON.stringify(ancestors.map((a) => ({ key: a.key, ...(a.id !== undefined ? { id: a.id } : {}) }))) : '',
      ),
    );
    if (reply[0] === 1) return { ok: true, lock };
    return { ok: false, conflicts: reply.slice(1).map((raw) => parsed(String(raw))) };
  }

  async refresh(token: string, principal: string, timeoutSeconds: number): Promise<LockRecord | undefined> {
    const now = this.clock.now();
    const raw = await viaRedis('refresh a lock', () => this.redis.davLockRefresh(LOCKS_KEY, token, principal, String(now), String(timeoutSeconds), String(now + timeoutSeconds * 1000)));
    return raw ? parsed(raw) : undefined;
  }

  unlock(token: string, principal: string): Promise<UnlockOutcome> {
    return viaRedis('unlock', () => this.redis.davLockUnlock(LOCKS_KEY, token, principal, String(this.clock.now())));
  }

  async get(token: string): Promise<LockRecord | undefined> {
    const raw = await viaRedis('read a lock', () => this.redis.hget(LOCKS_KEY, token));
    if (!raw) return undefined;
    const lock = parsed(raw);
    return lock.expiresAt > this.clock.now() ? lock : undefined;
  }

  async covering(resource: ResourceRef): Promise<LockRecord[]> {
    const active = await this.active();
    const { id } = resource;
    // Rare: a lock from before ids were kept, at the path of an item seen now (one script; otherwise no write).
    if (id !== undefined && active.some((l) => l.id === undefined && l.mount === resource.mount && l.key === resource.key)) {
      await viaRedis('tie a lock to its item', () => this.redis.davLockAttach(LOCKS_KEY, resource.mount, resource.key, id));
    }
    return coveringAmong(active, resource, await ancestorsFor(active, resource));
  }

  async within(resource: ResourceRef): Promise<LockRecord[]> {
    return (await this.active()).filter((l) => isWithin(l, resource));
  }

  async conflicts(request: LockRequest): Promise<LockRecord[]> {
    const active = await this.active();
    return conflictsAmong(active, request, await ancestorsFor(active, request));
  }

  async removeWithin(resource: ResourceRef, options: RemoveOptions = {}): Promise<void> {
    await viaRedis('remove locks', () =>
      this.redis.davLockRemoveWithin(LOCKS_KEY, resource.mount, resource.key, options.keepRoot ? '1' : '0', String(this.clock.now()), resource.id ?? '', options.rootIdNow ?? ''),
    );
  }

  /** The connection belongs to the SharedRedis, which its owner closes. */
  async close(): Promise<void> {}

  private async active(): Promise<LockRecord[]> {
    const all = await this.allLocks.read(undefined);
    const now = this.clock.now();
    return all.map(parsed).filter((l) => l.expiresAt > now);
  }
}

function parsed(raw: string): LockRecord {
  return JSON.parse(raw) as LockRecord;
}
