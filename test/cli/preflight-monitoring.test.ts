import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preflight } from '../../src/cli/preflight.js';
import { parseConfig } from '../../src/config.js';

describe('preflight on the monitoring endpoints', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'onedav-preflight-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  const warningsFor = async (server: Record<string, unknown>, users: unknown[] = []) =>
    (await preflight(parseConfig({ dataDir, server, users, anonymous: { enabled: true } }, {}), { insecureDev: true })).warnings.filter((w) => w.includes('server.monitoring'));

  it('says who can read them when they are open beyond loopback', async () => {
    expect(await warningsFor({ host: '127.0.0.1' })).toEqual([]);
    const [open] = await warningsFor({ host: '0.0.0.0' });
    expect(open).toMatch(/anyone who can reach this port can read \/\.well-known\/onedav\/healthz and \/metrics/);
    expect(open).toContain('"users"');
    expect(await warningsFor({ host: '0.0.0.0', monitoring: 'users' }, [{ name: 'ops', password: 'x' }])).toEqual([]);
    expect(await warningsFor({ host: '0.0.0.0', monitoring: 'off' })).toEqual([]);
  });

  it('says when "users" would refuse everyone', async () => {
    expect(await warningsFor({ monitoring: 'users' })).toEqual([expect.stringMatching(/no users are configured/)]);
  });
});
