import { countResponses, expectStatus, PROPFIND_BODY, propfind, send } from '../lib/http.js';
import { closedLoop, type LoadResult } from '../lib/load.js';
import { ms, type Table } from '../lib/report.js';
import { BenchStack } from '../lib/stack.js';

export interface LatencyOptions {
  clients: number;
  durationMs: number;
  /** Children of the folder listed (default 1,000). */
  items: number;
  cpuProfileDir?: string;
}

/**
 * Table 3: `clients` concurrent clients for a bounded time, each with its own connection:
 * warm PROPFIND Depth 1 on an `items`-item folder, and GETs answered with a 302.
 */
export async function latencyTable(options: LatencyOptions): Promise<Table> {
  const stack = await BenchStack.start({ cpuProfileDir: options.cpuProfileDir });
  try {
    await stack.emulator.putFiles([
      ...Array.from({ length: options.items }, (_, i) => ({ path: `t3/folder/file-${String(i).padStart(5, '0')}.txt`, size: 100 + (i % 50) })),
      { path: 't3/movie.mkv', size: 1024 * 1024 },
    ]);
    // Warm: the listing and the download URL are cached; the JIT has seen both paths.
    for (let i = 0; i < 3; i++) {
      const listing = expectStatus(await propfind(stack.url, '/t3/folder/', '1', { keepBody: true }), [207], 'PROPFIND');
      if (countResponses(listing.text!) !== options.items + 1) throw new Error('short listing');
      expectStatus(await send(stack.url, 'GET', '/t3/movie.mkv', { headers: { 'user-agent': 'rclone/v1.60.1' } }), [302], 'GET');
    }
    const rows: Array<Array<string | number>> = [];
    const row = (what: string, r: LoadResult, calls: number) =>
      rows.push([what, options.clients, `${(options.durationMs / 1000).toFixed(0)} s`, r.requests, r.errors, `${r.perSecond.toFixed(0)} req/s`, ms(r.p50), ms(r.p99), ms(r.max), calls]);

    const listing = await stack.count(() =>
      closedLoop({
        url: stack.url,
        method: 'PROPFIND',
        path: '/t3/folder/',
        headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8' },
        body: PROPFIND_BODY,
        expect: 207,
        clients: options.clients,
        durationMs: options.durationMs,
      }),
    );
    row(`PROPFIND Depth 1, ${options.items} items, warm`, listing.result, listing.calls.graph);
    const redirects = await stack.count(() =>
      closedLoop({
        url: stack.url,
        method: 'GET',
        path: '/t3/movie.mkv',
        headers: { 'user-agent': 'rclone/v1.60.1' },
        expect: 302,
        clients: options.clients,
        durationMs: options.durationMs,
      }),
    );
    row('GET answered with 302 (download URL cached)', redirects.result, redirects.calls.graph);
    return {
      title: `Table 3 — Latency under concurrency: ${options.clients} clients, closed loop`,
      columns: ['request', 'clients', 'duration', 'answers', 'errors', 'throughput', 'p50', 'p99', 'max', 'Graph calls'],
      rows,
      notes: [
        'Each client has its own keep-alive connection and sends its next request when the previous answer has been read.',
        'The load generator runs in the bench driver on the same cores as onedav and the emulator: figures are a floor for onedav.',
      ],
    };
  } finally {
    await stack.stop();
  }
}
