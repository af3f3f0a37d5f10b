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
