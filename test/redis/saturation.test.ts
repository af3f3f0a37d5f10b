import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_HAPROXY } from '../helpers/balancer.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { HAS_REDIS } from '../helpers/redis.js';

/**
 * A replica saturated with work while Redis is healthy: many concurrent Depth 1 PROPFINDs of a big
 * folder (each reads the dead properties of every child from Redis) keep its event loop busy for
 * seconds. A command whose reply arrived in time but was read late, because the loop was busy, is
 * not an outage: counting it as one answered 503 (shared state unavailable) with Redis fine.
 */
const CHILDREN = 1500;
const CONCURRENT = 80;
const ROUNDS = 2;

describe.skipIf(!HAS_REDIS || !HAS_HAPROXY)('a replica saturated with PROPFINDs while Redis is healthy', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet({ replicas: 1, config: { log: { level: 'warn', format: 'json' } } });
    await Promise.all(Array.from({ length: CHILDREN }, (_, i) => fleet.emulator.drive.putFile(fleet.driveId, `big/file-${String(i).padStart(5, '0')}.txt`, `content ${i}`)));
  }, 240_000);
  afterAll(async () => {
    await fleet?.close();
  });

  it('answers every PROPFIND (no 503 from a busy event loop taken for a Redis outage)', { timeout: 600_000 }, async () => {
    const url = `${fleet.replicas[0].url}/big/`;
    const propfind = async () => {
      const res = await fetch(url, { method: 'PROPFIND', headers: { Depth: '1' } }).catch(() => undefined);
      if (!res) return 0;
      const body = await res.text();
      return res.status === 207 && body.split('<D:response>').length - 1 === CHILDREN + 1 ? 207 : res.status;
    };
    expect(await propfind()).toBe(207); // warm: the listing is cached, only Redis and the XML remain
    const answers = new Map<number, number>();
    const started = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      for (const status of await Promise.all(Array.from({ length: CONCURRENT }, propfind))) answers.set(status, (answers.get(status) ?? 0) + 1);
    }
    const seconds = (Date.now() - started) / 1000;
    console.info(`${ROUNDS} rounds of ${CONCURRENT} concurrent Depth 1 PROPFINDs of ${CHILDREN} children in ${seconds.toFixed(1)} s: ${JSON.stringify(Object.fromEntries(answers))}`);
    expect(Object.fromEntries(answers)).toEqual({ 207: ROUNDS * CONCURRENT });
  });
});
