import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GraphClient } from '../../src/graph/client.js';
import { DriveApi } from '../../src/graph/drive-api.js';
import { GraphError } from '../../src/graph/errors.js';
import { realSleep } from '../../src/graph/throttle-gate.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { withEmulator, type EmulatorTokens } from './emulator-helper.js';

let emulator: RunningEmulator;
let tokens: EmulatorTokens;
let driveId: string;
const clients: GraphClient[] = [];

beforeAll(async () => {
  ({ emulator, tokens, driveId } = await withEmulator());
  await emulator.drive.putFile(driveId, 'docs/a.txt', 'alpha');
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await emulator.close();
});
afterEach(() => {
  emulator.faults.setPlan(null);
  emulator.counters.reset();
});

function makeApi(options: Partial<ConstructorParameters<typeof GraphClient>[0]> = {}) {
  const client = new GraphClient({ baseUrl: `${emulator.url}/v1.0`, tokens, retry: { baseDelayMs: 5, maxDelayMs: 50 }, ...options });
  clients.push(client);
  return { client, api: new DriveApi(client, { type: 'me' }) };
}

const status = (s: number) => emulator.counters.snapshot().byStatus[`graph: ${s}`] ?? 0;
const graphCalls = () => emulator.counters.snapshot().byCategory.graph ?? 0;

describe('graph client against the emulator', () => {
  it('rides out a 429 storm: honours Retry-After and holds every other request at the gate', async () => {
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph' }, action: { type: 'status', status: 429, retryAfter: 1 } }] });
    const asked: number[] = [];
    // Graph stays throttled until the first Retry-After wait is over, then recovers.
    const sleep = async (ms: number, signal?: AbortSignal) => {
      asked.push(ms);
      await realSleep(ms, signal);
      emulator.faults.setPlan(null);
    };
    const { client, api } = makeApi({ maxConcurrency: 4, sleep });
    const results = await Promise.all(Array.from({ length: 20 }, () => api.getItem({ path: '/docs/a.txt' })));
    expect(results.every((r) => r.name === 'a.txt')).toBe(true);
    const throttled = status(429);
    if (process.env.ONEDAV_TEST_VERBOSE) console.log(`429 storm: ${throttled} throttled answers, ${graphCalls()} calls for 20 requests, waits asked: ${asked.join(',')}`);
    expect(throttled).toBeGreaterThanOrEqual(1);
    expect(throttled).toBeLessThanOrEqual(4); // only the requests already in flight; the rest waited
    expect(graphCalls()).toBe(20 + throttled);
    const stats = client.stats();
    expect(stats.retries).toBe(throttled);
    expect(stats.throttleWaits).toBeGreaterThanOrEqual(1);
    expect(Math.max(...asked)).toBeGreaterThanOrEqual(950); // Retry-After: 1 s, not a short backoff
    expect(stats.byRoute['GET /drive/root:{path}:']).toEqual({ '200': 20, '429': throttled });
  });

  it('retries 503 and 504 with backoff', async () => {
    emulator.faults.setPlan({
      rules: [
        { match: { category: 'graph' }, action: { type: 'status', status: 503 }, times: 2 },
        { match: { category: 'graph' }, action: { type: 'status', status: 504 }, times: 1 },
      ],
    });
    const { client, api } = makeApi();
    expect((await api.getItem({ path: '/docs/a.txt' })).size).toBe(5);
    expect(graphCalls()).toBe(4);
    expect(client.stats().retries).toBe(3);
    expect(client.stats().backoffMs).toBeGreaterThanOrEqual(0);
  });

  it('retries connection resets of idempotent requests', async () => {
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'GET' }, action: { type: 'reset' }, times: 2 }] });
    const { client, api } = makeApi();
    expect((await api.listChildren({ path: '/docs' })).map((i) => i.name)).toEqual(['a.txt']);
    expect(client.stats().byRoute['GET /drive/root:{path}:/children']).toEqual({ '0': 2, '200': 1 });
  });

  it('does not retry a POST that may have reached Graph, but does retry createUploadSession', async () => {
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST' }, action: { type: 'reset' }, times: 1 }] });
    const { client, api } = makeApi();
    await expect(api.createFolder({ path: '/docs' }, 'new-folder')).rejects.toMatchObject({ code: 'networkError', status: 0 });
    expect(graphCalls()).toBe(1);
    expect(client.stats().byRoute['POST /drive/root:{path}:/children']).toEqual({ '0': 1 });

    emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST' }, action: { type: 'reset' }, times: 1 }] });
    const session = await api.createUploadSession({ path: '/docs/big.bin' });
    expect(session.uploadUrl).toContain('/up/');
    expect(client.stats().byRoute['POST /drive/root:{path}:/createUploadSession']).toEqual({ '0': 1, '200': 1 });
    expect(await api.cancelUploadSession(session.uploadUrl)).toBe(true);
  });

  it('never retries other 4xx', async () => {
    const { client, api } = makeApi();
    await expect(api.getItem({ path: '/nope.txt' })).rejects.toMatchObject({ status: 404, code: 'itemNotFound' });
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph' }, action: { type: 'status', status: 400, code: 'invalidRequest' }, times: 1 }] });
    const err = await api.getItem({ path: '/docs/a.txt' }).catch((e) => e);
    expect(err).toBeInstanceOf(GraphError);
    expect([err.status, err.code]).toEqual([400, 'invalidRequest']);
    expect(err.requestId).toBeTruthy();
    expect(graphCalls()).toBe(2);
    expect(client.stats().retries).toBe(0);
  });

  it('gives up at once when Retry-After exceeds the wait budget, reporting it', async () => {
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph' }, action: { type: 'status', status: 429, retryAfter: 120 } }] });
    const { api } = makeApi({ retry: { maxTotalWaitMs: 5_000 } });
    await expect(api.getItem({ path: '/docs/a.txt' })).rejects.toMatchObject({ status: 429, retryAfter: 120 });
    expect(graphCalls()).toBe(1);
  });

  it('on 401 refreshes the token once and retries once', async () => {
    const { client, api } = makeApi();
    tokens.poison();
    const before = tokens.refreshes;
    expect((await api.getItem({ path: '/docs/a.txt' })).name).toBe('a.txt');
    expect(tokens.refreshes - before).toBe(1);
    expect(status(401)).toBe(1);
    expect(client.stats().authRefreshes).toBe(1);
  });

  it('a token Graph keeps rejecting fails after exactly one refresh', async () => {
    const stubborn = {
      getAccessToken: async () => 'not.a.token',
      refreshes: 0,
      async refreshAfterRejection() {
        this.refreshes++;
        return 'still.not.valid';
      },
    };
    const { api } = makeApi({ tokens: stubborn });
    await expect(api.getItem({ path: '/docs/a.txt' })).rejects.toMatchObject({ status: 401, code: 'InvalidAuthenticationToken' });
    expect(stubborn.refreshes).toBe(1);
    expect(status(401)).toBe(2);
  });

  it('sends no Authorization header to upload URLs', async () => {
    const { api } = makeApi();
    const session = await api.createUploadSession({ path: '/docs/x.bin' });
    expect((await api.uploadSessionStatus(session.uploadUrl)).nextExpectedRanges).toEqual(['0-']);
    expect(await api.cancelUploadSession(session.uploadUrl)).toBe(true);
  });

  it('pages through 2,500 children at $top=1000', async () => {
    await Promise.all(Array.from({ length: 2500 }, (_, i) => emulator.drive.putFile(driveId, `many/f${String(i).padStart(4, '0')}.txt`, `${i}`)));
    emulator.counters.reset();
    const { api } = makeApi();
    const children = await api.listChildren({ path: '/many' });
    expect(children).toHaveLength(2500);
    expect(new Set(children.map((c) => c.id)).size).toBe(2500);
    expect(emulator.counters.snapshot().byRoute['graph: GET /me/drive/root:/{path}:/children']).toBe(3);
  });
});
