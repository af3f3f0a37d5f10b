import { describe, expect, it } from 'vitest';
import type { Invalidation } from '../../src/cache/invalidation-bus.js';
import { RedisInvalidationBus } from '../../src/cache/redis-invalidation-bus.js';
import { connectReplicas, HAS_REDIS, redisForTests } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, attempts = 200): Promise<boolean> {
  for (let i = 0; i < attempts && !check(); i++) await sleep(50);
  return check();
}

describe.skipIf(!HAS_REDIS)('RedisInvalidationBus', () => {
  const server = redisForTests();

  it("delivers a replica's invalidations to the others of the same drive, not back to itself nor to other drives", async () => {
    const [ra, rb] = await connectReplicas(server.redis, 2);
    const [a, b] = [new RedisInvalidationBus(ra, 'replica-a'), new RedisInvalidationBus(rb, 'replica-b')];
    const got = { a: [] as Invalidation[], b: [] as Invalidation[], bOther: [] as Invalidation[] };
    a.subscribe('drive-1', (i) => got.a.push(i));
    b.subscribe('drive-1', (i) => got.b.push(i));
    b.subscribe('drive-2', (i) => got.bOther.push(i));
    await Promise.all([a.ready(), b.ready()]);
    a.publish('drive-1', { changed: [{ path: '/Docs/a.txt', id: 'item-1' }] });
    expect(await until(() => got.b.length === 1)).toBe(true);
    expect(got.b[0].changed).toEqual([{ path: '/Docs/a.txt', id: 'item-1' }]);
    await sleep(100);
    expect(got.a).toEqual([]);
    expect(got.bOther).toEqual([]);
    await Promise.all([ra.close(), rb.close()]);
  });

  it('after a Redis outage the subscriber listens again and its replica forgets everything once', async () => {
    const [ra, rb] = await connectReplicas(server.redis, 2);
    const [a, b] = [new RedisInvalidationBus(ra, 'replica-a'), new RedisInvalidationBus(rb, 'replica-b')];
    const got: Invalidation[] = [];
    b.subscribe('drive-1', (i) => got.push(i));
    await b.ready();
    await server.redis.kill();
    await server.redis.start();
    expect(await until(() => got.some((i) => i.all === true))).toBe(true);
    expect(got.filter((i) => i.all)).toHaveLength(1);
    // Resubscribed: messages flow again.
    let delivered = false;
    for (let i = 0; i < 100 && !delivered; i++) {
      await ra.ready();
      a.publish('drive-1', { changed: [{ path: '/after' }] });
      delivered = await until(() => got.some((x) => x.changed?.[0]?.path === '/after'), 4);
    }
    expect(delivered).toBe(true);
    await Promise.all([ra.close(), rb.close()]);
  }, 30_000);
});
