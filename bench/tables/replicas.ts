import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startBalancer, type RunningBalancer } from '../../test/helpers/balancer.js';
import { startRedis, type RunningRedis } from '../../test/helpers/redis.js';
import { EmulatorProcess } from '../lib/emulator-process.js';
import { countResponses, expectStatus, MiB, PROPFIND_BODY, propfind, send } from '../lib/http.js';
import { closedLoop, type LoadResult, type LoadSpec } from '../lib/load.js';
import { OneDavProcess } from '../lib/onedav-process.js';
import { mib, mibPerSec, ms, now, percentile, ratio, type Table } from '../lib/report.js';
import { callCount } from '../lib/stack.js';

export interface ReplicasOptions {
  clients: number;
  /** Seconds of load per round and per state backend (rounds alternate file and Redis). */
  roundMs: number;
  rounds: number;
  /** Children of the folder listed (1,000 as in table 3). */
  items: number;
  /** Bytes of the file downloaded through the replicas. */
  size: number;
  /** Downloads at once through the balancer. */
  downloads: number;
  /** Download rounds per layout (alternating 1 and 2 replicas); the best is reported. */
  downloadRounds: number;
  cpuProfileDir?: string;
}

const RCLONE = { 'user-agent': 'rclone/v1.60.1' }; // answered with a 302 to the download URL
const GVFS = { 'user-agent': 'gvfs/1.50.0' }; // proxied: the bytes go through onedav

/**
 * Table 5: what sharing state through Redis costs one replica, and what a second replica buys.
 * One emulator child, one redis-server, three `onedav serve` children on it: one with the file
 * stores (no `redis`), two with the same `redis` (a fleet of two). Latency rows alternate rounds
 * between the file replica and a Redis replica so the machine's load weighs on both alike; the
 * throughput rows put a real haproxy in front of one replica, then of both.
 */
export async function replicasTable(options: ReplicasOptions): Promise<Table> {
  const dir = await mkdtemp(join(tmpdir(), 'onedav-bench-replicas-'));
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const emulator = await EmulatorProcess.start();
    cleanups.push(() => emulator.stop());
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const start = async (name: string, config?: Record<string, unknown>) => {
      const dav = await OneDavProcess.start(emulator, { dataDir: await mkdirIn(dir, name), config, cpuProfileDir: options.cpuProfileDir });
      cleanups.push(() => dav.stop());
      return dav;
    };
    const redisConfig = { redis: { url: redis.url, keyPrefix: 'bench:' } };
    const fileDav = await start('file');
    const [redisA, redisB] = await Promise.all([start('redis-a', redisConfig), start('redis-b', redisConfig)]);

    const bigPath = `/t5/big-${options.size}.bin`;
    await emulator.putFiles([
      ...Array.from({ length: options.items }, (_, i) => ({ path: `t5/folder/file-${String(i).padStart(5, '0')}.txt`, size: 100 + (i % 50) })),
      { path: 't5/movie.mkv', size: MiB },
      { path: 't5/small.bin', size: MiB },
      { path: bigPath.slice(1), size: options.size },
    ]);
    // Warm every replica: the listing and the download URL cached, the JIT has seen every path.
    for (const dav of [fileDav, redisA, redisB]) {
      for (let i = 0; i < 3; i++) {
        const listing = expectStatus(await propfind(dav.url, '/t5/folder/', '1', { keepBody: true }), [207], 'PROPFIND');
        if (countResponses(listing.text!) !== options.items + 1) throw new Error('short listing');
        expectStatus(await send(dav.url, 'GET', '/t5/movie.mkv', { headers: RCLONE }), [302], 'GET (302)');
        expectStatus(await send(dav.url, 'GET', '/t5/small.bin', { headers: GVFS }), [200], 'GET (proxied)');
      }
    }

    const stats = await redisCounter(redis);
    cleanups.push(() => stats.close());
    const rows: Array<Array<string | number>> = [];

    const requests: Array<{ what: string; spec: Omit<LoadSpec, 'url' | 'clients' | 'durationMs'> }> = [
      {
        what: `PROPFIND Depth 1, ${options.items} items, warm`,
        spec: { method: 'PROPFIND', path: '/t5/folder/', headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8' }, body: PROPFIND_BODY, expect: 207 },
      },
      { what: 'GET answered with 302 (download URL cached)', spec: { method: 'GET', path: '/t5/movie.mkv', headers: RCLONE, expect: 302 } },
    ];
    for (const { what, spec } of requests) {
      const runs = { file: [] as Measured[], redis: [] as Measured[] };
      for (let round = 0; round < options.rounds; round++) {
        // Alternate which goes first, so neither always follows the other's garbage collection.
        const order: Array<'file' | 'redis'> = round % 2 === 0 ? ['file', 'redis'] : ['redis', 'file'];
        for (const which of order) {
          const url = which === 'file' ? fileDav.url : redisA.url;
          await emulator.resetCounters();
          const commandsBefore = await stats.commands();
          const result = await closedLoop({ ...spec, url, clients: options.clients, durationMs: options.roundMs });
          const redisCommands = (await stats.commands()) - commandsBefore - 1; // minus the INFO itself
          runs[which].push({ result, graph: callCount(await emulator.counters()).graph, redisCommands });
        }
      }
      const file = pooled(runs.file);
      const shared = pooled(runs.redis);
      rows.push(latencyRow(what, 'files (no redis)', file, ''));
      rows.push(
        latencyRow(what, 'Redis', shared, `req/s ${ratio(shared.perSecond / file.perSecond)}, p50 ${ratio(shared.p50 / file.p50)}, p99 ${ratio(shared.p99 / file.p99)}`),
      );
    }

    // Proxied GET throughput: the same haproxy config in front of one replica, then of two.
    const one = await balancerOf([redisA.url]);
    cleanups.push(() => one.stop());
    const two = await balancerOf([redisA.url, redisB.url]);
    cleanups.push(() => two.stop());
    const best = { 1: Infinity, 2: Infinity };
    for (let round = 0; round < options.downloadRounds; round++) {
      const order: Array<1 | 2> = round % 2 === 0 ? [1, 2] : [2, 1];
      for (const n of order) best[n] = Math.min(best[n], await downloadAll(n === 1 ? one.url : two.url, bigPath, options.size, options.downloads));
    }
    const total = options.size * options.downloads;
    const downloadRow = (n: 1 | 2, note: string) =>
      rows.push([`proxied GET ${mib(options.size)} × ${options.downloads} at once, via haproxy`, `${n} replica${n > 1 ? 's' : ''} (Redis)`, options.downloads, 0, mibPerSec(total, best[n]), '—', '—', '—', '—', note]);
    downloadRow(1, '');
    downloadRow(2, `MiB/s ${ratio(best[1] / best[2])} (2 / 1)`);

    return {
      title: `Table 5 — Replicas: Redis-backed state vs file stores (${options.clients} clients, closed loop), and proxied GETs through 1 vs 2 replicas`,
      columns: ['request', 'state / layout', 'answers', 'errors', 'throughput', 'p50', 'p99', 'Graph calls', 'Redis cmds per answer', 'ratio'],
      rows,
      notes: [
        `Latency rows: one onedav process with the file stores (locks, properties, sign-in under dataDir) and one configured with \`redis\` (a member of a two-replica fleet), on the same emulator, warm (listing and download URL cached); ${options.rounds} alternating rounds of ${(options.roundMs / 1000).toFixed(0)} s each per backend, answers pooled: p50/p99 over every answer of every round, throughput = answers / time under load.`,
        'ratio = Redis / file: req/s below 1.00× or p50/p99 above 1.00× is what sharing state through Redis costs a replica. "Redis cmds per answer" = commands redis-server processed during the rows (INFO total_commands_processed, both Redis replicas and their background work: delta-poll lease, token record) / answers. errors = answers other than 207/302: with Redis, 503 when a store read outlived the 2 s command timeout (a replica whose event loop is saturated counts its own lag against Redis).',
        `Throughput rows: ${options.downloads} concurrent proxied GETs (user-agent gvfs, so onedav streams the bytes) of one ${mib(options.size)} file through a real haproxy (round robin per request, the config of docs/deploy.md) in front of 1 replica, then of 2; best of ${options.downloadRounds} alternating round(s); MiB/s = all bytes / wall time until the last download ends.`,
        'This machine has 2 cores shared by the emulator (which serves every byte), haproxy, the replicas, Redis and the bench driver: a second replica cannot get a core of its own, so the 2 / 1 ratio is a floor for what a second machine would add.',
      ],
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

interface Measured {
  result: LoadResult;
  graph: number;
  redisCommands: number;
}

interface Pooled {
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  graph: number;
  redisCommands: number;
}

function pooled(runs: Measured[]): Pooled {
  const latencies = runs.flatMap((r) => r.result.latencies).sort((a, b) => a - b);
  const elapsed = runs.reduce((sum, r) => sum + r.result.elapsedMs, 0);
  return {
    requests: latencies.length,
    errors: runs.reduce((sum, r) => sum + r.result.errors, 0),
    perSecond: latencies.length / (elapsed / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    graph: runs.reduce((sum, r) => sum + r.graph, 0),
    redisCommands: runs.reduce((sum, r) => sum + r.redisCommands, 0),
  };
}

function latencyRow(what: string, state: string, p: Pooled, note: string): Array<string | number> {
  return [what, state, p.requests, p.errors, `${p.perSecond.toFixed(0)} req/s`, ms(p.p50), ms(p.p99), p.graph, p.requests ? (p.redisCommands / p.requests).toFixed(2) : '—', note];
}

/** `downloads` proxied GETs of `path` at once through `url`; ms until the last one has every byte. */
async function downloadAll(url: string, path: string, size: number, downloads: number): Promise<number> {
  const start = now();
  await Promise.all(
    Array.from({ length: downloads }, async () => {
      const got = await send(url, 'GET', path, { headers: GVFS });
      if (got.status !== 200 || got.bytes !== size) throw new Error(`proxied GET via haproxy: ${got.status}, ${got.bytes} of ${size} bytes`);
    }),
  );
  return now() - start;
}

/** test/helpers/balancer.ts's haproxy, once its health checks pass (503 before). */
async function balancerOf(backends: string[]): Promise<RunningBalancer> {
  const balancer = await startBalancer(backends);
  for (let i = 0; (await fetch(`${balancer.url}/.well-known/onedav/healthz`).then((r) => r.status, () => 0)) !== 200; i++) {
    if (i > 100) {
      await balancer.stop();
      throw new Error('haproxy found no healthy replica within 10 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return balancer;
}

/** Commands redis-server has processed so far (INFO stats), over a connection of the bench's own. */
async function redisCounter(redis: RunningRedis): Promise<{ commands(): Promise<number>; close(): Promise<void> }> {
  const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  return {
    async commands() {
      const info = await client.info('stats');
      const m = /total_commands_processed:(\d+)/.exec(info);
      if (!m) throw new Error('no total_commands_processed in INFO stats');
      return Number(m[1]);
    },
    async close() {
      client.disconnect();
    },
  };
}

async function mkdirIn(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(path, { recursive: true });
  return path;
}
