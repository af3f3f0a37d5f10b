import { Client } from 'undici';
import type { Dispatcher } from 'undici';
import { now, percentile } from './report.js';

export interface LoadSpec {
  url: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Status every answer must have. */
  expect: number;
  clients: number;
  durationMs: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  bytes: number;
  /** Elapsed ms of the timed part. */
  elapsedMs: number;
  /** Every successful answer's latency (ms), sorted: lets a caller pool several runs. */
  latencies: number[];
}

/**
 * `clients` closed-loop clients, each with its own keep-alive connection (opened before the clock
 * starts), sending the same request
 * back to back for `durationMs`: requests/s and latency percentiles (ms). Bounded by time, so it
 * ends even if the server stalls (requests still in flight at the deadline are awaited, not counted
 * as errors unless they fail).
 */
export async function closedLoop(spec: LoadSpec): Promise<LoadResult> {
  const connections = Array.from({ length: spec.clients }, () => new Client(spec.url, { pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 60_000, bodyTimeout: 60_000 }));
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  // Open every connection first (one OPTIONS each), so the timed part is the steady state and not
  // 64 handshakes racing a busy server.
  await Promise.all(
    connections.map(async (connection) => {
      const res = await connection.request({ method: 'OPTIONS', path: '/' });
      await res.body.dump();
    }),
  );
  const start = now();
  const deadline = start + spec.durationMs;
  const client = async (connection: Client) => {
    while (now() < deadline) {
      const sent = now();
      try {
        const res = await connection.request({ method: spec.method as Dispatcher.HttpMethod, path: spec.path, headers: spec.headers, body: spec.body });
        for await (const chunk of res.body) bytes += (chunk as Buffer).length;
        if (res.statusCode !== spec.expect) errors++;
        else latencies.push(now() - sent);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(connections.map(client));
  const elapsed = now() - start;
  await Promise.all(connections.map((c) => c.close()));
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    perSecond: latencies.length / (elapsed / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
    bytes,
    elapsedMs: elapsed,
    latencies,
  };
}
