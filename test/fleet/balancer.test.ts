import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BALANCER_RETRY_RULE, HAS_HAPROXY, startBalancer, type RunningBalancer } from '../helpers/balancer.js';
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

describe.skipIf(!HAS_HAPROXY)('the balancer when a replica dies in the middle of a request', () => {
  // Two stand-ins for replicas: one reads each request and dies without answering (as a replica
  // killed after doing the work), the other answers. The config is the one docs/deploy.md gives.
  const seen: string[] = [];
  // It passes its health checks: it dies only when it has a request.
  const dying = createServer((req, res) => {
    if (req.url === '/.well-known/onedav/healthz') return void res.end('ok');
    seen.push(`dying ${req.method}`);
    req.resume();
    req.on('end', () => req.socket.destroy());
  });
  const healthy = createServer((req, res) => {
    if (req.url !== '/.well-known/onedav/healthz') seen.push(`healthy ${req.method}`);
    req.resume();
    req.on('end', () => res.end('done'));
  });
  let balancer: RunningBalancer;
  beforeAll(async () => {
    await Promise.all([dying, healthy].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    const urls = [dying, healthy].map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`);
    balancer = await startBalancer(urls);
  });
  afterAll(async () => {
    await balancer?.stop();
    dying.close();
    healthy.close();
  });

  it('sends again only what is harmless to do twice; a write it may have done comes back 502 for the client to decide', async () => {
    const outcome: Record<string, string[]> = {};
    for (const method of ['GET', 'PROPFIND', 'UNLOCK', 'MOVE', 'LOCK', 'MKCOL', 'PROPPATCH', 'PUT', 'DELETE']) {
      const attempts: string[] = [];
      // Round robin: of two requests in a row, one goes to the dying replica first.
      for (let i = 0; i < 2; i++) {
        seen.length = 0;
        const status = await fetch(`${balancer.url}/x`, { method, body: ['GET', 'DELETE'].includes(method) ? undefined : 'body' }).then(
          (r) => r.arrayBuffer().then(() => r.status),
          () => 0,
        );
        attempts.push(`${status}: ${seen.join(', ')}`);
      }
      outcome[method] = attempts.sort();
    }
    const resent = (method: string) => outcome[method].some((a) => a.includes('dying') && a.includes('healthy'));
    expect(['GET', 'PROPFIND'].filter(resent)).toEqual(['GET', 'PROPFIND']);
    expect(['UNLOCK', 'MOVE', 'LOCK', 'MKCOL', 'PROPPATCH', 'PUT', 'DELETE'].filter(resent)).toEqual([]);
    // What operators are told to run is what was checked here.
    expect(readFileSync('docs/deploy.md', 'utf8')).toContain(BALANCER_RETRY_RULE.trim());
  });
});
