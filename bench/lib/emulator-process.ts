import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CounterSnapshot } from '../../src/emulator/counters.js';
import type { FragmentLog } from '../../src/emulator/drive/service.js';
import type { EmulatorInfo, EmulatorRequest, SeedFile } from './emulator-child.js';

const CHILD = fileURLToPath(new URL('./emulator-child.ts', import.meta.url));

/** The driver's handle on the emulator child: seeding, counters, tokens. */
export class EmulatorProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly info: EmulatorInfo,
    /** Where the emulator keeps file content (its temp dir). */
    readonly storageDir: string,
  ) {}

  /**
   * Starts the emulator child. Its file content goes to a RAM-backed folder (/dev/shm) when there
   * is one: the emulator stands in for Microsoft's servers, and the bench machine's disk writeback
   * must not be what a throughput figure measures.
   * With `cpuProfileDir`, the child writes a V8 CPU profile into its `emulator/` folder when it stops.
   */
  static async start(options: { cpuProfileDir?: string } = {}): Promise<EmulatorProcess> {
    const storageDir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'onedav-bench-emulator-'));
    const profile = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfileDir, 'emulator')}`] : [];
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx', '--expose-gc', ...profile], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, TMPDIR: storageDir } });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the emulator child did not start within 60 s')), 60_000);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the emulator child exited early (code ${code})`)));
      child.once('message', (msg: { ready?: boolean; url?: string }) => {
        clearTimeout(timer);
        if (msg.ready && msg.url) resolve(msg.url);
        else reject(new Error('unexpected first message from the emulator child'));
      });
    });
    child.removeAllListeners('exit');
    const proc = new EmulatorProcess(child, url, undefined as unknown as EmulatorInfo, storageDir);
    child.on('message', (msg: { id?: number; result?: unknown; error?: string }) => {
      if (msg.id === undefined) return;
      const waiter = proc.pending.get(msg.id);
      proc.pending.delete(msg.id);
      if (msg.error !== undefined) waiter?.reject(new Error(`emulator child: ${msg.error}`));
      else waiter?.resolve(msg.result);
    });
    child.on('exit', () => {
      for (const waiter of proc.pending.values()) waiter.reject(new Error('the emulator child exited'));
      proc.pending.clear();
    });
    (proc as { info: EmulatorInfo }).info = (await proc.call({ op: 'info' })) as EmulatorInfo;
    return proc;
  }

  private call(request: EmulatorRequest): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, ...request });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  async mkdirs(paths: string[]): Promise<void> {
    await this.call({ op: 'mkdirs', paths });
  }

  async putFiles(files: SeedFile[]): Promise<void> {
    for (let i = 0; i < files.length; i += 2_000) await this.call({ op: 'putFiles', files: files.slice(i, i + 2_000) });
  }

  /** Empty files in one folder, seeded in bulk (one shared blob): for folders of 100,000 items. */
  async putEmptyFiles(folder: string, names: string[]): Promise<void> {
    for (let i = 0; i < names.length; i += 20_000) await this.call({ op: 'putEmptyFiles', folder, names: names.slice(i, i + 20_000) });
  }

  async counters(): Promise<CounterSnapshot> {
    return (await this.call({ op: 'counters' })) as CounterSnapshot;
  }

  async resetCounters(): Promise<void> {
    await this.call({ op: 'resetCounters' });
  }

  /** A Graph access token for the demo user (direct transfers, the baseline of table 2). */
  async accessToken(): Promise<string> {
    return (await this.call({ op: 'accessToken' })) as string;
  }

  async fragments(): Promise<FragmentLog[]> {
    return (await this.call({ op: 'fragments' })) as FragmentLog[];
  }

  async listPaths(): Promise<string[]> {
    return (await this.call({ op: 'listPaths' })) as string[];
  }

  /**
   * A full collection in the emulator: what one transfer left for its collector is then not paid
   * inside the next transfer measured (table 2 starts each PUT this way, whichever path it takes).
   */
  async collectGarbage(): Promise<void> {
    await this.call({ op: 'collectGarbage' });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.call({ op: 'stop' }).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    await rm(this.storageDir, { recursive: true, force: true });
  }
}
