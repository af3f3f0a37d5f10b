import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT_ID } from '../../src/emulator/directory.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { startEmulator } from '../../src/emulator/server.js';
import { signedInRecord, startAppReplicas } from '../helpers/app-replicas.js';
import { startConfiguredOneDav, type ConfiguredOneDav } from '../helpers/onedav.js';
import { HAS_REDIS, startRedis, type RunningRedis } from '../helpers/redis.js';
import { ADELE, dav } from '../helpers/stack.js';

const X = 'http://example.com/ns/';
const lockBody = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`;
const patchBody = `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="${X}"><D:set><D:prop><X:color>blue</X:color></D:prop></D:set></D:propertyupdate>`;

/** onedav as `serve` wires it from a config with `redis`: the Redis stores, and 503 while Redis is away. */
describe.skipIf(!HAS_REDIS)('onedav with redis in its config', () => {
  let redis: RunningRedis;
  const apps: ConfiguredOneDav[] = [];
  // Each onedav here runs its own built-in emulator (its own OneDrive): they share nothing but
  // Redis, so each gets a key prefix of its own unless the test wants them to share state.
  const start = async (keyPrefix: string) => {
    const app = await startConfiguredOneDav(
      { accounts: { adele: { cloud: 'emulator', tenant: 'contoso.onmicrosoft.com', clientId: DEMO_CLIENT_ID } }, mounts: [{ path: '/', account: 'adele' }], redis: { url: redis.url, keyPrefix } },
      { signedIn: { adele: ADELE } },
    );
    apps.push(app);
    return { url: app.app.url, app };
  };
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await redis?.stop();
  });

  it('keeps locks in Redis, where another onedav with the same config sees them', async () => {
    // Two replicas as serve wires them from one config: one OneDrive (emulator), one Redis, one sign-in.
    const emulator = await startEmulator({ port: 0 });
    const replicas = await startAppReplicas(2, {
      emulator,
      upn: ADELE,
      redisUrl: redis.url,
      keyPrefix: 'serve-test-shared:',
      beforeStart: async (dirs) => new TokenStore(dirs[0]).save(signedInRecord(emulator, ADELE)),
    });
    try {
      const [one, other] = replicas.urls.map((url) => ({ url }));
      const taken = await dav(one, 'LOCK', '/shared-lock.txt', { headers: { Timeout: 'Second-600' }, body: lockBody });
      expect(taken.status).toBe(201);
      expect((await dav(other, 'LOCK', '/shared-lock.txt', { headers: { Timeout: 'Second-600' }, body: lockBody })).status).toBe(423);
    } finally {
      await replicas.close();
      await emulator.close();
    }
  });

  it('answers LOCK and PROPPATCH with 503 and Retry-After while Redis is down, and works again once it is back', async () => {
    const { url, app } = await start('serve-test-outage:');
    const drive = app.app.emulator!.drive;
    await drive.putFile(drive.driveIdOf(ADELE), 'outage.txt', 'kept');
    // In use before the outage: onedav holds a valid access token (getting one needs the shared sign-in).
    const before = await dav({ url }, 'GET', '/outage.txt', { redirect: 'follow' });
    expect(before.status, await before.clone().text()).toBe(200);
    await redis.kill();
    try {
      const locked = await dav({ url }, 'LOCK', '/outage.txt', { headers: { Timeout: 'Second-600' }, body: lockBody });
      expect(locked.status).toBe(503);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      const patched = await dav({ url }, 'PROPPATCH', '/outage.txt', { body: patchBody });
      expect(patched.status).toBe(503);
      expect(Number(patched.headers.get('retry-after'))).toBeGreaterThan(0);
      // A write must not go through unchecked either: whether it is locked is not known now.
      expect((await dav({ url }, 'PUT', '/outage.txt', { body: 'unchecked' })).status).toBe(503);
      expect((await drive.readFile(drive.driveIdOf(ADELE), 'outage.txt')).toString()).toBe('kept');
      // Reading needs no shared state.
      const read = await dav({ url }, 'GET', '/outage.txt', { redirect: 'follow' });
      expect(read.status).toBe(200);
      expect(await read.text()).toBe('kept');
    } finally {
      await redis.start();
    }
    // onedav reconnects by itself (a restarted redis-server here is empty: no persistence).
    let status = 0;
    for (let i = 0; i < 100 && status !== 207; i++) {
      status = (await dav({ url }, 'PROPPATCH', '/outage.txt', { body: patchBody })).status;
      if (status !== 207) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(207);
    const relocked = await dav({ url }, 'LOCK', '/outage.txt', { headers: { Timeout: 'Second-600' }, body: lockBody });
    expect(relocked.status, await relocked.clone().text()).toBe(200);
  });
});
