import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { expectEveryLitmusTestPassed, SUITES } from '../clients/litmus-results.js';
import { hasProgram, run } from '../clients/tools.js';
import { HAS_HAPROXY } from '../helpers/balancer.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { HAS_REDIS } from '../helpers/redis.js';

/**
 * litmus through haproxy in per-request round robin over three onedav processes sharing Redis:
 * every request may land on another replica (a LOCK on one, the PUT with its token on the next,
 * the PROPFIND that checks it on the third), so locks, dead properties and the metadata caches
 * must behave as one server.
 */
describe.skipIf(!HAS_REDIS || !HAS_HAPROXY || !hasProgram('litmus'))('litmus through a round-robin balancer over three replicas', () => {
  let fleet: Fleet;
  let workdir: string;
  beforeAll(async () => {
    const password = await hashPassword('litmus-pw', { N: 1 << 12, r: 8, p: 1 });
    fleet = await startFleet({ replicas: 3, config: { users: [{ name: 'litmus', password }], anonymous: { enabled: false } } });
    workdir = await mkdtemp(join(tmpdir(), 'onedav-litmus-fleet-'));
  }, 240_000);
  afterAll(async () => {
    await fleet?.close();
    if (workdir) await rm(workdir, { recursive: true, force: true });
  });

  it('passes every test of basic, copymove, props, locks and http', async () => {
    const result = await run('litmus', [`${fleet.url}/`, 'litmus', 'litmus-pw'], { cwd: workdir, env: { TESTS: SUITES.join(' ') }, timeoutMs: 300_000 });
    const passed = expectEveryLitmusTestPassed(result);
    console.log(`[litmus through the balancer over ${fleet.replicas.length} replicas] ${passed} passed`);
  }, 360_000);
});
