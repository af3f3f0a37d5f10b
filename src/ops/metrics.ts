import { Counter, Gauge, Registry } from 'prom-client';
import { DURATION_BUCKETS, type DavMetricsSnapshot } from '../dav/http/metrics.js';
import type { GraphStatsSnapshot } from '../graph/stats.js';
import { registerCountsHistogram } from './counts-histogram.js';
import type { AccountSource, MountSource } from './sources.js';

export interface MetricsSources {
  /** The WebDAV server's counters (`RunningDavServer.metrics`); undefined until it has started. */
  dav: () => DavMetricsSnapshot | undefined;
  accounts: readonly AccountSource[];
  mounts: readonly MountSource[];
}

const TOKEN_STATES = ['ok', 'refreshing', 'unhealthy'] as const;

/**
 * onedav's own families of `/metrics` (all prefixed `onedav_`), in a registry per server (never
 * prom-client's global one, so several servers in one process keep their own):
 *   dav_requests_total{method,status}, dav_request_duration_seconds{method} (histogram),
 *   dav_requests_in_flight, dav_uploads_in_flight, dav_received_bytes_total, dav_sent_bytes_total;
 *   graph_requests_total{mount,route,status}, graph_retries_total, graph_throttle_waits_total,
 *   graph_throttle_wait_seconds_total, graph_backoff_seconds_total, graph_failures_total,
 *   graph_token_rejections_total, graph_sent_bytes_total, graph_upload_sessions_total,
 *   graph_upload_sessions_in_flight (all {mount});
 *   cache_hits_total, cache_misses_total, cache_hit_ratio, cache_coalesced_total, cache_entries,
 *   cache_bytes, cache_evictions_total, cache_invalidations_total (all {mount});
 *   token_refreshes_total{account}, token_state{account,state}, token_expiry_timestamp_seconds{account}.
 * Each family's collect callback reads the counters the WebDAV server, the Graph clients, the caches
 * and the token refreshers already keep, each source once per scrape; nothing extra runs per request.
 */
export function createServerMetrics(sources: MetricsSources): Registry {
  const registry = new Registry();
  const registers = [registry];
  const dav = oncePerScrape(() => sources.dav());
  const graph = oncePerScrape(() => sources.mounts.map((mount) => ({ mount: mount.prefix, stats: mount.graphStats() })));
  const cache = oncePerScrape(() => sources.mounts.map((mount) => ({ mount: mount.prefix, stats: mount.cacheStats() })));
  const accounts = oncePerScrape(() => sources.accounts.map((account) => ({ account: account.name, refreshes: account.refreshCount, health: account.health() })));

  new Counter({
    name: 'onedav_dav_requests_total',
    help: 'WebDAV requests answered, by method and status (499: the client went away).',
    labelNames: ['method', 'status'] as const,
    registers,
    collect() {
      this.reset();
      for (const [key, count] of Object.entries(dav()?.requests ?? {})) {
        const [method, status] = key.split(' ');
        this.inc({ method, status }, count);
      }
    },
  });
  registerCountsHistogram(registry, {
    name: 'onedav_dav_request_duration_seconds',
    help: 'Time to answer a WebDAV request, by method (uploads include the transfer).',
    bounds: DURATION_BUCKETS,
    read: () => Object.entries(dav()?.durations ?? {}).map(([method, h]) => ({ labels: { method }, ...h })),
  });
  scalar(registers, Gauge, 'onedav_dav_requests_in_flight', 'WebDAV requests being answered now.', () => dav()?.inFlight ?? 0);
  scalar(registers, Gauge, 'onedav_dav_uploads_in_flight', 'PUT requests being received now.', () => dav()?.uploadsInFlight ?? 0);
  scalar(registers, Counter, 'onedav_dav_received_bytes_total', 'Request body bytes received from WebDAV clients (uploads).', () => dav()?.bytesIn ?? 0);
  scalar(registers, Counter, 'onedav_dav_sent_bytes_total', 'Response body bytes sent to WebDAV clients (listings, proxied downloads; redirected downloads go straight to OneDrive).', () => dav()?.bytesOut ?? 0);

  new Counter({
    name: 'onedav_graph_requests_total',
    help: 'Graph requests sent (retries included), by mount, route template and status (0: no HTTP answer).',
    labelNames: ['mount', 'route', 'status'] as const,
    registers,
    collect() {
      this.reset();
      for (const { mount, stats } of graph()) {
        for (const [route, statuses] of Object.entries(stats.byRoute)) {
          for (const [status, count] of Object.entries(statuses)) this.inc({ mount, route, status }, count);
        }
      }
    },
  });
  const perMount: Array<[string, string, (s: GraphStatsSnapshot) => number]> = [
    ['onedav_graph_retries_total', 'Graph requests that were retries.', (s) => s.retries],
    ['onedav_graph_throttle_waits_total', 'Times a Graph request waited for Retry-After (429/503).', (s) => s.throttleWaits],
    ['onedav_graph_throttle_wait_seconds_total', 'Seconds Graph requests spent waiting for Retry-After, summed.', (s) => s.throttledMs / 1000],
    ['onedav_graph_backoff_seconds_total', 'Seconds Graph requests spent in exponential backoff, summed.', (s) => s.backoffMs / 1000],
    ['onedav_graph_failures_total', 'Graph requests that ended in an error after the retry policy (4xx included, e.g. 404 when a name is looked up before it exists).', (s) => s.failures],
    ['onedav_graph_token_rejections_total', 'Access tokens Graph rejected with 401 (each refreshed once).', (s) => s.authRefreshes],
    ['onedav_graph_sent_bytes_total', 'Request body bytes sent to Graph (upload fragments, simple uploads, JSON), retries included.', (s) => s.bytesSent],
    ['onedav_graph_upload_sessions_total', 'Upload sessions started.', (s) => s.uploadSessions],
  ];
  for (const [name, help, read] of perMount) mountFamily(registers, Counter, name, help, () => graph().map(({ mount, stats }) => [mount, read(stats)]));
  mountFamily(registers, Gauge, 'onedav_graph_upload_sessions_in_flight', 'Upload sessions started and not finished yet.', () => graph().map(({ mount, stats }) => [mount, stats.uploadSessionsOpen]));

  mountFamily(registers, Counter, 'onedav_cache_hits_total', 'Metadata lookups answered from the cache.', () => cache().map(({ mount, stats }) => [mount, stats.hits]));
  mountFamily(registers, Counter, 'onedav_cache_misses_total', 'Metadata lookups that needed Graph.', () => cache().map(({ mount, stats }) => [mount, stats.misses]));
  mountFamily(registers, Gauge, 'onedav_cache_hit_ratio', 'hits / (hits + misses) since start (NaN before the first lookup).', () =>
    cache().map(({ mount, stats }) => [mount, stats.hits + stats.misses === 0 ? NaN : stats.hits / (stats.hits + stats.misses)]),
  );
  mountFamily(registers, Counter, 'onedav_cache_coalesced_total', 'Lookups that joined a Graph call already in flight for the same item.', () => cache().map(({ mount, stats }) => [mount, stats.coalesced]));
  mountFamily(registers, Gauge, 'onedav_cache_entries', 'Items, listings and download URLs cached.', () => cache().map(({ mount, stats }) => [mount, stats.entries]));
  mountFamily(registers, Gauge, 'onedav_cache_bytes', 'Estimated size of the cached entries.', () => cache().map(({ mount, stats }) => [mount, stats.bytes]));
  mountFamily(registers, Counter, 'onedav_cache_evictions_total', 'Entries dropped to stay within maxEntries/maxBytes.', () => cache().map(({ mount, stats }) => [mount, stats.evictions]));
  mountFamily(registers, Counter, 'onedav_cache_invalidations_total', 'Entries forgotten because something changed.', () => cache().map(({ mount, stats }) => [mount, stats.invalidations]));

  new Counter({
    name: 'onedav_token_refreshes_total',
    help: 'Access tokens obtained (refreshes and app-only grants).',
    labelNames: ['account'] as const,
    registers,
    collect() {
      this.reset();
      for (const { account, refreshes } of accounts()) this.inc({ account }, refreshes);
    },
  });
  new Gauge({
    name: 'onedav_token_state',
    help: 'The account token state: 1 for the current one of ok, refreshing, unhealthy (needs a sign-in).',
    labelNames: ['account', 'state'] as const,
    registers,
    collect() {
      this.reset();
      for (const { account, health } of accounts()) for (const state of TOKEN_STATES) this.set({ account, state }, health.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'onedav_token_expiry_timestamp_seconds',
    help: 'When the current access token expires, in seconds since the epoch.',
    labelNames: ['account'] as const,
    registers,
    collect() {
      this.reset();
      for (const { account, health } of accounts()) if (health.expiresAt !== undefined) this.set({ account }, health.expiresAt / 1000);
    },
  });
  return registry;
}

/** The `/metrics` page: this server's registry, then the process's runtime one, as Prometheus text format 0.0.4. */
export async function renderMetrics(registries: Registry[]): Promise<{ status: number; contentType: string; body: string }> {
  const text = await Registry.merge(registries).metrics();
  // prom-client spells NaN "Nan"; the text format says "NaN" (https://prometheus.io/docs/instrumenting/exposition_formats/,
  // as open-telemetry/opentelemetry-js#3465 fixed in its own exporter). Only a sample's value ends a line after a space.
  return { status: 200, contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: text.replace(/^([^#].* )Nan$/gm, '$1NaN') };
}

function scalar(registers: Registry[], Kind: typeof Counter | typeof Gauge, name: string, help: string, read: () => number): void {
  new Kind({
    name,
    help,
    registers,
    collect(this: Counter | Gauge) {
      this.reset();
      this.inc(read());
    },
  });
}

/** A family with one series per mount, read at scrape (a counter only ever grows; a gauge is set by the same add after reset). */
function mountFamily(registers: Registry[], Kind: typeof Counter | typeof Gauge, name: string, help: string, read: () => Array<[string, number]>): void {
  new Kind({
    name,
    help,
    labelNames: ['mount'] as const,
    registers,
    collect(this: Counter<'mount'> | Gauge<'mount'>) {
      this.reset();
      for (const [mount, value] of read()) this.inc({ mount }, value);
    },
  });
}

/**
 * `read` at most once per scrape: prom-client runs every family's collect callback in one
 * synchronous pass, so a value kept until the next microtask serves them all.
 */
function oncePerScrape<T>(read: () => T): () => T {
  let current: { value: T } | undefined;
  return () => {
    if (!current) {
      current = { value: read() };
      queueMicrotask(() => {
        current = undefined;
      });
    }
    return current.value;
  };
}
