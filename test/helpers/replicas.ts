import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenStore } from '../../src/auth/token-store.js';
import { startOneDav, type RunningOneDav } from '../../src/cli/app.js';
import { demoAccount } from '../../src/cli/demo-account.js';
import { parseConfig } from '../../src/config.js';
import { DEMO_CLIENT_ID, DEMO_USER, findUser } from '../../src/emulator/directory.js';
import type { RunningEmulator } from '../../src/emulator/server.js';

const ACCOUNT = 'replica';

export interface Replica {
  /** `http://127.0.0.1:port` of this replica's WebDAV server. */
  url: string;
  running: RunningOneDav;
  dataDir: string;
  close(): Promise<void>;
}

/** A fresh key prefix, so test files sharing one Redis never see each other's keys. */
export function fleetPrefix(): string {
  return `fleet-${randomUUID().slice(0, 8)}:`;
}

/** The config a replica of the demo user's drive (`/`) runs with; `extra` goes over it. */
export function replicaConfig(emulator: RunningEmulator, dataDir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const user = findUser(emulator.state.directory, DEMO_USER)!;
  return {
    server: { host: '127.0.0.1', port: 0 },
    dataDir,
    accounts: { [ACCOUNT]: { cloud: 'emulator', tenant: user.tenantId, clientId: DEMO_CLIENT_ID } },
    mounts: [{ path: '/', account: ACCOUNT }],
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
  await new TokenStore(dataDir).save(demoAccount(emulator, ACCOUNT));
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
