import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { redactedUrl, SharedRedis } from '../../src/redis/connection.js';
import { SharedStateUnavailableError, viaRedis } from '../../src/redis/errors.js';
import { parseKey, SecretBox, STATE_KEY_VARIABLE } from '../../src/redis/secret-box.js';
import { HAS_REDIS, redisForTests } from '../helpers/redis.js';

describe.skipIf(!HAS_REDIS)('SharedRedis on a real redis-server', () => {
  const server = redisForTests({ password: 'fleet-secret' });

  it('prefixes every key, authenticates, and refuses a wrong password', async () => {
    const shared = new SharedRedis({ url: server.redis.url, keyPrefix: 'fleet-a:' });
    await shared.ready();
    await shared.commands.set('greeting', 'hello');
    const raw = new Redis({ port: server.redis.port, host: '127.0.0.1', password: 'fleet-secret' });
    expect(await raw.get('fleet-a:greeting')).toBe('hello');
    expect(await raw.get('greeting')).toBeNull();
    await raw.quit();
    await shared.close();

    const wrong = new SharedRedis({ url: `redis://:nope@127.0.0.1:${server.redis.port}`, keyPrefix: 'x:' });
    await expect(wrong.ready(1500)).rejects.toThrow(/did not answer/);
    await wrong.close();
  });

  it('fails at once with SharedStateUnavailableError while Redis is down, and reconnects by itself', async () => {
    const shared = new SharedRedis({ url: server.redis.url, keyPrefix: 'fleet-b:' });
    await shared.ready();
    await server.redis.kill();
    const failure = await viaRedis('set', () => shared.commands.set('k', 'v')).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SharedStateUnavailableError);
    expect((failure as SharedStateUnavailableError).retryAfter).toBeGreaterThan(0);
    await server.redis.start();
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = await shared.ping().then(() => true, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok).toBe(true);
    await shared.close();
  });

  it('does not take a busy event loop for an outage: an answer that came is read, however late (no spurious 503)', async () => {
    const shared = new SharedRedis({ url: server.redis.url, keyPrefix: 'fleet-c:' });
    await shared.ready();
    await shared.commands.set('k', 'there');
    const answer = viaRedis('get', () => shared.commands.get('k')).catch((err: unknown) => err);
    // After ioredis has sent the command (its pipeline goes out in an earlier setImmediate), the loop
    // is busy for longer than the deadline, as a replica saturated with PROPFINDs can be.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        const until = Date.now() + 2_600;
        while (Date.now() < until);
        resolve();
      }),
    );
    expect(await answer).toBe('there');
    await shared.close();
  });

  it('takes a Redis that hangs for an outage once the deadline has passed', async () => {
    const shared = new SharedRedis({ url: server.redis.url, keyPrefix: 'fleet-d:' });
    await shared.ready();
    server.redis.pause();
    try {
      const failure = await viaRedis('get', () => shared.commands.get('k')).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(SharedStateUnavailableError);
      expect((failure as Error).message).toMatch(/did not answer within 2000 ms/);
    } finally {
      server.redis.resume();
    }
    expect(await viaRedis('get', () => shared.commands.get('k'))).toBeNull();
    await shared.close();
  });

  it('keeps the password out of what it logs', () => {
    expect(redactedUrl('redis://:fleet-secret@10.0.0.5:6379/2')).not.toContain('fleet-secret');
  });
});

describe('SecretBox', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  it('seals and opens a value for its own context only', () => {
    const box = SecretBox.fromEnvironment({ [STATE_KEY_VARIABLE]: key })!;
    const sealed = box.seal('refresh-token-value', 'tokens:work');
    expect(sealed).not.toContain('refresh-token-value');
    expect(box.open(sealed, 'tokens:work')).toBe('refresh-token-value');
    expect(() => box.open(sealed, 'tokens:home')).toThrow(/does not open/);
    const other = SecretBox.fromEnvironment({ [STATE_KEY_VARIABLE]: Buffer.alloc(32, 8).toString('hex') })!;
    expect(() => other.open(sealed, 'tokens:work')).toThrow(/does not open/);
  });
  it('is absent without the variable and refuses a key of the wrong size', () => {
    expect(SecretBox.fromEnvironment({})).toBeUndefined();
    expect(() => parseKey('c2hvcnQ=')).toThrow(/32 bytes/);
  });
});

describe('redis config', () => {
  it('takes redis:// and rediss:// URLs with a default key prefix, and refuses others', () => {
    expect(parseConfig({ redis: { url: 'rediss://cache.internal:6380' } }).redis).toEqual({ url: 'rediss://cache.internal:6380', keyPrefix: 'onedav:' });
    expect(() => parseConfig({ redis: { url: 'http://cache:6379' } })).toThrow(/redis\.url/);
  });
});
