import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenStore, type StoredAccount } from '../../src/auth/token-store.js';
import { startOneDav, type RunningOneDav } from '../../src/cli/app.js';
import { demoAccount } from '../../src/cli/demo-account.js';
import { parseConfig } from '../../src/config.js';
import { DEMO_CLIENT_ID, DEMO_USER, findUser } from '../../src/emulator/directory.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { Logger } from '../../src/util/logger.js';

/** The account every replica serves, as `onedav login --account work` saves it. */
export const REPLICA_ACCOUNT = 'work';

/** A fresh sign-in of `upn` on the emulator (a refresh token, no access token yet), as login saves it. */
export function signedInRecord(emulator: RunningEmulator, upn: string): StoredAccount {
  return demoAccount(emulator, REPLICA_ACCOUNT, upn);
}

export interface AppReplicas {
  apps: RunningOneDav[];
  urls: string[];
  dataDirs: string[];
  close(): Promise<void>;
}

/**
 * `n` onedav servers as `onedav serve` builds them from a config with `redis`: each its own data
 * folder, all on one emulator and one Redis. `beforeStart(dataDirs)` may put files in place (a
 * token file to import). `raw` is merged into every config.
 */
export async function startAppReplicas(
  n: number,
  options: { emulator: RunningEmulator; upn: string; redisUrl: string; keyPrefix: string; raw?: Record<string, unknown>; logger?: Logger; beforeStart?: (dataDirs: string[]) => Promise<void> },
): Promise<AppReplicas> {
  const user = findUser(options.emulator.state.directory, options.upn);
  const dataDirs = await Promise.all(Array.from({ length: n }, () => mkdtemp(join(tmpdir(), 'onedav-replica-'))));
  await options.beforeStart?.(dataDirs);
  const apps: RunningOneDav[] = [];
  const close = async () => {
    for (const app of apps) await app.close();
    for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const dataDir of dataDirs) {
      const config = parseConfig(
        {
          server: { host: '127.0.0.1', port: 0 },
          anonymous: { enabled: true, readOnly: false },
          ...options.raw,
          dataDir,
          accounts: { [REPLICA_ACCOUNT]: { cloud: 'emulator', tenant: user?.tenantId ?? 'common', clientId: DEMO_CLIENT_ID } },
          mounts: [{ path: '/', account: REPLICA_ACCOUNT }],
          redis: { url: options.redisUrl, keyPrefix: options.keyPrefix },
        },
        {},
      );
      apps.push(await startOneDav(config, { logger: options.logger }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { apps, urls: apps.map((a) => a.url), dataDirs, close };
}

/** The account of replicas signed in each from its own token file (startReplica). */
const OWN_FILE_ACCOUNT = 'replica';

export interface Replica {
  /** `http://127.0.0.1:port` of this replica's WebDAV server. */
  url: string;
  running: RunningOneDav;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * The config a server of the demo user's drive (`/`) runs with, signed in as `account` from its
 * token file in `dataDir`: loopback, anonymous read-write. `extra` goes over it.
 */
export function replicaConfig(emulator: RunningEmulator, dataDir: string, extra: Record<string, unknown> = {}, account = OWN_FILE_ACCOUNT): Record<string, unknown> {
  const user = findUser(emulator.state.directory, DEMO_USER)!;
  return {
    server: { host: '127.0.0.1', port: 0 },
    dataDir,
    accounts: { [account]: { cloud: 'emulator', tenant: user.tenantId, clientId: DEMO_CLIENT_ID } },
    mounts: [{ path: '/', account }],
    anonymous: { enabled: true, readOnly: false },
    log: { level: 'warn' },
    ...extra,
  };
}

/**
 * One onedav replica (`startOneDav`, as `onedav serve` runs it) in this process, serving the demo
 * user's drive of `emulator` with its own data dir, signed in as `onedav login` would leave it.
 * Give every replica of a fleet the same `redis` in `extra`.
 */
export async function startReplica(emulator: RunningEmulator, extra: Record<string, unknown> = {}): Promise<Replica> {
  const dataDir = await mkdtemp(join(tmpdir(), 'onedav-replica-'));
  await new TokenStore(dataDir).save(demoAccount(emulator, OWN_FILE_ACCOUNT));
  const running = await startOneDav(parseConfig(replicaConfig(emulator, dataDir, extra), {}));
  return {
    url: running.url,
    running,
    dataDir,
    async close() {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** `n` replicas of one drive sharing `extra` (e.g. one `redis`). */
export async function startReplicas(emulator: RunningEmulator, n: number, extra: Record<string, unknown> = {}): Promise<Replica[]> {
  const replicas: Replica[] = [];
  for (let i = 0; i < n; i++) replicas.push(await startReplica(emulator, extra));
  return replicas;
}
