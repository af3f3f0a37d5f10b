import { fork, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TokenStore } from '../../src/auth/token-store.js';
import { demoAccount } from '../../src/cli/demo-account.js';
import { DEMO_USER } from '../../src/emulator/directory.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { replicaConfig } from './app-replicas.js';

const CHILD = fileURLToPath(new URL('./onedav-child.ts', import.meta.url));
const ACCOUNT = 'child';

export interface OneDavChild {
  /** `http://127.0.0.1:port` of the WebDAV server in the child. */
  url: string;
  pid: number;
  /** The emulator drive the child serves at `/` (the demo user's). */
  driveId: string;
  /** Resident set size of the child now, in bytes. */
  rss(): Promise<number>;
  /** Highest resident set size since the last `resetPeakRss()` (Linux VmHWM), in bytes. */
  peakRss(): Promise<number>;
  /** Starts VmHWM again from the current RSS. */
  resetPeakRss(): Promise<void>;
  /** Runs a full garbage collection in the child (for a baseline that holds no old garbage). */
  collectGarbage(): Promise<void>;
  /** `process.memoryUsage()` inside the child (heap, external and ArrayBuffer bytes besides RSS). */
  memory(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

/**
 * Starts onedav (`startOneDav`, as `onedav serve` does) in a child process against a running
 * emulator, signed in as the demo user through a saved refresh token (as `onedav login` leaves it),
 * so that the server's memory is measured apart from the test runner and the emulator.
 * `config` goes over the config replicas of that drive run with (replicaConfig).
 */
export async function startOneDavChild(emulator: RunningEmulator, dataDir: string, config: Record<string, unknown> = {}): Promise<OneDavChild> {
  await new TokenStore(dataDir).save(demoAccount(emulator, ACCOUNT));
  const child = fork(CHILD, [], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the onedav child did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the onedav child exited early (code ${code})`)));
    child.once('message', (msg: { ready?: boolean; url?: string; error?: string }) => {
      clearTimeout(timer);
      if (msg.ready && msg.url) resolve(msg.url);
      else reject(new Error(`the onedav child failed to start: ${msg.error ?? JSON.stringify(msg)}`));
    });
    child.send({ config: replicaConfig(emulator, dataDir, config, ACCOUNT) });
  });
  child.removeAllListeners('exit');
  const pid = child.pid!;
  let nextId = 1;
  const ask = (op: string): Promise<Record<string, unknown>> => {
    const id = nextId++;
    return new Promise((resolve) => {
      const onMessage = (msg: Record<string, unknown>) => {
        if (msg.id !== id) return;
        child.off('message', onMessage);
        resolve(msg);
      };
      child.on('message', onMessage);
      child.send({ op, id });
    });
  };
  return {
    url,
    pid,
    driveId: emulator.drive.driveIdOf(DEMO_USER),
    rss: async () => statusBytes(pid, 'VmRSS'),
    peakRss: async () => statusBytes(pid, 'VmHWM'),
    resetPeakRss: () => writeFile(`/proc/${pid}/clear_refs`, '5'),
    collectGarbage: async () => {
      await ask('gc');
    },
    memory: async () => (await ask('memory')).memory as NodeJS.MemoryUsage,
    stop: () => stopChild(child),
  };
}

async function statusBytes(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]) * 1024;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ op: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
