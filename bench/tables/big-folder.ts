import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { PROPFIND_BODY } from '../lib/http.js';
import { mib, ms, now, verdict, type Table } from '../lib/report.js';
import { BenchStack } from '../lib/stack.js';
import type { CacheMemory } from '../cache-memory.js';

export interface BigFolderOptions {
  items: number;
  /** Measure the onedav of this checkout instead (e.g. the commit before the streamed 207). */
  repo?: string;
}

const MiB = 1024 * 1024;
const RSS_TARGET = 32 * MiB;
const BYTES_PER_ITEM_TARGET = 1024;
/** Graph's largest page of children (graph/items.ts MAX_PAGE_SIZE). */
const PAGE = 1000;

/**
 * Table 7 (issue 16): PROPFIND Depth 1 of one folder of `items` files, cold (fresh onedav) and
 * warm: time to the first byte of the 207 and to the last, how many of the folder's Graph pages had
 * been fetched when the first byte arrived, Graph calls, and the onedav process's RSS growth during
 * the request. Twice: with the default cache (128 MiB: a listing may take half, so a folder this big
 * is streamed from Graph every time and never kept), and with a cache big enough to keep it (warm is
 * then served from memory; the RSS growth of the cold request then includes the kept listing).
 * Last, heap bytes per cached item (bench/cache-memory.ts, measured in its own process).
 */
export async function bigFolderTable(options: BigFolderOptions): Promise<Table> {
  const { items } = options;
  const pages = Math.ceil(items / PAGE);
  const rows: Array<Array<string | number>> = [];
  for (const [label, maxBytes] of [
    ['default cache (128 MiB)', 128 * MiB],
    ['cache of 512 MiB', 512 * MiB],
  ] as const) {
    const stack = await BenchStack.start({ config: { cache: { maxBytes, ttlSeconds: 3600, deltaPollSeconds: 0 } }, repo: options.repo });
    try {
      const names = Array.from({ length: items }, (_, i) => `document ${String(i).padStart(6, '0')}.txt`);
      await stack.emulator.putEmptyFiles('t6/big', names);
      await stack.emulator.putEmptyFiles('t6/warmup', names.slice(0, 500));
      // Sign-in and JIT on another folder first.
      for (let i = 0; i < 3; i++) await streamedPropfind(stack, '/t6/warmup/', 501);
      for (const phase of ['cold', 'warm'] as const) {
        await stack.emulator.resetCounters();
        const cachedBefore = await cacheBytes(stack);
        const run = await stack.onedav.watchRss(() => streamedPropfind(stack, '/t6/big/', items + 1));
        const calls = (await stack.emulator.counters()).graphCalls;
        // What the cache now keeps (the listing, when it fits) is held on purpose, within its byte bound.
        const kept = Math.max(0, (await cacheBytes(stack)) - cachedBefore);
        const transient = Math.max(0, run.growth - kept);
        rows.push([
          `${phase}, ${label}`,
          ms(run.result.firstByteMs),
          ms(run.result.totalMs),
          `${run.result.pagesAtFirstByte} of ${pages}`,
          String(calls),
          mib(run.growth),
          mib(kept),
          mib(transient),
          verdict(transient <= RSS_TARGET),
        ]);
      }
    } finally {
      await stack.stop();
    }
  }
  const memory = cacheMemory(Math.min(items, 100_000));
  return {
    title: `Table 7 — PROPFIND Depth 1 on a folder of ${items.toLocaleString('en')} files: streamed 207, cold and warm${options.repo ? ` (onedav of ${options.repo})` : ''}`,
    columns: ['listing', 'first byte', 'last byte', 'Graph pages fetched at first byte', 'Graph calls', 'onedav RSS growth', 'kept by the cache (estimate)', 'growth beyond it (target ≤ 32 MiB)', 'verdict'],
    rows,
    notes: [
      `Graph pages of ${PAGE} children; "pages fetched at first byte" counts the emulator's children requests answered when the first body byte reached the client (the listing request itself was answered or in flight).`,
      'RSS growth = highest resident set of the onedav process during the request (sampled every 20 ms, and VmHWM) minus its RSS just before. Kept by the cache = how much its byte estimate (onedav_cache_bytes) grew: the listing it keeps on purpose, bounded by cache.maxBytes; the target applies to the rest.',
      `Bytes per cached item (${memory.items.toLocaleString('en')} files, heap given back when the cache is emptied, --expose-gc): measured ${memory.measuredBytesPerItem} B, the cache's own estimate ${memory.estimatedBytesPerItem} B — ${verdict(memory.measuredBytesPerItem <= BYTES_PER_ITEM_TARGET)} (target ≤ ${BYTES_PER_ITEM_TARGET} B; estimate ≥ measured keeps the byte bound honest: ${verdict(memory.estimatedBytesPerItem >= memory.measuredBytesPerItem)}).`,
    ],
  };
}

interface StreamedRun {
  firstByteMs: number;
  totalMs: number;
  pagesAtFirstByte: number;
}

/** PROPFIND Depth 1 read as a stream: when the first byte came, how many Graph pages had been fetched by then, and that every child was listed. */
async function streamedPropfind(stack: BenchStack, path: string, expected: number): Promise<StreamedRun> {
  const start = now();
  const url = new URL(path, stack.url);
  let firstByteMs = -1;
  let pagesAtFirstByte: Promise<number> | undefined;
  const count = await new Promise<number>((resolve, reject) => {
    const req = request(url, { method: 'PROPFIND', headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8' } }, (res) => {
      if (res.statusCode !== 207) reject(new Error(`PROPFIND ${path}: ${res.statusCode}`));
      let responses = 0;
      let carry = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (firstByteMs < 0) {
          firstByteMs = now() - start;
          pagesAtFirstByte = stack.emulator.counters().then((c) => Object.entries(c.byRoute).filter(([route]) => route.includes('/children')).reduce((n, [, v]) => n + v, 0));
        }
        const text = carry + chunk;
        responses += (text.match(/<D:response>/g) ?? []).length;
        // One character short of a whole `<D:response>`: a match spanning two chunks is counted once.
        carry = text.slice(-11);
      });
      res.on('end', () => resolve(responses));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(PROPFIND_BODY);
  });
  const totalMs = now() - start;
  if (count !== expected) throw new Error(`PROPFIND ${path} listed ${count - 1} of ${expected - 1} children`);
  return { firstByteMs, totalMs, pagesAtFirstByte: (await pagesAtFirstByte) ?? 0 };
}

/** The metadata cache's estimated bytes (all mounts), from /metrics. */
async function cacheBytes(stack: BenchStack): Promise<number> {
  const res = await fetch(new URL('/.well-known/onedav/metrics', stack.url));
  const text = await res.text();
  if (res.status !== 200) throw new Error(`metrics: ${res.status}`);
  return [...text.matchAll(/^onedav_cache_bytes\{[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

/** bench/cache-memory.ts in its own process (it needs --expose-gc). */
function cacheMemory(items: number): CacheMemory {
  const script = fileURLToPath(new URL('../cache-memory.ts', import.meta.url));
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, '--items', String(items)], { encoding: 'utf8', maxBuffer: 1024 * 1024 });
  return JSON.parse(out.trim().split('\n').pop()!) as CacheMemory;
}
