import { ALLOWED_METHODS } from '../methods/options.js';

/** Request duration buckets, in seconds: browsing takes milliseconds, uploads minutes. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

const KNOWN_METHODS = new Set(ALLOWED_METHODS.split(', '));

export interface DavMetricsSnapshot {
  /** `METHOD STATUS` → count. */
  requests: Record<string, number>;
  /** Per method: per-bucket counts (the last is +Inf), and the sum of seconds. */
  durations: Record<string, { counts: number[]; sum: number }>;
  inFlight: number;
  uploadsInFlight: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * What the WebDAV server served: requests by method and status, their durations, bytes in and out,
 * requests and uploads in flight. Methods outside the served set count as `OTHER`, so a client
 * inventing methods cannot grow the label set without bound. Plain counters on the hot path;
 * `/metrics` reads `snapshot()` when scraped (src/ops/metrics.ts).
 */
export class DavMetrics {
  private readonly requests = new Map<string, number>();
  private readonly durations = new Map<string, { counts: number[]; sum: number }>();
  inFlight = 0;
  uploadsInFlight = 0;
  bytesIn = 0;
  bytesOut = 0;

  started(method: string): void {
    this.inFlight++;
    if (method === 'PUT') this.uploadsInFlight++;
  }

  finished(method: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.inFlight--;
    if (method === 'PUT') this.uploadsInFlight--;
    const m = KNOWN_METHODS.has(method) ? method : 'OTHER';
    const key = `${m} ${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let histogram = this.durations.get(m);
    if (!histogram) this.durations.set(m, (histogram = { counts: new Array(DURATION_BUCKETS.length + 1).fill(0), sum: 0 }));
    const bucket = DURATION_BUCKETS.findIndex((bound) => seconds <= bound);
    histogram.counts[bucket === -1 ? DURATION_BUCKETS.length : bucket]++;
    histogram.sum += seconds;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
  }

  snapshot(): DavMetricsSnapshot {
    return {
      requests: Object.fromEntries(this.requests),
      durations: Object.fromEntries([...this.durations].map(([m, h]) => [m, { counts: [...h.counts], sum: h.sum }])),
      inFlight: this.inFlight,
      uploadsInFlight: this.uploadsInFlight,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
  }
}
