import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SharedRedis } from '../../src/redis/connection.js';
import { RedisLease } from '../../src/redis/lease.js';
import { eventually } from '../helpers/eventually.js';
import { connectReplicas, HAS_REDIS, redisForTests } from '../helpers/redis.js';

describe.skipIf(!HAS_REDIS)('RedisLease', () => {
  const server = redisForTests();
  let shared: SharedRedis;
  beforeAll(async () => {
    [shared] = await connectReplicas(server.redis, 1);
  });
  afterAll(async () => {
    await shared?.close();
  });

  it('one holder at a time: only the holder extends it, a release by anyone else leaves it held', async () => {
    const a = new RedisLease(shared, 'lease:one', 'replica-a', 60_000);
    const b = new RedisLease(shared, 'lease:one', 'replica-b', 60_000);
    expect(await a.hold()).toBe(true);
    expect(await b.hold()).toBe(false);
    expect(await b.extend()).toBe(false);
    await b.release();
    expect(await b.hold()).toBe(false);
    expect(await a.extend(120_000)).toBe(true);
    expect(await shared.commands.pttl('lease:one')).toBeGreaterThan(60_000);
    await a.release();
    expect(await b.hold()).toBe(true);
    await b.release();
  });

  it('a lease that ran out is taken by another; its old holder can then neither extend nor release it', async () => {
    const a = new RedisLease(shared, 'lease:two', 'replica-a', 50);
    const b = new RedisLease(shared, 'lease:two', 'replica-b', 60_000);
    expect(await a.hold()).toBe(true);
    await eventually(() => b.hold(), 'the lapsed lease is taken by b');
    expect(await a.extend(60_000)).toBe(false);
    await a.release();
    expect(await a.hold()).toBe(false);
    await b.release();
  });

  it('extend never takes a lease that ran out and is free, unlike hold', async () => {
    const a = new RedisLease(shared, 'lease:three', 'replica-a', 50);
    expect(await a.hold()).toBe(true);
    await eventually(async () => (await shared.commands.exists('lease:three')) === 0, 'the lease runs out');
    expect(await a.extend(60_000)).toBe(false);
    expect(await shared.commands.exists('lease:three')).toBe(0);
    expect(await a.hold()).toBe(true);
    await a.release();
  });
});
