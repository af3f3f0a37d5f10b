import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ADELE } from '../helpers/stack.js';
import { HAS_REDIS, startRedis, type RunningRedis } from '../helpers/redis.js';
import { createAppPassword, propfind, signInWithFetch, startGatewayStack, type GatewayStack } from './helpers.js';

/** With `redis`, the gateway keeps people, sessions, sign-ins under way and (sealed) tokens in Redis. */
describe.skipIf(!HAS_REDIS)('the gateway on Redis', () => {
  let redis: RunningRedis;
  let stack: GatewayStack;
  beforeAll(async () => {
    redis = await startRedis();
    stack = await startGatewayStack({}, { redis: { url: redis.url } });
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('signs in, serves the app password, and keeps only hashes and sealed tokens in Redis', async () => {
    const session = await signInWithFetch(stack, ADELE, 'adele-password');
    const password = await createAppPassword(stack, session, 'laptop');
    expect((await propfind(stack, ADELE, password)).status).toBe(207);

    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('onedav:*');
      expect(keys.some((k) => k.startsWith('onedav:gateway:person:'))).toBe(true);
      expect(keys.some((k) => k.startsWith('onedav:gateway:session:'))).toBe(true);
      expect(keys.some((k) => k.startsWith('onedav:gateway:pending:'))).toBe(false); // taken by the callback
      const values = await Promise.all(keys.filter((k) => k.includes('gateway:')).map((k) => client.get(k)));
      for (const v of values) expect(v).not.toContain(password);
      const tokenKey = keys.find((k) => k.startsWith('onedav:tokens:person'))!;
      const record = JSON.parse((await client.hget(tokenKey, 'record'))!);
      expect(record.refreshToken).toMatch(/^v1:/);
    } finally {
      client.disconnect();
    }
    expect((await stack.app.gateway!.people.list()).map((p) => p.upn)).toEqual([ADELE]);
  });
});
