import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDavServer, type DavServerOptions, type RunningDavServer } from '../../src/dav/server.js';
import { createGraphDrive } from '../../src/drive/index.js';
import { graphFeaturesOf } from '../../src/graph/features.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { ADELE, cloudOfUser, EmulatorTokenSource } from './stack.js';

export interface Replica {
  url: string;
  dav: RunningDavServer;
  dataDir: string;
}

export interface Replicas {
  emulator: RunningEmulator;
  replicas: Replica[];
  /** Adele's drive id in the emulator (every replica mounts it at '/'). */
  driveId: string;
  close(): Promise<void>;
}

/**
 * `n` onedav WebDAV servers on one emulator, as replicas behind a load balancer: each has its own
 * GraphDrive (its own metadata cache), its own data dir, and the stores `stores(i)` gives it
 * (undefined: the file stores of its data dir, i.e. no shared state).
 */
export async function startReplicas(
  n: number,
  options: { stores: (index: number) => Promise<DavServerOptions['stores']>; dav?: Partial<Omit<DavServerOptions, 'mounts' | 'stores' | 'dataDir'>> },
): Promise<Replicas> {
  const emulator = await startEmulator({ port: 0, admin: true });
  const started: Array<Replica & { closeDrive(): Promise<void> }> = [];
  try {
    for (let i = 0; i < n; i++) {
      const dataDir = await mkdtemp(join(tmpdir(), `onedav-replica${i}-`));
      const graph = createGraphDrive({
        graphBaseUrl: `${emulator.url}/v1.0`,
        tokens: new EmulatorTokenSource(emulator, ADELE),
        drive: { type: 'me' },
        spoolDir: dataDir,
        features: graphFeaturesOf(cloudOfUser(emulator, ADELE)),
      });
      const dav = await startDavServer({ port: 0, anonymous: { enabled: true, readOnly: false }, ...options.dav, dataDir, stores: await options.stores(i), mounts: [{ prefix: '/', drive: graph.drive }] });
      started.push({ url: dav.url, dav, dataDir, closeDrive: () => graph.close() });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  async function closeAll(): Promise<void> {
    for (const r of started) {
      await r.dav.close();
      await r.closeDrive();
      await rm(r.dataDir, { recursive: true, force: true });
    }
    await emulator.close();
  }
  return { emulator, replicas: started, driveId: emulator.drive.driveIdOf(ADELE), close: closeAll };
}
