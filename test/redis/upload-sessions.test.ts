import { describe, expect, it } from 'vitest';
import { RedisUploadOwnership } from '../../src/redis/upload-ownership.js';
import { RedisUploadSessions } from '../../src/redis/upload-sessions.js';
import { SecretBox, STATE_KEY_VARIABLE } from '../../src/redis/secret-box.js';
import { connectReplicas, HAS_REDIS, redisForTests } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!HAS_REDIS)('upload sessions and upload ownership in Redis', () => {
  const server = redisForTests();

  it("never cancels a live replica's session; cancels it once that replica's heartbeat is gone; URLs are sealed at rest", async () => {
    const box = SecretBox.fromEnvironment({ [STATE_KEY_VARIABLE]: Buffer.alloc(32, 3).toString('base64') });
    const [ra, rb] = await connectReplicas(server.redis, 2);
    const options = { heartbeatTtlMs: 600, reapEveryMs: 100_000, box };
    const a = new RedisUploadSessions(ra, 'replica-a', options);
    const b = new RedisUploadSessions(rb, 'replica-b', options);
    const cancelled: string[] = [];
    const cancel = async (url: string) => {
      cancelled.push(url);
      return true;
    };
    await a.start(cancel);
    await b.start(cancel);
    const url = 'https://upload.example/up/secret-session-token';
    await a.opened(url);
    const stored = JSON.stringify(await ra.commands.hgetall('sessions:replica-a'));
    expect(stored).not.toContain('secret-session-token');

    // A beats every 200 ms: however often B looks, A's session stays.
    for (let i = 0; i < 5; i++) {
      expect(await b.reapDeadPeers(cancel)).toBe(0);
      await sleep(200);
    }
    expect(cancelled).toEqual([]);

    await a.close({ leave: false }); // as if killed: no heartbeat, sessions left behind
    let reaped = 0;
    for (let i = 0; i < 40 && reaped === 0; i++) {
      await sleep(100);
      reaped = await b.reapDeadPeers(cancel);
    }
    expect(cancelled).toEqual([url]);
    expect(await rb.commands.hlen('sessions:replica-a')).toBe(0);
    await b.close();
    await Promise.all([ra.close(), rb.close()]);
  });

  it('a second writer of a path waits for the first, and is answered busy with a Retry-After past the wait bound', async () => {
    const [ra, rb] = await connectReplicas(server.redis, 2);
    const a = new RedisUploadOwnership(ra, 'replica-a', { waitMs: 300 });
    const b = new RedisUploadOwnership(rb, 'replica-b', { waitMs: 300 });
    let release!: () => void;
    const first = a.run('drive:/f.txt', () => new Promise<string>((resolve) => (release = () => resolve('a'))));
    await sleep(50);
    const refused = await b.run('drive:/f.txt', async () => 'b');
    expect(refused).toMatchObject({ busy: expect.any(String) });
    expect((refused as { retryAfter: number }).retryAfter).toBeGreaterThan(0);
    const waiting = b.run('drive:/f.txt', async () => 'b');
    await sleep(50);
    release();
    expect(await first).toEqual({ value: 'a' });
    expect(await waiting).toEqual({ value: 'b' });
    // Another path is never held up.
    expect(await b.run('drive:/other.txt', async () => 'free')).toEqual({ value: 'free' });
    await Promise.all([ra.close(), rb.close()]);
  });
});
