/**
 * A/B check for a change to the streaming paths: a proxied GET and a PUT of one file through the
 * onedav of this checkout, through the onedav of another checkout (optional), and directly against
 * the emulator (downloadUrl GET; upload session with 10 MiB fragments), interleaved round by round
 * (the order rotates) so that whatever else loads the machine weighs on all alike. Prints median and
 * best MiB/s, and each onedav process's user and system CPU seconds per GiB (Linux /proc).
 *
 *   npx tsx bench/compare-transfer.ts [--other /path/to/checkout] [--size 512M] [--rounds 5] [--op get,put] [--profile DIR]
 *
 * A raw TCP relay process (no HTTP parsing) carries a third set of direct transfers: its CPU per
 * GiB is the floor for any proxy process on this machine (`--no-relay` leaves it out).
 * `--profile DIR` writes a V8 CPU profile of every onedav process (of the chosen ops only) into DIR.
 * Make the other checkout with e.g. `git archive HEAD | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GiB, MiB, patternStream, send } from './lib/http.js';
import { EmulatorProcess } from './lib/emulator-process.js';
import { downloadUrlOf, uploadDirect } from './lib/graph-direct.js';
import { OneDavProcess } from './lib/onedav-process.js';
import { median, now, printTable } from './lib/report.js';
import { TcpRelay } from './lib/tcp-relay.js';

const { values } = parseArgs({
  options: {
    other: { type: 'string' },
    size: { type: 'string', default: '512M' },
    rounds: { type: 'string', default: '5' },
    op: { type: 'string', default: 'get,put' },
    profile: { type: 'string' },
    'no-relay': { type: 'boolean', default: false },
  },
});
const size = parseSize(values.size!);
const rounds = Number(values.rounds);
const ops = new Set(values.op!.split(',').map((s) => s.trim()));
const FRAGMENT = 10 * MiB;

interface Sample {
  ms: number;
  userMs: number;
  sysMs: number;
  /** Minor page faults (fresh memory the kernel had to map and zero). */
  faults: number;
}
interface Contender {
  name: string;
  /** The process whose CPU is counted (none for direct transfers). */
  pid?: number;
  onedav?: OneDavProcess;
  /** Direct transfers, but through a raw TCP relay process (the floor for a proxy's cost). */
  relay?: TcpRelay;
  get: Sample[];
  put: Sample[];
}

const work = await mkdtemp(join(tmpdir(), 'onedav-compare-transfer-'));
const emulator = await EmulatorProcess.start();
const contenders: Contender[] = [{ name: 'direct (emulator)', get: [], put: [] }];
try {
  await emulator.mkdirs(['ab']);
  const token = await emulator.accessToken();
  const graph = `${emulator.url}/v1.0`;
  await uploadDirect(graph, token, '/ab/source.bin', size, FRAGMENT);
  if (!values['no-relay']) {
    const relay = await TcpRelay.start(emulator.url);
    contenders.push({ name: 'raw TCP relay (floor)', pid: relay.pid, relay, get: [], put: [] });
  }
  const checkouts: Array<[string, string | undefined]> = [['this checkout', undefined]];
  if (values.other) checkouts.push([`other (${values.other})`, resolve(values.other)]);
  for (const [name, repo] of checkouts) {
    const dataDir = await mkdtemp(join(work, 'data-'));
    const onedav = await OneDavProcess.start(emulator, { dataDir, repo, cpuProfileDir: values.profile ? resolve(values.profile) : undefined });
    contenders.push({ name: `onedav, ${name}`, pid: onedav.pid, onedav, get: [], put: [] });
    // Warm up (sign-in, JIT) on a small file.
    if (ops.has('put')) await davPut(onedav.url, '/ab/warmup.bin', 12 * MiB);
    if (ops.has('get')) await davGet(onedav.url, '/ab/source.bin', size);
  }

  for (let round = 0; round < rounds; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
    for (const c of order) {
      if (ops.has('get')) {
        c.get.push(
          await sample(c.pid, async () => {
            if (c.onedav) await davGet(c.onedav.url, '/ab/source.bin', size);
            else {
              const direct = await downloadUrlOf(graph, token, '/ab/source.bin');
              const url = c.relay ? c.relay.via(direct) : direct;
              const got = await send(url, 'GET', '');
              if (got.status !== 200 || got.bytes !== size) throw new Error(`direct GET: ${got.status}, ${got.bytes} bytes`);
            }
          }),
        );
      }
      if (ops.has('put')) {
        const path = `/ab/put-${contenders.indexOf(c)}-${round}.bin`;
        c.put.push(await sample(c.pid, () => (c.onedav ? davPut(c.onedav.url, path, size) : uploadDirect(graph, token, path, size, FRAGMENT, c.relay))));
      }
    }
  }

  const rows: string[][] = [];
  for (const op of ['get', 'put'] as const) {
    if (!ops.has(op)) continue;
    const direct = contenders[0][op];
    for (const c of contenders) {
      const s = c[op];
      const rate = (ms: number) => (size / MiB) / (ms / 1000);
      const med = median(s.map((x) => x.ms));
      const best = Math.min(...s.map((x) => x.ms));
      const perGiB = (pick: (x: Sample) => number) => ((median(s.map(pick)) * GiB) / size / 1000).toFixed(2);
      rows.push([
        op.toUpperCase(),
        c.name,
        `${rate(med).toFixed(0)} MiB/s`,
        `${rate(best).toFixed(0)} MiB/s`,
        `${(median(direct.map((x) => x.ms)) / med).toFixed(2)}×`,
        `${(Math.min(...direct.map((x) => x.ms)) / best).toFixed(2)}×`,
        c.pid ? `${perGiB((x) => x.userMs)} s` : '',
        c.pid ? `${perGiB((x) => x.sysMs)} s` : '',
        c.pid ? `${perGiB((x) => x.userMs + x.sysMs)} s` : '',
        c.pid ? `${((median(s.map((x) => x.faults)) * GiB) / size / 1000).toFixed(0)}k` : '',
      ]);
    }
  }
  printTable({
    title: `${(size / MiB).toFixed(0)} MiB per transfer, ${rounds} interleaved rounds`,
    columns: ['op', 'path', 'median', 'best', 'ratio (median)', 'ratio (best)', 'user CPU/GiB', 'sys CPU/GiB', 'CPU/GiB', 'page faults/GiB'],
    rows,
  });
} finally {
  for (const c of contenders) await (c.onedav ?? c.relay)?.stop();
  await emulator.stop();
  await rm(work, { recursive: true, force: true });
}

async function sample(pid: number | undefined, fn: () => Promise<void>): Promise<Sample> {
  const none = { user: 0, sys: 0, faults: 0 };
  const before = pid ? await cpuOf(pid) : none;
  const start = now();
  await fn();
  const ms = now() - start;
  const after = pid ? await cpuOf(pid) : none;
  return { ms, userMs: after.user - before.user, sysMs: after.sys - before.sys, faults: after.faults - before.faults };
}

/** utime and stime of a process in ms (clock ticks are 100 Hz on Linux), and its minor faults. */
async function cpuOf(pid: number): Promise<{ user: number; sys: number; faults: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) * 10, sys: Number(fields[12]) * 10, faults: Number(fields[7]) };
}

async function davGet(base: string, path: string, expected: number): Promise<void> {
  const got = await send(base, 'GET', path, { headers: { 'user-agent': 'gvfs/1.50.0' } });
  if (got.status !== 200 || got.bytes !== expected) throw new Error(`GET through onedav: ${got.status}, ${got.bytes} bytes`);
}

async function davPut(base: string, path: string, bytes: number): Promise<void> {
  const got = await send(base, 'PUT', path, { headers: { 'content-length': String(bytes) }, body: patternStream(bytes) });
  if (got.status !== 201 && got.status !== 204) throw new Error(`PUT through onedav: ${got.status}`);
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)$/i.exec(text.trim());
  if (!m) throw new Error(`--size ${text}: a number with an optional K, M or G suffix`);
  return Math.round(Number(m[1]) * { '': 1, K: 1024, M: MiB, G: GiB }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G']);
}
