import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CounterSnapshot } from '../../src/emulator/counters.js';
import { EmulatorProcess } from './emulator-process.js';
import { OneDavProcess, type OneDavStartOptions } from './onedav-process.js';

export interface BenchStackOptions {
  config?: OneDavStartOptions['config'];
  cpuProfileDir?: string;
  /** Run the onedav of another checkout (before/after comparisons): OneDavStartOptions.repo. */
  repo?: string;
  /** Extra flags for the server's node: OneDavStartOptions.nodeFlags. */
  nodeFlags?: string[];
  /** Count the server's garbage collections: OneDavStartOptions.traceGc. */
  traceGc?: boolean;
}

/** Emulator child + onedav child, with the Graph-call accounting every table needs. */
export class BenchStack {
  private constructor(
    readonly emulator: EmulatorProcess,
    public onedav: OneDavProcess,
    readonly dataDir: string,
    private readonly options: BenchStackOptions,
  ) {}

  static async start(options: BenchStackOptions = {}): Promise<BenchStack> {
    const dataDir = await mkdtemp(join(tmpdir(), 'onedav-bench-'));
    const emulator = await EmulatorProcess.start({ cpuProfileDir: options.cpuProfileDir });
    try {
      const onedav = await OneDavProcess.start(emulator, { dataDir, config: options.config, cpuProfileDir: options.cpuProfileDir, repo: options.repo, nodeFlags: options.nodeFlags, traceGc: options.traceGc });
      return new BenchStack(emulator, onedav, dataDir, options);
    } catch (err) {
      await emulator.stop();
      throw err;
    }
  }

  get url(): string {
    return this.onedav.url;
  }

  /** A fresh onedav process on the same emulator: every cache is cold again. */
  async restartOneDav(): Promise<void> {
    await this.onedav.stop();
    this.onedav = await OneDavProcess.start(this.emulator, { dataDir: this.dataDir, config: this.options.config, cpuProfileDir: this.options.cpuProfileDir, repo: this.options.repo, nodeFlags: this.options.nodeFlags, traceGc: this.options.traceGc });
  }

  /** Runs `fn` and returns what the emulator counted meanwhile. */
  async count<T>(fn: () => Promise<T>): Promise<{ result: T; calls: CallCount }> {
    await this.emulator.resetCounters();
    const result = await fn();
    return { result, calls: callCount(await this.emulator.counters()) };
  }

  async stop(): Promise<void> {
    await this.onedav.stop();
    await this.emulator.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

export interface CallCount {
  /** Graph API + upload-session requests: what Microsoft throttles on. */
  graph: number;
  /** Requests to download URLs (bytes, not throttled like the API). */
  downloads: number;
  /** Token endpoint and other identity requests. */
  identity: number;
  byRoute: Record<string, number>;
}

export function callCount(snapshot: CounterSnapshot): CallCount {
  return {
    graph: snapshot.graphCalls,
    downloads: snapshot.byCategory.download ?? 0,
    identity: snapshot.byCategory.identity ?? 0,
    byRoute: snapshot.byRoute,
  };
}

/** `GET …/children ×3, POST …/createUploadSession ×1` — what made up a count, compactly. */
export function describeRoutes(calls: CallCount): string {
  const parts = Object.entries(calls.byRoute)
    .filter(([route]) => route.startsWith('graph: ') || route.startsWith('upload: '))
    .sort((a, b) => b[1] - a[1])
    .map(([route, n]) => `${shortRoute(route)}×${n}`);
  return parts.join(', ');
}

function shortRoute(route: string): string {
  return route
    .replace(/^(graph|upload): /, '')
    .replace('/drives/{drive-id}', '')
    .replace('/me/drive', '')
    .replace(/\{[a-z-]+\}/g, (m) => (m === '{item-id}' ? '{id}' : m));
}
