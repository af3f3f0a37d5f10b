import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ALLOWED_METHODS } from './methods/options.js';

/** Request duration buckets, in seconds: browsing takes milliseconds, uploads minutes. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

const KNOWN_METHODS = new Set(ALLOWED_METHODS.split(', '));

/**
 * What the WebDAV server served: requests by method and status, their durations, bytes in and out,
 * requests and uploads in flight. Methods outside the served set count as `OTHER`, so a client
 * inventing methods cannot grow the label set without bound.
 *
 * The prom-client instruments are the only store (nothing is counted twice), kept in this server's
 * own registry: never prom-client's global one, so several servers in one process keep their own.
 */
export class DavMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'onedav_dav_requests_total',
    help: 'WebDAV requests answered, by method and status (499: the client went away).',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly durations = new Histogram({
    name: 'onedav_dav_request_duration_seconds',
    help: 'Time to answer a WebDAV request, by method (uploads include the transfer).',
    labelNames: ['method'] as const,
    buckets: [...DURATION_BUCKETS],
    registers: [this.registry],
  });
  private readonly inFlight = new Gauge({ name: 'onedav_dav_requests_in_flight', help: 'WebDAV requests being answered now.', registers: [this.registry] });
  private readonly uploadsInFlight = new Gauge({ name: 'onedav_dav_uploads_in_flight', help: 'PUT requests being received now.', registers: [this.registry] });
  private readonly bytesIn = new Counter({ name: 'onedav_dav_received_bytes_total', help: 'Request body bytes received from WebDAV clients (uploads).', registers: [this.registry] });
  private readonly bytesOut = new Counter({
    name: 'onedav_dav_sent_bytes_total',
    help: 'Response body bytes sent to WebDAV clients (listings, proxied downloads; redirected downloads go straight to OneDrive).',
    registers: [this.registry],
  });

  started(method: string): void {
    this.inFlight.inc();
    if (method === 'PUT') this.uploadsInFlight.inc();
  }

  finished(method: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.inFlight.dec();
    if (method === 'PUT') this.uploadsInFlight.dec();
    const m = KNOWN_METHODS.has(method) ? method : 'OTHER';
    this.requests.inc({ method: m, status: String(status) });
    this.durations.observe({ method: m }, seconds);
    this.bytesIn.inc(bytesIn);
    this.bytesOut.inc(bytesOut);
  }
}
