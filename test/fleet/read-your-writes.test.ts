import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_HAPROXY } from '../helpers/balancer.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { HAS_REDIS } from '../helpers/redis.js';

/**
 * Behind a round-robin balancer a client's next request lands on another replica: what one replica
 * acknowledged must be what the next one serves, at once — not "within 100 ms" — even though that
 * one had the path cached (metadata, download URL, a listing, a confirmed absence). Real processes,
 * so each replica has its own event loop, as in production.
 */
describe.skipIf(!HAS_REDIS || !HAS_HAPROXY)('read your writes across replicas', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet({ replicas: 2, config: { cache: { deltaPollSeconds: 0 }, log: { level: 'warn', format: 'json' } } });
  }, 120_000);
  afterAll(async () => {
    await fleet?.close();
  });

  const send = async (base: string, path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, { redirect: 'follow', ...init });
    return { status: res.status, text: await res.text() };
  };

  it('a write acknowledged by A is what B serves on the very next request, though B had the path cached', async () => {
    const [a, b] = fleet.replicas.map((r) => r.url);
    expect((await send(a, '/ryw', { method: 'MKCOL' })).status).toBe(201);
    const stale: string[] = [];
    const ROUNDS = 40;
    for (let i = 0; i < ROUNDS; i++) {
      const file = `/ryw/f-${i}.txt`;
      const folder = `/ryw/d-${i}`;
      // B learns the file absent, then A writes it.
      if ((await send(b, file, { method: 'PROPFIND', headers: { depth: '0' } })).status !== 404) stale.push(`${file}: not absent at first`);
      expect((await send(a, file, { method: 'PUT', body: `first ${i}` })).status).toBe(201);
      const first = await send(b, file);
      if (first.text !== `first ${i}`) stale.push(`${file}: B served ${first.status} '${first.text.slice(0, 20)}' after A created it`);
      // B has its metadata and download URL cached now; A replaces it.
      expect((await send(a, file, { method: 'PUT', body: `second ${i}` })).status).toBe(204);
      const second = await send(b, file);
      if (second.text !== `second ${i}`) stale.push(`${file}: B served ${second.status} '${second.text.slice(0, 20)}' after A replaced it`);
      // B believes the folder absent; A creates it; B writes into it.
      if ((await send(b, folder, { method: 'PROPFIND', headers: { depth: '0' } })).status !== 404) stale.push(`${folder}: not absent at first`);
      expect((await send(a, folder, { method: 'MKCOL' })).status).toBe(201);
      const inside = await send(b, `${folder}/x.txt`, { method: 'PUT', body: 'x' });
      if (inside.status !== 201) stale.push(`${folder}/x.txt: B answered ${inside.status} to a PUT into the folder A just made`);
      // A deletes what B had read.
      expect((await send(a, file, { method: 'DELETE' })).status).toBe(204);
      const gone = await send(b, file);
      if (gone.status !== 404) stale.push(`${file}: B answered ${gone.status} after A deleted it`);
    }
    console.log(`${ROUNDS} rounds of write through A, read through B at once: ${stale.length} stale answers`);
    expect(stale).toEqual([]);
  }, 120_000);
});
