import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedStateUnavailableError } from '../../src/redis/errors.js';
import { ManualClock } from '../../src/util/clock.js';
import { RedisLockSystem } from '../../src/dav/stores/redis-lock-system.js';
import { RedisPropertyStore } from '../../src/dav/stores/redis-property-store.js';
import { SharedRedis } from '../../src/redis/connection.js';
import { HAS_REDIS, startRedis, type RunningRedis } from '../helpers/redis.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilePropertyStore } from '../../src/dav/stores/file-property-store.js';
import { FileLockSystem } from '../../src/dav/stores/file-lock-system.js';
import { silentLogger } from '../../src/util/logger.js';
import { describeStoreConformance, type StoreBackend } from './store-conformance.js';

/** The file-backed stores of one process, saving under a temp folder as under the data dir. */
const files: StoreBackend = {
  name: 'files',
  persistent: true,
  shared: false,
  async space() {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-stores-'));
    return {
      openLocks: (clock) => FileLockSystem.open(join(dir, 'dav', 'locks.json'), clock, silentLogger),
      openProperties: (limits) => FilePropertyStore.open(join(dir, 'dav', 'properties.json'), silentLogger, limits),
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

/** The same stores without a data dir: memory only, as onedav runs without `dataDir`. */
const memory: StoreBackend = {
  name: 'memory',
  persistent: false,
  shared: false,
  async space() {
    return {
      openLocks: (clock) => FileLockSystem.open(undefined, clock, silentLogger),
      openProperties: (limits) => FilePropertyStore.open(undefined, silentLogger, limits),
      remove: async () => {},
    };
  },
};

describeStoreConformance(files);
describeStoreConformance(memory);

let redis: RunningRedis | undefined;

/**
 * The Redis stores on a real redis-server: each space is a key prefix of its own, and every store
 * opened on it gets a connection of its own, as replicas do.
 */
const backend: StoreBackend = {
  name: 'redis',
  persistent: true,
  shared: true,
  async space() {
    const keyPrefix = `conformance-${randomUUID()}:`;
    const connections: SharedRedis[] = [];
    const connect = async () => {
      const shared = new SharedRedis({ url: redis!.url, keyPrefix });
      connections.push(shared);
      await shared.ready();
      return shared;
    };
    return {
      openLocks: async (clock) => new RedisLockSystem(await connect(), clock),
      openProperties: async (limits) => new RedisPropertyStore(await connect(), limits),
      remove: async () => {
        await Promise.all(connections.map((c) => c.close()));
      },
    };
  },
};

describe.skipIf(!HAS_REDIS)('Redis stores', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  describeStoreConformance(backend);

  it('deletes expired locks from Redis as it passes them, so they never pile up', async () => {
    const shared = new SharedRedis({ url: redis!.url, keyPrefix: `expiry-${randomUUID()}:` });
    await shared.ready();
    const clock = new ManualClock(1_800_000_000_000);
    const locks = new RedisLockSystem(shared, clock);
    const lock = (path: string) => locks.create({ mount: '/', path, key: path, depth: 0, scope: 'exclusive', principal: 'alice', timeoutSeconds: 1 });
    for (const path of ['/a', '/b', '/c']) expect((await lock(path)).ok).toBe(true);
    clock.advance(1_000);
    expect((await lock('/d')).ok).toBe(true);
    expect(await shared.commands.hlen('dav:locks')).toBe(1);
    await shared.close();
  });

  it('while Redis is down, every call of both stores throws SharedStateUnavailableError; then they work again', async () => {
    const shared = new SharedRedis({ url: redis!.url, keyPrefix: `outage-${randomUUID()}:` });
    await shared.ready();
    const clock = new ManualClock(1_800_000_000_000);
    const locks = new RedisLockSystem(shared, clock);
    const props = new RedisPropertyStore(shared);
    const here = { mount: '/', path: '/a', key: '/a' };
    const request = { ...here, depth: 0 as const, scope: 'exclusive' as const, principal: 'alice', timeoutSeconds: 60 };
    const token = 'opaquelocktoken:00000000-0000-0000-0000-000000000000';
    const calls: Array<() => Promise<unknown>> = [
      () => locks.create(request),
      () => locks.refresh(token, 'alice', 60),
      () => locks.unlock(token, 'alice'),
      () => locks.get(token),
      () => locks.covering(here),
      () => locks.within(here),
      () => locks.conflicts(request),
      () => locks.removeWithin(here),
      () => props.get(here),
      () => props.patch(here, [{ name: '{urn:x:}p', value: '<p xmlns="urn:x:"/>' }], { user: 'alice' }),
      () => props.copyProblem(here, { mount: '/', path: '/b', key: '/b' }, { user: 'alice' }),
      () => props.copy(here, { mount: '/', path: '/b', key: '/b' }, { user: 'alice' }),
      () => props.move(here, { mount: '/', path: '/b', key: '/b' }),
      () => props.removeTree(here),
      () => props.usageOf('alice'),
    ];
    await redis!.kill();
    try {
      for (const call of calls) await expect(call()).rejects.toBeInstanceOf(SharedStateUnavailableError);
    } finally {
      await redis!.start();
    }
    let created;
    for (let i = 0; i < 100 && !created; i++) {
      created = await locks.create(request).catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)));
    }
    expect(created).toMatchObject({ ok: true });
    await shared.close();
  });
});
