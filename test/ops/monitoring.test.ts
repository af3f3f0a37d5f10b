import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { HealthReport } from '../../src/ops/index.js';
import { EMULATOR_ACCOUNTS, startConfiguredOneDav, type ConfiguredOneDav } from '../helpers/onedav.js';
import { parsePrometheus } from '../helpers/prometheus.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { ADELE } from '../helpers/stack.js';

/**
 * `/.well-known/onedav/healthz` and `/.well-known/onedav/metrics` on onedav as serve builds it,
 * with Adele's drive at `/` and the Team library at `/team` (both her account).
 */
describe('health and metrics endpoints', () => {
  let onedav: ConfiguredOneDav;
  let emulator: RunningEmulator;
  let url: string;
  const log = recordingLogger('json', 'info');

  beforeAll(async () => {
    onedav = await startConfiguredOneDav(
      {
        accounts: { adele: EMULATOR_ACCOUNTS.adele },
        mounts: [
          { path: '/', account: 'adele' },
          { path: '/team', account: 'adele', drive: { type: 'site', site: 'contoso.sharepoint.com:/sites/team' } },
        ],
        // Exact Graph counts below (one throttle wait): no background delta polls waiting behind the same 429.
        cache: { deltaPollSeconds: 0 },
      },
      { signedIn: { adele: ADELE }, logger: log },
    );
    emulator = onedav.app.emulator!;
    url = onedav.app.url;
    await emulator.drive.putFile(emulator.drive.driveIdOf(ADELE), '/metrics', 'a file the user happens to call metrics');
  });

  afterAll(() => onedav?.close());

  const healthz = async () => {
    const res = await fetch(`${url}/.well-known/onedav/healthz`);
    return { status: res.status, type: res.headers.get('content-type'), cache: res.headers.get('cache-control'), body: (await res.json()) as HealthReport };
  };
  const probesSent = () => onedav.app.mounts.reduce((n, m) => n + (m.client.stats().byRoute['GET /drive (health probe)']?.['200'] ?? 0), 0);

  it('answers 200 with each account token state and each drive reachable, probing Graph at most once per TTL', async () => {
    const first = await healthz();
    expect(first.status).toBe(200);
    expect(first.type).toMatch(/^application\/json/);
    expect(first.cache).toBe('no-store');
    expect(first.body.status).toBe('ok');
    expect(first.body.accounts.adele).toMatchObject({ state: 'ok' });
    expect(Date.parse(first.body.accounts.adele.expiresAt!)).toBeGreaterThan(Date.now());
    for (const prefix of ['/', '/team']) expect(first.body.mounts[prefix]).toMatchObject({ account: 'adele', graph: { checked: true, ok: true, status: 200 } });
    expect(probesSent()).toBe(2);
    await healthz();
    expect(probesSent()).toBe(2); // cached for 15 s
  });

  const scrape = async () => {
    const res = await fetch(`${url}/.well-known/onedav/metrics`);
    expect(res.status).toBe(200);
    return parsePrometheus(await res.text()); // throws unless the page is valid Prometheus text
  };

  it('exposes the Node runtime metrics under their standard names on a page that parses as Prometheus text', async () => {
    const first = await scrape();
    // Before any lookup on /team its hit ratio is NaN, spelled as the text format spells it (the parser takes nothing else).
    expect(first.value('onedav_cache_hit_ratio', { mount: '/team' })).toBeNaN();
    // Event-loop lag: the plain gauge is measured between scrapes (0 on the very first), the rest from Node's delay histogram.
    const m = await scrape();
    expect(m.types).toMatchObject({
      nodejs_eventloop_lag_seconds: 'gauge',
      nodejs_eventloop_lag_p99_seconds: 'gauge',
      nodejs_gc_duration_seconds: 'histogram',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_heap_space_size_used_bytes: 'gauge',
      nodejs_active_handles: 'gauge',
      nodejs_active_handles_total: 'gauge',
      process_cpu_seconds_total: 'counter',
      process_open_fds: 'gauge',
      process_resident_memory_bytes: 'gauge',
      process_start_time_seconds: 'gauge',
    });
    expect(m.value('nodejs_eventloop_lag_seconds')).toBeGreaterThan(0);
    expect(m.value('nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    expect(m.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(m.value('nodejs_heap_space_size_used_bytes', { space: 'old' })).toBeGreaterThan(0);
    expect(m.value('nodejs_active_handles', { type: 'Server' })).toBeGreaterThanOrEqual(1); // this server's listening socket at least
    expect(m.value('nodejs_active_handles_total')).toBeGreaterThanOrEqual(1);
    expect(m.value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(m.value('process_open_fds')).toBeGreaterThan(0);
    expect(Math.abs(m.value('process_start_time_seconds')! - performance.timeOrigin / 1000)).toBeLessThanOrEqual(1);
    // Runtime metrics carry no onedav_ prefix, and onedav's own families no runtime names.
    expect(Object.keys(m.types).filter((name) => name.startsWith('onedav_nodejs') || name.startsWith('onedav_process'))).toEqual([]);
  });

  it('keeps each server its own counters when two run in one process, both with the runtime metrics', async () => {
    const other = await startConfiguredOneDav(
      { accounts: { adele: EMULATOR_ACCOUNTS.adele }, mounts: [{ path: '/', account: 'adele' }] },
      { signedIn: { adele: ADELE } },
    );
    try {
      const before = (await scrape()).sum('onedav_dav_requests_total', { method: 'PROPFIND' });
      for (let i = 0; i < 2; i++) expect((await fetch(`${other.app.url}/`, { method: 'PROPFIND', headers: { Depth: '0' } })).status).toBe(207);
      const theirs = parsePrometheus(await (await fetch(`${other.app.url}/.well-known/onedav/metrics`)).text());
      expect(theirs.value('onedav_dav_requests_total', { method: 'PROPFIND', status: '207' })).toBe(2);
      expect(theirs.types.nodejs_heap_size_used_bytes).toBe('gauge');
      const ours = await scrape();
      expect(ours.sum('onedav_dav_requests_total', { method: 'PROPFIND' })).toBe(before);
      expect(ours.types.nodejs_heap_size_used_bytes).toBe('gauge');
    } finally {
      await other.close();
    }
  });

  it('serves metrics in the Prometheus text format with non-zero Graph, cache, token and WebDAV counters after a workload', async () => {
    const big = randomBytes(5 * 1024 * 1024 + 99);
    expect((await fetch(`${url}/upload.bin`, { method: 'PUT', body: big })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await fetch(`${url}/`, { method: 'PROPFIND', headers: { Depth: '1' } })).status).toBe(207);
    expect((await fetch(`${url}/team/`, { method: 'PROPFIND', headers: { Depth: '1' } })).status).toBe(207);
    const download = await fetch(`${url}/upload.bin`, { redirect: 'manual' });
    expect(download.status).toBeLessThan(400);
    const downloaded = (await download.arrayBuffer()).byteLength;
    // One throttled Graph call (429, Retry-After: 1): the client waits once, then retries.
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'PUT', pathIncludes: 'throttled' }, action: { type: 'status', status: 429, retryAfter: 1 }, times: 1 }] });
    expect((await fetch(`${url}/throttled.txt`, { method: 'PUT', body: 'small' })).status).toBe(201);
    emulator.faults.setPlan(null);

    const res = await fetch(`${url}/.well-known/onedav/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m = parsePrometheus(await res.text());

    expect(m.value('onedav_dav_requests_total', { method: 'PUT', status: '201' })).toBe(2);
    expect(m.value('onedav_dav_requests_total', { method: 'PROPFIND', status: '207' })).toBe(4);
    expect(m.value('onedav_dav_request_duration_seconds_count', { method: 'PROPFIND' })).toBe(4);
    const buckets = m.samples.filter((s) => s.name === 'onedav_dav_request_duration_seconds_bucket' && s.labels.method === 'PROPFIND');
    expect(buckets.at(-1)!.labels.le).toBe('+Inf');
    expect(buckets.at(-1)!.value).toBe(4);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    expect(m.value('onedav_dav_received_bytes_total')).toBe(big.length + 'small'.length);
    expect(m.value('onedav_dav_sent_bytes_total')).toBeGreaterThan(downloaded); // plus the PROPFIND answers
    expect(m.value('onedav_dav_requests_in_flight')).toBe(0);

    expect(m.sum('onedav_graph_requests_total', { mount: '/' })).toBeGreaterThan(0);
    expect(m.sum('onedav_graph_requests_total', { mount: '/team' })).toBeGreaterThan(0);
    expect(m.sum('onedav_graph_requests_total', { mount: '/', route: 'PUT /upload-session/{token}' })).toBeGreaterThan(0);
    expect(m.value('onedav_graph_upload_sessions_total', { mount: '/' })).toBe(1);
    expect(m.value('onedav_graph_upload_sessions_in_flight', { mount: '/' })).toBe(0);
    expect(m.value('onedav_graph_sent_bytes_total', { mount: '/' })).toBeGreaterThanOrEqual(big.length);
    expect(m.sum('onedav_graph_requests_total', { mount: '/', status: '429' })).toBe(1);
    expect(m.value('onedav_graph_retries_total', { mount: '/' })).toBe(1);
    expect(m.value('onedav_graph_throttle_waits_total', { mount: '/' })).toBe(1);
    expect(m.value('onedav_graph_throttle_wait_seconds_total', { mount: '/' })).toBeGreaterThan(0);

    expect(m.value('onedav_cache_hits_total', { mount: '/' })).toBeGreaterThan(0);
    expect(m.value('onedav_cache_misses_total', { mount: '/' })).toBeGreaterThan(0);
    const ratio = m.value('onedav_cache_hit_ratio', { mount: '/' })!;
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);

    expect(m.value('onedav_token_refreshes_total', { account: 'adele' })).toBeGreaterThanOrEqual(1);
    expect(m.value('onedav_token_state', { account: 'adele', state: 'ok' })).toBe(1);
    expect(m.value('onedav_token_state', { account: 'adele', state: 'unhealthy' })).toBe(0);
    expect(m.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.types).toMatchObject({ onedav_dav_request_duration_seconds: 'histogram', onedav_graph_requests_total: 'counter', onedav_cache_hit_ratio: 'gauge' });

    // The throttled request's own access line carries its retry and wait.
    const line = log.accessLines().find((r) => r.path === '/throttled.txt');
    expect(line).toMatchObject({ method: 'PUT', status: 201, graphRetries: 1, bytesIn: 5 });
    expect(line!.graphCalls).toBeGreaterThanOrEqual(2);
    expect(line!.graphWaitMs as number).toBeGreaterThan(0);
    // Monitoring requests are not WebDAV requests: not counted, not logged.
    expect(m.sum('onedav_dav_requests_total', { method: 'GET' })).toBe(1); // the download only
    expect(log.records().some((r) => String(r.path ?? '').startsWith('/.well-known/onedav'))).toBe(false);
  });

  it('reserves only /.well-known/onedav/: /metrics stays the drive file, other names under the prefix are 404', async () => {
    const file = await fetch(`${url}/metrics`, { redirect: 'manual' });
    expect([200, 302]).toContain(file.status);
    if (file.status === 200) expect(await file.text()).toBe('a file the user happens to call metrics');
    expect((await fetch(`${url}/healthz`)).status).toBe(404);
    const unknown = await fetch(`${url}/.well-known/onedav/status`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('/.well-known/onedav/healthz');
    const put = await fetch(`${url}/.well-known/onedav/metrics`, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
    expect(emulator.drive.stat(emulator.drive.driveIdOf(ADELE), '/.well-known')).toBeUndefined();
  });

  it('turns unhealthy (503) once the refresh token is revoked and a refresh was refused', async () => {
    expect(emulator.identity.revokeRefreshTokens({ upn: ADELE })).toBeGreaterThan(0);
    const refresher = onedav.app.accounts.get('adele')!;
    await expect(refresher.refresh()).rejects.toThrow(/onedav login --account adele/);
    const { status, body } = await healthz();
    expect(status).toBe(503);
    expect(body.status).toBe('unhealthy');
    expect(body.accounts.adele.state).toBe('unhealthy');
    expect(body.accounts.adele.reason).toContain('onedav login --account adele');
    expect(body.mounts['/'].graph).toMatchObject({ checked: false });
    const m = parsePrometheus(await (await fetch(`${url}/.well-known/onedav/metrics`)).text());
    expect(m.value('onedav_token_state', { account: 'adele', state: 'unhealthy' })).toBe(1);
    // WebDAV clients are told the operator must sign in again, not that OneDrive is unreachable.
    const write = await fetch(`${url}/after-revocation.txt`, { method: 'PUT', body: 'x' });
    expect(write.status).toBe(503);
    expect(await write.text()).toContain('onedav login');
    // No token ever reaches the health page or the log.
    const saved = JSON.stringify(body) + log.lines.join('');
    expect(saved).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});
