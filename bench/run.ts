/**
 * onedav benchmarks: `npm run bench` (or `npx tsx bench/run.ts`) prints six tables.
 *
 *   --quick            smaller sizes (a smoke test that finishes in about two minutes)
 *   --table 1,3        only these tables (1 Graph calls, 2 throughput/memory, 3 latency, 4 large listing,
 *                      5 replicas: Redis-backed state vs files, 1 vs 2 replicas,
 *                      6 the rclone workload's Graph calls per step, onedav cold and warm vs rclone's onedrive backend,
 *                      7 big folder: streamed PROPFIND)
 *   --files 50         files in table 6's bigger tree (its first is the issue's scale: 6 files in 4 folders)
 *   --size 256M        bytes per transfer in tables 2 and 5 (default 1G in table 2, 256M in table 5; K/M/G suffixes)
 *                      (table 2 runs twice: 2a with the emulator alone on a core, as Graph is on
 *                      Microsoft's machines — needs taskset and 2 cores; 2b with every process on every core)
 *   --duration 10      seconds of load per row in table 3 (per round and backend in table 5)
 *   --clients 64       concurrent clients in tables 3 and 5
 *   --items 10000      children of the folder listed in table 4
 *   --big-items 100000 files in the folder of table 7 (default 100,000; 10,000 with --quick)
 *   --onedav-repo DIR  table 7 measures the onedav of another checkout (a before/after comparison)
 *   --trace-gc         table 2 runs onedav with --trace-gc and says how many mark-compacts and
 *                      scavenges each transfer cost it
 *   --onedav-node-flags "--max-semi-space-size=32 …"
 *                      extra node flags for table 2's onedav server (an experiment, not a setting)
 *   --profile DIR      write a V8 CPU profile of every onedav server process into DIR (and of the
 *                      emulator child of tables 1–4 and 6 into DIR/emulator)
 *                      (summarise one with: npx tsx bench/profile-summary.ts DIR/<file>.cpuprofile)
 *
 * Every figure comes from real processes: onedav runs as `onedav serve` (source, via tsx) in a child
 * process (its RSS is its own), the Graph emulator in another child, rclone as the real binary.
 * Nothing here asserts on wall time; PASS/MISS compare figures with the targets of the issues.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GiB, MiB } from './lib/http.js';
import { printTable, type Table } from './lib/report.js';
import { FULL_GRAPH_CALLS, FULL_RCLONE_WORKLOAD, graphCallsTable, ISSUE_RCLONE_WORKLOAD, QUICK_GRAPH_CALLS, rcloneWorkloadTable } from './tables/graph-calls.js';
import { bigFolderTable } from './tables/big-folder.js';
import { largeListingTable } from './tables/large-listing.js';
import { latencyTable } from './tables/latency.js';
import { replicasTable } from './tables/replicas.js';
import { throughputTable } from './tables/throughput.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    table: { type: 'string', multiple: true },
    size: { type: 'string' },
    duration: { type: 'string' },
    clients: { type: 'string' },
    items: { type: 'string' },
    files: { type: 'string' },
    'big-items': { type: 'string' },
    'onedav-repo': { type: 'string' },
    profile: { type: 'string' },
    'trace-gc': { type: 'boolean', default: false },
    'onedav-node-flags': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  const source = await import('node:fs').then((fs) => fs.readFileSync(new URL(import.meta.url), 'utf8'));
  process.stdout.write(`${/\/\*\*([\s\S]*?)\*\//.exec(source)![1].replace(/^ \* ?/gm, '').trim()}\n`);
  process.exit(0);
}

const quick = values.quick;
const tables = new Set((values.table ?? ['1,2,3,4,5,6,7']).flatMap((t) => t.split(',')).map((t) => Number(t.trim())));
const cpuProfileDir = values.profile ? resolve(values.profile) : undefined;
if (cpuProfileDir) mkdirSync(cpuProfileDir, { recursive: true });

function bytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new Error(`--size ${text}: use a number of bytes with an optional K, M or G suffix, e.g. 256M`);
  const unit = { '': 1, K: 1024, M: MiB, G: GiB }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Math.round(Number(m[1]) * unit);
}

function rcloneVersion(): string {
  try {
    return execFileSync('rclone', ['version'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'rclone not found (tables 1 and 4 need it: apt-get install rclone)';
  }
}

const out = (line: string) => process.stdout.write(`${line}\n`);
out('# onedav benchmarks');
out('');
out(`- cores: ${cpus().length} (${cpus()[0]?.model ?? 'unknown CPU'}), memory ${(totalmem() / GiB).toFixed(1)} GiB, ${platform()} ${release()}`);
out(`- Node ${process.version}; ${rcloneVersion()}`);
out(`- mode: ${quick ? 'quick (smaller sizes; figures are a smoke test, not a measurement)' : 'full'}${cpuProfileDir ? `; CPU profiles in ${cpuProfileDir}` : ''}`);

const started = performance.now();
const runners: Record<number, () => Promise<Table | Table[]>> = {
  1: () => graphCallsTable({ ...(quick ? QUICK_GRAPH_CALLS : FULL_GRAPH_CALLS), cpuProfileDir }),
  2: async () => {
    const options = {
      size: values.size ? bytes(values.size) : quick ? 64 * MiB : GiB,
      rounds: quick ? 1 : 3,
      cpuProfileDir,
      traceGc: values['trace-gc'],
      nodeFlags: values['onedav-node-flags']?.split(/\s+/).filter(Boolean),
    };
    // 2a: Graph's stand-in on a core of its own, as in production; 2b: everything on every core, as before.
    const apart = cpus().length >= 2 ? [await throughputTable({ ...options, graphApart: true })] : [];
    return [...apart, await throughputTable(options)];
  },
  3: () =>
    latencyTable({
      clients: values.clients ? Number(values.clients) : 64,
      durationMs: (values.duration ? Number(values.duration) : quick ? 3 : 10) * 1000,
      items: 1000,
      cpuProfileDir,
    }),
  4: () =>
    largeListingTable({
      items: values.items ? Number(values.items) : quick ? 2000 : 10_000,
      samples: quick ? 3 : 10,
      coldSamples: quick ? 1 : 3,
      cpuProfileDir,
    }),
  5: () =>
    replicasTable({
      clients: values.clients ? Number(values.clients) : 64,
      roundMs: (values.duration ? Number(values.duration) : quick ? 2 : 5) * 1000,
      rounds: quick ? 2 : 4,
      items: 1000,
      size: values.size ? bytes(values.size) : quick ? 32 * MiB : 256 * MiB,
      downloads: 4,
      downloadRounds: quick ? 1 : 3,
      cpuProfileDir,
    }),
  6: async () => [
    await rcloneWorkloadTable({ ...ISSUE_RCLONE_WORKLOAD, cpuProfileDir }),
    await rcloneWorkloadTable({ ...FULL_RCLONE_WORKLOAD, ...(values.files ? { files: Number(values.files) } : {}), cpuProfileDir }),
  ],
  7: () => bigFolderTable({ items: values['big-items'] ? Number(values['big-items']) : quick ? 10_000 : 100_000, repo: values['onedav-repo'] ? resolve(values['onedav-repo']) : undefined }),
};

let failed = false;
for (const n of Object.keys(runners).map(Number)) {
  if (!tables.has(n)) continue;
  const t0 = performance.now();
  const loadBefore = loadavg()[0];
  try {
    for (const table of [await runners[n]()].flat()) printTable(table);
    const loadAfter = loadavg()[0];
    const busy = Math.max(loadBefore, loadAfter) > cpus().length ? ' — the machine was busy with other work: timings are pessimistic' : '';
    out(`  (table ${n} took ${((performance.now() - t0) / 1000).toFixed(1)} s; load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} on ${cpus().length} cores${busy})`);
  } catch (err) {
    failed = true;
    out('');
    out(`## Table ${n} could not be measured`);
    out(`  ${(err as Error).stack ?? String(err)}`);
  }
}
out('');
out(`Total ${((performance.now() - started) / 1000).toFixed(1)} s.`);
process.exit(failed ? 1 : 0);
