import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { TokenSource } from '../../src/auth/token-source.js';
import { GraphClient } from '../../src/graph/client.js';

/**
 * What one attempt makes of an answer, on a mocked dispatcher (no emulator): the behaviours of
 * GraphClient that the emulator tests do not reach.
 */
const ORIGIN = 'https://graph.example.test';
const agents: MockAgent[] = [];

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

function clientWith(tokens: TokenSource = { getAccessToken: async () => 'secret-token', refreshAfterRejection: async () => 'secret-token' }) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  const client = new GraphClient({ baseUrl: `${ORIGIN}/v1.0`, tokens, dispatcher: agent, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
  return { client, pool: agent.get(ORIGIN) };
}

describe('one Graph attempt', () => {
  it('never sends a bearer token with auth: false, not even one the caller put in the headers', async () => {
    const { client, pool } = clientWith();
    let seen: Record<string, string> | undefined;
    pool
      .intercept({ path: '/up/session', method: 'GET' })
      .reply(200, (opts) => {
        seen = opts.headers as Record<string, string>;
        return { nextExpectedRanges: ['0-'] };
      }, { headers: { 'content-type': 'application/json' } });
    await client.request({ method: 'GET', path: `${ORIGIN}/up/session`, auth: false, headers: { authorization: 'Bearer secret-token' } });
    expect(seen).toBeDefined();
    expect(Object.keys(seen!).map((k) => k.toLowerCase())).not.toContain('authorization');
  });

  it('a malformed JSON answer is an invalidResponse, not retried', async () => {
    const { client, pool } = clientWith();
    pool.intercept({ path: '/v1.0/me/drive', method: 'GET' }).reply(200, '{"id": ', { headers: { 'content-type': 'application/json' } }).times(2);
    await expect(client.request({ method: 'GET', path: '/me/drive' })).rejects.toMatchObject({ status: 200, code: 'invalidResponse' });
    expect(client.stats().retries).toBe(0);
    expect(Object.values(client.stats().byRoute)).toEqual([{ '200': 1 }]);
  });

  it('a token the identity service cannot give now is a 503 tokenUnavailable with its Retry-After, and nothing is sent', async () => {
    const outage = Object.assign(new Error('the identity service is unreachable'), { transient: true, retryAfterSec: 7 });
    const { client } = clientWith({ getAccessToken: async () => Promise.reject(outage), refreshAfterRejection: async () => Promise.reject(outage) });
    await expect(client.request({ method: 'GET', path: '/me/drive' })).rejects.toMatchObject({ status: 503, code: 'tokenUnavailable', retryAfter: 7 });
    expect(client.stats().retries).toBe(0);
    expect(client.stats().byRoute).toEqual({});
  });
});
