import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedRedis } from '../redis/connection.js';
import { viaRedis } from '../redis/errors.js';
import { RedisLease } from '../redis/lease.js';
import { isSealed, STATE_KEY_VARIABLE, type SecretBox } from '../redis/secret-box.js';
import type { RefreshLease, SharedRefresh, SignInStore, StoredAccount } from './token-store.js';

type TokenField = 'accessToken' | 'refreshToken';
const TOKEN_FIELDS: TokenField[] = ['accessToken', 'refreshToken'];

/**
 * Saves when the stored generation is ARGV[1] ('-1': whatever it is) and returns the new one;
 * -1 when fenced off. One script, so no other replica's save can slip between the check and the write.
 */
const SAVE_IF_GENERATION = `
local current = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
if ARGV[1] ~= '-1' and current ~= tonumber(ARGV[1]) then return -1 end
local nextGen = current + 1
redis.call('HSET', KEYS[1], 'gen', nextGen, 'record', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return nextGen`;

interface TokenCommands extends Redis {
  onedavSaveIfGeneration(record: string, accounts: string, expected: string, json: string, account: string): Promise<number>;
}

/**
 * Sign-ins in Redis, shared by every replica of a fleet: one hash per account (`gen`, `record`),
 * a refresh lease beside it, and a set of account names. Access and refresh tokens are sealed with
 * ONEDAV_STATE_KEY when a box is given; without one (loopback Redis only, preflight sees to that)
 * they are stored as they are.
 */
export class RedisTokenStore implements SignInStore, SharedRefresh {
  readonly shared: SharedRefresh = this;
  private readonly redis: TokenCommands;

  constructor(
    private readonly connection: SharedRedis,
    private readonly box: SecretBox | undefined,
  ) {
    this.redis = connection.commands as TokenCommands;
    if (!this.redis.onedavSaveIfGeneration) {
      this.redis.defineCommand('onedavSaveIfGeneration', { numberOfKeys: 2, lua: SAVE_IF_GENERATION });
    }
  }

  where(account: string): string {
    return `Redis key ${this.connection.keyPrefix}${recordKey(account)}`;
  }

  async load(account: string): Promise<StoredAccount | undefined> {
    const [gen, json] = await viaRedis('load sign-in', () => this.redis.hmget(recordKey(account), 'gen', 'record'));
    if (json === null) return undefined;
    let record: StoredAccount;
    try {
      record = JSON.parse(json) as StoredAccount;
    } catch (err) {
      throw new Error(`The sign-in at ${this.where(account)} is damaged (${(err as Error).message}). Run: onedav login --account ${account}`);
    }
    for (const field of TOKEN_FIELDS) {
      const value = record[field];
      if (value !== undefined) record[field] = this.open(value, account, field);
    }
    return { ...record, generation: Number(gen ?? 0) };
  }

  async save(record: StoredAccount): Promise<void> {
    await this.write(record, -1);
  }

  async saveIfGeneration(record: StoredAccount, expected: number): Promise<number | undefined> {
    return this.write(record, expected);
  }

  async list(): Promise<string[]> {
    const names = await viaRedis('list sign-ins', () => this.redis.smembers(ACCOUNTS_KEY));
    return names.sort();
  }

  async remove(account: string): Promise<void> {
    await viaRedis('remove sign-in', () => this.redis.multi().del(recordKey(account)).srem(ACCOUNTS_KEY, account).exec());
  }

  async acquireLease(account: string, ttlMs: number): Promise<RefreshLease | undefined> {
    // A fresh owner per refresh: `hold` then only ever takes a free lease, never renews another's.
    const lease = new RedisLease(this.connection, leaseKey(account), randomBytes(16).toString('hex'), ttlMs);
    return (await lease.hold()) ? lease : undefined;
  }

  private async write(record: StoredAccount, expected: number): Promise<number | undefined> {
    const { generation: _g, ...rest } = record;
    const stored: StoredAccount = { ...rest };
    for (const field of TOKEN_FIELDS) {
      const value = record[field];
      if (value !== undefined) stored[field] = this.seal(value, record.account, field);
    }
    const next = await viaRedis('save sign-in', () =>
      this.redis.onedavSaveIfGeneration(recordKey(record.account), ACCOUNTS_KEY, String(expected), JSON.stringify(stored), record.account),
    );
    return next === -1 ? undefined : next;
  }

  /** The sealed value is bound to its key and field: a token copied to another account does not open. */
  private context(account: string, field: TokenField): string {
    return `${this.connection.keyPrefix}${recordKey(account)}#${field}`;
  }

  private seal(value: string, account: string, field: TokenField): string {
    return this.box ? this.box.seal(value, this.context(account, field)) : value;
  }

  private open(value: string, account: string, field: TokenField): string {
    if (!isSealed(value)) return value; // stored on a loopback Redis before a key was set: sealed at the next save
    if (!this.box) throw new Error(`The sign-in at ${this.where(account)} is sealed, but ${STATE_KEY_VARIABLE} is not set: give every replica the same key.`);
    return this.box.open(value, this.context(account, field));
  }
}

const ACCOUNTS_KEY = 'tokens';

function recordKey(account: string): string {
  return `tokens:${encodeURIComponent(account)}`;
}

function leaseKey(account: string): string {
  return `tokens:${encodeURIComponent(account)}:refresh-lease`;
}
