import { PROMETHEUS_CONTENT_TYPE, PrometheusText } from '../util/prometheus.js';
import type { AccountSource, MountSource } from './sources.js';

export interface MetricsSources {
  /** The WebDAV server's own counters (`RunningDavServer.metrics`). */
  dav: { writeTo(text: PrometheusText): void };
  accounts: readonly AccountSource[];
  mounts: readonly MountSource[];
  /** Epoch ms the process started (process_start_time_seconds). */
  startedAt?: number;
}

const TOKEN_STATES = ['ok', 'refreshing', 'unhealthy'] as const;

/**
 * The `/metrics` page, Prometheus text format. Families (all prefixed `onedav_`):
 *   dav_requests_total{method,status}, dav_request_duration_seconds{method} (histogram),
 *   dav_requests_in_flight, dav_uploads_in_flight, dav_received_bytes_total, dav_sent_bytes_total;
 *   graph_requests_total{mount,route,status}, graph_retries_total, graph_throttle_waits_total,
 *   graph_throttle_wait_seconds_total, graph_backoff_seconds_total, graph_failures_total,
 *   graph_token_rejections_total, graph_sent_bytes_total, graph_upload_sessions_total,
 *   graph_upload_sessions_in_flight (all {mount});
 *   cache_hits_total, cache_misses_total, cache_hit_ratio, cache_coalesced_total, cache_entries,
 *   cache_bytes, cache_evictions_total, cache_invalidations_total (all {mount});
 *   token_refreshes_total{account}, token_state{account,state}, token_expiry_timestamp_seconds{account};
 * plus process_resident_memory_bytes and process_start_time_seconds.
 */
export function renderMetrics(sources: MetricsSources): { status: number; contentType: string; body: string } {
  const text = new PrometheusText();
  sources.dav.writeTo(text);
  writeGraph(text, sources.mounts);
  writeCache(text, sources.mounts);
  writeAccounts(text, sources.accounts);
  text.gauge('process_resident_memory_bytes', 'Resident memory of the onedav process.', process.memoryUsage().rss);
  if (sources.startedAt !== undefined) text.gauge('process_start_time_seconds', 'When the onedav process started, in seconds since the epoch.', sources.startedAt / 1000);
  return { status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: text.toString() };
}

function writeGraph(text: PrometheusText, mounts: readonly MountSource[]): void {
  text.declare('onedav_graph_requests_total', 'counter', 'Graph requests sent (retries included), by mount, route template and status (0: no HTTP answer).');
  const per: Array<[string, string, (s: ReturnType<MountSource['graphStats']>) => number]> = [
    ['onedav_graph_retries_total', 'Graph requests that were retries.', (s) => s.retries],
    ['onedav_graph_throttle_waits_total', 'Times a Graph request waited for Retry-After (429/503).', (s) => s.throttleWaits],
    ['onedav_graph_throttle_wait_seconds_total', 'Seconds Graph requests spent waiting for Retry-After, summed.', (s) => s.throttledMs / 1000],
    ['onedav_graph_backoff_seconds_total', 'Seconds Graph requests spent in exponential backoff, summed.', (s) => s.backoffMs / 1000],
    ['onedav_graph_failures_total', 'Graph requests that ended in an error after the retry policy (4xx included, e.g. 404 when a name is looked up before it exists).', (s) => s.failures],
    ['onedav_graph_token_rejections_total', 'Access tokens Graph rejected with 401 (each refreshed once).', (s) => s.authRefreshes],
    ['onedav_graph_sent_bytes_total', 'Request body bytes sent to Graph (upload fragments, simple uploads, JSON), retries included.', (s) => s.bytesSent],
    ['onedav_graph_upload_sessions_total', 'Upload sessions started.', (s) => s.uploadSessions],
  ];
  for (const [name, help] of per) text.declare(name, 'counter', help);
  text.declare('onedav_graph_upload_sessions_in_flight', 'gauge', 'Upload sessions started and not finished yet.');
  for (const mount of mounts) {
    const stats = mount.graphStats();
    for (const [route, statuses] of Object.entries(stats.byRoute)) {
      for (const [status, count] of Object.entries(statuses)) text.counter('onedav_graph_requests_total', '', count, { mount: mount.prefix, route, status });
    }
    for (const [name, help, read] of per) text.counter(name, help, read(stats), { mount: mount.prefix });
    text.gauge('onedav_graph_upload_sessions_in_flight', '', stats.uploadSessionsOpen, { mount: mount.prefix });
  }
}

function writeCache(text: PrometheusText, mounts: readonly MountSource[]): void {
  for (const mount of mounts) {
    const c = mount.cacheStats();
    const labels = { mount: mount.prefix };
    const lookups = c.hits + c.misses;
    text.counter('onedav_cache_hits_total', 'Metadata lookups answered from the cache.', c.hits, labels);
    text.counter('onedav_cache_misses_total', 'Metadata lookups that needed Graph.', c.misses, labels);
    text.gauge('onedav_cache_hit_ratio', 'hits / (hits + misses) since start (NaN before the first lookup).', lookups === 0 ? NaN : c.hits / lookups, labels);
    text.counter('onedav_cache_coalesced_total', 'Lookups that joined a Graph call already in flight for the same item.', c.coalesced, labels);
    text.gauge('onedav_cache_entries', 'Items, listings and download URLs cached.', c.entries, labels);
    text.gauge('onedav_cache_bytes', 'Estimated size of the cached entries.', c.bytes, labels);
    text.counter('onedav_cache_evictions_total', 'Entries dropped to stay within maxEntries/maxBytes.', c.evictions, labels);
    text.counter('onedav_cache_invalidations_total', 'Entries forgotten because something changed.', c.invalidations, labels);
  }
}

function writeAccounts(text: PrometheusText, accounts: readonly AccountSource[]): void {
  for (const account of accounts) {
    const h = account.health();
    const labels = { account: account.name };
    text.counter('onedav_token_refreshes_total', 'Access tokens obtained (refreshes and app-only grants).', account.refreshCount, labels);
    for (const state of TOKEN_STATES) {
      text.gauge('onedav_token_state', 'The account token state: 1 for the current one of ok, refreshing, unhealthy (needs a sign-in).', h.state === state ? 1 : 0, { ...labels, state });
    }
    if (h.expiresAt !== undefined) text.gauge('onedav_token_expiry_timestamp_seconds', 'When the current access token expires, in seconds since the epoch.', h.expiresAt / 1000, labels);
  }
}
