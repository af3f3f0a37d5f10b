import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulatorCloud } from '../../src/auth/clouds.js';
import { accountFromRefreshToken } from '../../src/auth/login.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { sourceCliOf } from '../../test/helpers/cli.js';
import type { EmulatorProcess } from './emulator-process.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ACCOUNT = 'bench';

export interface OneDavStartOptions {
  /** Holds the config, the saved sign-in, locks and properties. */
  dataDir: string;
  /** Merged over the bench config (e.g. `{ cache: { ttlSeconds: 300 } }`). */
  config?: Record<string, unknown>;
  /** Write a V8 CPU profile of the server into this folder when it stops. */
  cpuProfileDir?: string;
  /** Run the onedav of another checkout (its `src/cli/main.ts`), e.g. to compare before and after a change. */
  repo?: string;
  /** Extra flags for the server's node (e.g. `--trace-incremental-marking`, `--max-semi-space-size=…`). */
  nodeFlags?: string[];
  /** Run the server with `--trace-gc` and count its collections (`gcCounts()`). */
  traceGc?: boolean;
}

/** Garbage collections a server traced with `--trace-gc` reported so far. */
export interface GcCounts {
  markCompacts: number;
  scavenges: number;
}

/**
 * `onedav serve` as a user runs it (`onedav serve --config …`, from the source through tsx as
 * `npm run onedav` does, so no build is needed and a stale dist/ is never measured), in its own
 * process so that its memory and CPU are its own, signed in to the emulator child through a saved
 * refresh token as if `onedav login` had run.
 */
export class OneDavProcess {
  private exited: Promise<number | null>;
  private readonly gc: GcCounts = { markCompacts: 0, scavenges: 0 };

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  static async start(emulator: EmulatorProcess, options: OneDavStartOptions): Promise<OneDavProcess> {
    const info = emulator.info;
    const store = new TokenStore(options.dataDir);
    if (!(await store.load(ACCOUNT))) {
      await store.save(
        accountFromRefreshToken({
          account: ACCOUNT,
          cloud: emulatorCloud(info.url),
          tenant: info.tenantId,
          clientId: info.clientId,
          refreshToken: info.refreshToken,
          user: info.user,
          accountType: 'organizational',
        }),
      );
    }
    const config = merge(
      {
        server: { host: '127.0.0.1', port: 0 },
        dataDir: options.dataDir,
        accounts: { [ACCOUNT]: { cloud: 'emulator', tenant: info.tenantId, clientId: info.clientId } },
        mounts: [{ path: '/', account: ACCOUNT }],
        anonymous: { enabled: true, readOnly: false },
        download: { mode: 'auto' },
        log: { level: 'warn' },
      },
      options.config ?? {},
    );
    const configPath = join(options.dataDir, 'config.json');
    await writeFile(configPath, JSON.stringify(config, null, 2));

    const nodeFlags = [
      ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
      ...(options.traceGc ? ['--trace-gc'] : []),
      ...(options.nodeFlags ?? []),
    ];
    const repo = options.repo ?? REPO;
    const child = spawn(process.execPath, [...nodeFlags, ...sourceCliOf(repo, 'serve', '--config', configPath, '--port', '0')], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`onedav serve did not start within 60 s:\n${stderr}`)), 60_000);
      child.once('exit', (code) => reject(new Error(`onedav serve exited with code ${code}:\n${stderr}`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /WebDAV server listening on (\S+?)\/?\s/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    child.removeAllListeners('exit');
    const server = new OneDavProcess(child, url);
    if (options.traceGc) server.countGcLines();
    else child.stdout!.resume();
    child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[onedav] ${chunk.toString()}`));
    return server;
  }

  /** Collections counted from the server's `--trace-gc` lines (zeros without `traceGc`). */
  gcCounts(): GcCounts {
    return { ...this.gc };
  }

  /** V8 prints one line per collection on stdout: `… ms: Mark-Compact 30.8 (66.7) -> 28.8 (65.2) MB, …`. */
  private countGcLines(): void {
    let partial = '';
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (/ ms: Mark-Compact /.test(line)) this.gc.markCompacts++;
        else if (/ ms: Scavenge /.test(line)) this.gc.scavenges++;
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resident set size of the server process now, in bytes (Linux /proc). */
  async rss(): Promise<number> {
    return kib(await readFile(`/proc/${this.pid}/status`, 'utf8'), 'VmRSS');
  }

  /** Highest RSS since the last `resetPeakRss()` (VmHWM), in bytes. */
  async peakRss(): Promise<number> {
    return kib(await readFile(`/proc/${this.pid}/status`, 'utf8'), 'VmHWM');
  }

  /** CPU time (user + system) the server process has used so far, in ms (Linux /proc). */
  async cpuMs(): Promise<number> {
    return cpuMsOf(this.pid);
  }

  /** Makes VmHWM start again from the current RSS (writing 5 to clear_refs). */
  async resetPeakRss(): Promise<void> {
    await writeFile(`/proc/${this.pid}/clear_refs`, '5').catch(() => undefined);
  }

  /**
   * Runs `fn` while watching this process's RSS: sampled every 20 ms and read back as VmHWM after,
   * so a peak between samples still counts. Growth is the peak over the RSS before `fn`.
   */
  async watchRss<T>(fn: () => Promise<T>): Promise<{ result: T; baseline: number; peak: number; growth: number }> {
    const baseline = await this.rss();
    await this.resetPeakRss();
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await this.rss().catch(() => 0));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    let result: T;
    try {
      result = await fn();
    } finally {
      sampling = false;
      await sampler;
    }
    peak = Math.max(peak, await this.peakRss());
    return { result, baseline, peak, growth: Math.max(0, peak - baseline) };
  }

  /** SIGINT, as a user stopping it; the CPU profile (if any) is written on the way out. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** utime + stime of a process, in ms, from /proc/PID/stat (clock ticks are 100 Hz on Linux). */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function kib(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc status`);
  return Number(m[1]) * 1024;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? merge(prev as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}
