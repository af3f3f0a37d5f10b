import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenStore } from '../../src/auth/token-store.js';
import { demoAccount } from '../../src/cli/demo-account.js';
import { DEMO_CLIENT_ID } from '../../src/emulator/directory.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/server.js';
import { startBalancer, type RunningBalancer } from './balancer.js';
import { serveUrl, sourceCli, type Printed } from './cli.js';
import { restartablePort } from './ports.js';
import { startRedis, type RunningRedis } from './redis.js';
import { ADELE } from './stack.js';

/** One `onedav serve` process of the fleet, on a fixed port so the balancer finds it again after a restart. */
export interface Replica {
  url: string;
  port: number;
  /** SIGKILL: no shutdown work at all, as a crashed machine. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>;
  /** Starts it again (same port, same data folder). */
  start(): Promise<void>;
  output(): string;
  /** The process id of the running process (undefined when it is not running). */
  pid(): number | undefined;
}

export interface Fleet {
  /** The balancer's URL: what clients use. */
  url: string;
  replicas: Replica[];
  emulator: RunningEmulator;
  redis: RunningRedis;
  balancer: RunningBalancer;
  /** The emulator's drive id of the served user. */
  driveId: string;
  close(): Promise<void>;
}

export interface FleetOptions {
  replicas?: number;
  /** Merged over each replica's config (top-level keys replace). */
  config?: Record<string, unknown>;
  emulator?: Partial<EmulatorOptions>;
  /** Redis keeps its data across `fleet.redis.kill()` and `start()` (an append-only file). */
  persistentRedis?: boolean;
}

/**
 * A real fleet on loopback: one Graph emulator (OneDrive), one redis-server, N `onedav serve`
 * processes (each with its own data folder, all configured with the same Redis and account) and
 * a real haproxy in round robin in front. Every replica starts with the same signed-in account in
 * its data folder, as an operator copying one server's sign-in to the others would.
 */
export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  const dir = await mkdtemp(join(tmpdir(), 'onedav-fleet-'));
  const redis = await startRedis({ persistent: options.persistentRedis });
  const emulator = await startEmulator({ port: 0, dataDir: join(dir, 'emulator'), admin: true, ...options.emulator });
  const driveId = emulator.drive.driveIdOf(ADELE);
  // One sign-in copied to every replica's data folder, as an operator would.
  const signIn = demoAccount(emulator, 'adele', ADELE);
  const replicas: Replica[] = [];
  for (let i = 0; i < (options.replicas ?? 3); i++) {
    const dataDir = join(dir, `replica-${i}`);
    await mkdir(dataDir, { recursive: true });
    await new TokenStore(dataDir).save(signIn);
    const port = await restartablePort();
    const configPath = join(dir, `replica-${i}.json`);
    await writeFile(
      configPath,
      JSON.stringify({
        server: { port },
        accounts: { adele: { cloud: 'emulator', tenant: 'contoso.onmicrosoft.com', clientId: DEMO_CLIENT_ID } },
        mounts: [{ path: '/', account: 'adele' }],
        anonymous: { enabled: true, readOnly: false },
        dataDir,
        redis: { url: redis.url, keyPrefix: 'fleet:' },
        log: { level: 'info', format: 'json' },
        ...options.config,
      }),
    );
    replicas.push(replica(configPath, port));
  }
  await Promise.all(replicas.map((r) => r.start()));
  const balancer = await startBalancer(replicas.map((r) => r.url));
  // Until haproxy's first health checks pass, it answers 503: wait for a real answer.
  for (let i = 0; (await fetch(`${balancer.url}/.well-known/onedav/healthz`).then((r) => r.status, () => 0)) !== 200; i++) {
    if (i > 100) throw new Error('the balancer found no healthy replica within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: balancer.url,
    replicas,
    emulator,
    redis,
    balancer,
    driveId,
    async close() {
      await balancer.stop();
      await Promise.all(replicas.map((r) => r.kill()));
      await emulator.close();
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function replica(configPath: string, port: number): Replica {
  let child: ChildProcess | undefined;
  // What the current process printed (a new one for each start: the old "listening" line must not count).
  let printed: Printed = { text: '' };
  const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  async function end(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || exited(c)) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    async start() {
      printed = { text: '' };
      child = spawn(process.execPath, sourceCli('serve', '--config', configPath), { stdio: ['ignore', 'pipe', 'pipe'] });
      await serveUrl(child, printed, 90_000);
    },
    output: () => printed.text,
    pid: () => (child && !exited(child) ? child.pid : undefined),
  };
}
