import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preflight } from '../../src/cli/preflight.js';
import { parseConfig } from '../../src/config.js';
import { HAS_REDIS, startRedis, type RunningRedis } from '../helpers/redis.js';

describe.skipIf(!HAS_REDIS)('preflight on redis', () => {
  let dataDir: string;
  let redis: RunningRedis;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'onedav-preflight-'));
    redis = await startRedis({ password: 'fleet-secret' });
  });
  afterAll(async () => {
    await redis?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  // A state key is set, so that only what preflight says about Redis itself is left to look at.
  const stateKey = Buffer.alloc(32, 3).toString('base64');
  const check = (url: string, env: NodeJS.ProcessEnv = {}) => preflight(parseConfig({ dataDir, anonymous: { enabled: true }, redis: { url } }, {}), { env: { ONEDAV_STATE_KEY: stateKey, ...env } });
  const aboutRedis = (lines: string[]) => lines.filter((l) => l.includes('redis'));

  it('is content with a loopback Redis that answers', async () => {
    const result = await check(redis.url);
    expect(aboutRedis(result.problems)).toEqual([]);
    expect(aboutRedis(result.warnings)).toEqual([]);
  });

  it('takes the password from ONEDAV_REDIS_PASSWORD', async () => {
    const result = await check(`redis://127.0.0.1:${redis.port}`, { ONEDAV_REDIS_PASSWORD: 'fleet-secret' });
    expect(aboutRedis(result.problems)).toEqual([]);
  });

  it('says clearly when Redis does not answer, without showing the password', async () => {
    const wrong = await check(`redis://:not-the-password@127.0.0.1:${redis.port}`);
    expect(aboutRedis(wrong.problems)).toHaveLength(1);
    expect(wrong.problems.join('\n')).toMatch(/redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/? does not answer/);
    expect(wrong.problems.join('\n')).not.toContain('not-the-password');
    await redis.kill();
    try {
      const down = await check(redis.url);
      expect(aboutRedis(down.problems)[0]).toMatch(/does not answer.*start it, or fix redis\.url/);
    } finally {
      await redis.start();
    }
  });

  it('warns when AUTH and the data would cross the network in clear text', async () => {
    // 0.0.0.0 reaches this machine's Redis but is not a loopback name: as a remote host would be.
    const plain = await check(`redis://:fleet-secret@0.0.0.0:${redis.port}`);
    expect(aboutRedis(plain.problems)).toEqual([]);
    expect(aboutRedis(plain.warnings)[0]).toMatch(/neither loopback nor rediss:\/\/.*clear text/);
    expect(plain.warnings.join('\n')).not.toContain('fleet-secret');
  });
});
