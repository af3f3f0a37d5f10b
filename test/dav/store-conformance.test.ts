import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe } from 'vitest';
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
});
