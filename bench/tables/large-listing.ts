import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countResponses, expectStatus, propfind } from '../lib/http.js';
import { median, ms, now, percentile, ratio, verdict, type Table } from '../lib/report.js';
import { hasRclone, rcloneServe } from '../lib/rclone.js';
import { BenchStack, describeRoutes } from '../lib/stack.js';
import { PAGE } from './graph-calls.js';

export interface LargeListingOptions {
  items: number;
  /** Timed warm listings per server (after two untimed ones). */
  samples: number;
  /** Cold listings (each on a fresh onedav process, warmed on another folder first). */
  coldSamples: number;
  cpuProfileDir?: string;
}

const ALLPROP = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';

/**
 * Table 4: PROPFIND Depth 1 on a folder of `items` files: onedav (warm, and cold with its Graph
 * calls) against `rclone serve webdav` over a local folder holding the same files, same run.
 */
export async function largeListingTable(options: LargeListingOptions): Promise<Table> {
  const { items } = options;
  if (!hasRclone()) throw new Error('table 4 compares with `rclone serve webdav`: install rclone (apt-get install rclone)');
  const local = await mkdtemp(join(tmpdir(), 'onedav-bench-listing-'));
  const stack = await BenchStack.start({ cpuProfileDir: options.cpuProfileDir });
  const rclone = { server: undefined as Awaited<ReturnType<typeof rcloneServe>> | undefined };
  try {
    const files = Array.from({ length: items }, (_, i) => ({ name: `document ${String(i).padStart(5, '0')}.txt`, size: 100 + (i % 900), modified: Date.UTC(2024, 0, 1) + i * 60_000 }));
    await stack.emulator.putFiles([
      ...files.map((f) => ({ path: `t4/big/${f.name}`, size: f.size, modified: f.modified })),
      ...Array.from({ length: 1000 }, (_, i) => ({ path: `t4/warmup/file-${i}.txt`, size: 10 })),
    ]);
    const dir = join(local, 'big');
    await mkdir(dir);
    const filler = Buffer.alloc(1000, 'x');
    for (const f of files) {
      const path = join(dir, f.name);
      await writeFile(path, filler.subarray(0, f.size));
      await utimes(path, f.modified / 1000, f.modified / 1000);
    }
    rclone.server = await rcloneServe(dir);

    const bodies = [
      { what: 'named properties (what file managers send)', body: undefined },
      { what: 'allprop', body: ALLPROP },
    ];
    const rows: Array<Array<string | number>> = [];

    // Cold: a fresh onedav process, warmed up on another folder, then the big folder for the first time.
    const cold: number[] = [];
    let coldCalls = '';
    let coldCount = 0;
    for (let i = 0; i < options.coldSamples; i++) {
      if (i > 0) await stack.restartOneDav();
      for (let w = 0; w < 3; w++) expectStatus(await propfind(stack.url, '/t4/warmup/', '1'), [207], 'warm-up PROPFIND');
      const { result, calls } = await stack.count(() => timedListing(stack.url, '/t4/big/', undefined, items));
      cold.push(result);
      coldCalls = describeRoutes(calls);
      coldCount = calls.graph;
    }
    const pages = Math.ceil(items / PAGE);
    rows.push([
      `onedav, cold (folder never seen), named properties`,
      ms(median(cold)),
      '—',
      `calls: target ${pages} = ⌈${items}/${PAGE}⌉`,
      verdict(coldCount <= pages),
      `${coldCount}: ${coldCalls}`,
    ]);

    for (const { what, body } of bodies) {
      // Interleaved (onedav, rclone, onedav, …) so that other load on the machine weighs on both alike.
      const [dav, rc] = await interleavedTimes(
        [
          { base: stack.url, path: '/t4/big/' },
          { base: rclone.server.url, path: '/' },
        ],
        body,
        items,
        options.samples,
      );
      const r = median(dav) / median(rc);
      rows.push([`onedav, warm, ${what}`, ms(median(dav)), ms(percentile([...dav].sort((a, b) => a - b), 90)), `${ratio(r)} of rclone`, verdict(r <= 1.0), '0 expected']);
      rows.push([`rclone serve webdav (local disk), ${what}`, ms(median(rc)), ms(percentile([...rc].sort((a, b) => a - b), 90)), '', '', '—']);
    }
    const warmCalls = await stack.count(() => timedListing(stack.url, '/t4/big/', undefined, items));
    rows.push(['onedav, warm: Graph calls for one more listing', '', '', '', verdict(warmCalls.calls.graph === 0), String(warmCalls.calls.graph)]);

    return {
      title: `Table 4 — PROPFIND Depth 1 on ${items.toLocaleString('en')} items: onedav vs rclone serve webdav`,
      columns: ['server', 'median', 'p90', 'ratio (target ≤ 1.00×)', 'verdict', 'Graph calls'],
      rows,
      notes: [
        `Warm: ${options.samples} timed listings per server, taken in turns with rclone's, after 2 untimed rounds; time = request sent → last byte of the 207 read.`,
        `rclone serves the same ${items} files (names, sizes, mtimes) from a local folder (--dir-cache-time default 5 m, so its listing is cached in memory too).`,
        `Cold: ${options.coldSamples} fresh onedav process(es), each warmed on a 1,000-item folder first (sign-in, JIT); the folder itself was never seen, so its own stat costs a call besides the ${pages} listing page(s).`,
      ],
    };
  } finally {
    await rclone.server?.stop();
    await stack.stop();
    await rm(local, { recursive: true, force: true });
  }
}

async function timedListing(base: string, path: string, body: string | undefined, items: number): Promise<number> {
  const start = now();
  const answer = expectStatus(await propfind(base, path, '1', { keepBody: true, body }), [207], `PROPFIND ${base}${path}`);
  const elapsed = now() - start;
  const n = countResponses(answer.text!);
  if (n !== items + 1) throw new Error(`PROPFIND ${base}${path} listed ${n - 1} of ${items} children`);
  return elapsed;
}

/** `samples` timed listings of each server, taken in turns, after two untimed rounds. */
async function interleavedTimes(servers: Array<{ base: string; path: string }>, body: string | undefined, items: number, samples: number): Promise<number[][]> {
  const times = servers.map(() => [] as number[]);
  for (let round = -2; round < samples; round++) {
    for (const [i, server] of servers.entries()) {
      const elapsed = await timedListing(server.base, server.path, body, items);
      if (round >= 0) times[i].push(elapsed);
    }
  }
  return times;
}
