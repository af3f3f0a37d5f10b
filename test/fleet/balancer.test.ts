import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_HAPROXY } from '../helpers/balancer.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { HAS_REDIS } from '../helpers/redis.js';

/** PROPFIND requests each replica has answered, from its own /metrics. */
async function propfindsServed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/.well-known/onedav/metrics`)).text();
  return [...text.matchAll(/^onedav_dav_requests_total\{[^}]*method="PROPFIND"[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe.skipIf(!HAS_REDIS || !HAS_HAPROXY)('a fleet of three onedav processes behind haproxy', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet({ replicas: 3 });
  }, 240_000);
  afterAll(async () => {
    await fleet?.close();
  });

  it('spreads the requests of one keep-alive client over every replica', async () => {
    const before = await Promise.all(fleet.replicas.map((r) => propfindsServed(r.url)));
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${fleet.url}/`, { method: 'PROPFIND', headers: { Depth: '0' } });
      expect(res.status).toBe(207);
      await res.arrayBuffer();
    }
    const after = await Promise.all(fleet.replicas.map((r) => propfindsServed(r.url)));
    const served = after.map((n, i) => n - before[i]);
    expect(served.reduce((a, b) => a + b, 0)).toBe(30);
    for (const n of served) expect(n).toBeGreaterThanOrEqual(5);
  });

  it('keeps answering through the balancer when a replica is killed, and takes it back after a restart', async () => {
    await fleet.replicas[1].kill();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${fleet.url}/`, { method: 'PROPFIND', headers: { Depth: '0' } });
      expect(res.status).toBe(207);
      await res.arrayBuffer();
    }
    await fleet.replicas[1].start();
    const before = await propfindsServed(fleet.replicas[1].url);
    let served = 0;
    for (let i = 0; i < 100 && served === 0; i++) {
      const res = await fetch(`${fleet.url}/`, { method: 'PROPFIND', headers: { Depth: '0' } });
      await res.arrayBuffer();
      served = (await propfindsServed(fleet.replicas[1].url)) - before;
    }
    expect(served).toBeGreaterThan(0);
  }, 60_000);
});
