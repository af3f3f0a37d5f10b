import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { SharedRedis } from '../../src/redis/connection.js';
import { hasProgram } from '../clients/tools.js';
import { restartablePort } from './ports.js';

/** Whether a real redis-server is installed (.ci/run installs Debian's). */
export const HAS_REDIS = hasProgram('redis-server');

export interface RunningRedis {
  url: string;
  port: number;
  /** SIGKILL: as if the machine running Redis died (nothing saved unless `persistent`). */
  kill(): Promise<void>;
  /** Starts it again on the same port, from its folder: empty, or as it was with `persistent`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that hangs (connections stay open, nothing is answered), and back. */
  pause(): void;
  resume(): void;
}

/**
 * A real redis-server on 127.0.0.1 in a temporary folder, without persistence. `password` turns
 * on AUTH (requirepass); `persistent` keeps every write in an append-only file synced before each
 * reply (appendfsync always), so `kill()` then `start()` brings everything back, as a Redis
 * restarted on its data folder does. Stopped by `stop()`; never left running after the test file.
 */
export async function startRedis(options: { password?: string; persistent?: boolean } = {}): Promise<RunningRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'onedav-redis-'));
  const port = await restartablePort();
  let child: ChildProcess | undefined;
  const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence, '--protected-mode', 'yes'];
  if (options.password) args.push('--requirepass', options.password);

  async function start(): Promise<void> {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
    });
  }

  async function kill(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  await start();
  return {
    url: `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`,
    port,
    kill,
    start,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A redis-server for the tests of one file: call it inside the file's `describe`; it starts before
 * them and stops after them. Read `.redis` inside the tests (or later hooks).
 */
export function redisForTests(options: { password?: string } = {}): { readonly redis: RunningRedis } {
  let running: RunningRedis | undefined;
  beforeAll(async () => {
    running = await startRedis(options);
  });
  afterAll(async () => {
    await running?.stop();
  });
  return {
    get redis(): RunningRedis {
      if (!running) throw new Error('redis-server is not started yet: read .redis inside a test or a later hook');
      return running;
    },
  };
}

/** A fresh key prefix, so test files sharing one Redis never see each other's keys. */
export function fleetPrefix(): string {
  return `fleet-${randomUUID().slice(0, 8)}:`;
}

/** `n` ready connections to `redis` under one fresh key prefix, as `n` replicas of one fleet hold them. */
export async function connectReplicas(redis: RunningRedis, n: number): Promise<SharedRedis[]> {
  const keyPrefix = fleetPrefix();
  const connections = Array.from({ length: n }, () => new SharedRedis({ url: redis.url, keyPrefix }));
  await Promise.all(connections.map((c) => c.ready()));
  return connections;
}
