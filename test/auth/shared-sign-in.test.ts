import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisTokenStore } from '../../src/auth/redis-token-store.js';
import { TokenRefresher } from '../../src/auth/refresher.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { SharedRedis } from '../../src/redis/connection.js';
import { SecretBox, STATE_KEY_VARIABLE } from '../../src/redis/secret-box.js';
import { ManualClock } from '../../src/util/clock.js';
import { runLogin, type CliIo } from '../../src/cli/login.js';
import { runWhoami } from '../../src/cli/whoami.js';
import { DEMO_USER, WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { access } from 'node:fs/promises';
import { sourceCli } from '../helpers/cli.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { HAS_REDIS, startRedis, type RunningRedis } from '../helpers/redis.js';
import { REPLICA_ACCOUNT, signedInRecord, startAppReplicas, type AppReplicas } from '../helpers/app-replicas.js';

const KEY = Buffer.alloc(32, 42).toString('base64');
/** The mixed load of the three-replica sign-in test: twelve 5-second token lifetimes (issue 13: 60 s). */
const MIXED_LOAD_MS = 60_000;
const LOCKINFO = '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';
const OTHER_KEY = Buffer.alloc(32, 43).toString('base64');

describe.skipIf(!HAS_REDIS)('sign-in shared by replicas through Redis', () => {
  let redis: RunningRedis;
  let emulator: RunningEmulator;
  let raw: Redis;
  const opened: SharedRedis[] = [];
  const savedKey = process.env[STATE_KEY_VARIABLE];

  const connect = async (keyPrefix: string) => {
    const connection = new SharedRedis({ url: redis.url, keyPrefix });
    opened.push(connection);
    await connection.ready();
    return connection;
  };

  beforeAll(async () => {
    process.env[STATE_KEY_VARIABLE] = KEY;
    redis = await startRedis();
    emulator = await startEmulator({ port: 0, admin: true });
    raw = new Redis({ host: '127.0.0.1', port: redis.port });
  });
  afterAll(async () => {
    if (savedKey === undefined) delete process.env[STATE_KEY_VARIABLE];
    else process.env[STATE_KEY_VARIABLE] = savedKey;
    for (const c of opened) await c.close();
    await raw?.quit();
    await emulator?.close();
    await redis?.stop();
  });
  beforeEach(() => {
    emulator.faults.setPlan(null);
    Object.assign(emulator.state.settings, { accessTokenLifetimeSec: 3600, revokeRefreshTokenOnRotation: false });
    emulator.identity.resetStats();
  });

  it('three replicas on 5-second tokens with rotation-revoked refresh tokens, 60 s of PROPFIND/GET/PUT/LOCK: no failed request, no invalid_grant, one process worth of refreshes; tokens in Redis are sealed', async () => {
    Object.assign(emulator.state.settings, { accessTokenLifetimeSec: 5, revokeRefreshTokenOnRotation: true });
    // Only the first replica has the token file (a single server moving to a fleet): it is imported into Redis once.
    const logger = recordingLogger('json');
    const replicas: AppReplicas = await startAppReplicas(3, {
      emulator,
      logger,
      upn: DEMO_USER,
      redisUrl: redis.url,
      keyPrefix: 'fleet-a:',
      beforeStart: async (dirs) => new TokenStore(dirs[0]).save(signedInRecord(emulator, DEMO_USER)),
    });
    const failed: string[] = [];
    const byMethod = new Map<string, number>();
    const started = Date.now();
    let round = 0;
    let requests = 0;
    try {
      const request = async (url: string, method: string, path: string, options: { body?: string; headers?: Record<string, string> } = {}) => {
        const res = await fetch(`${url}${path}`, { method, body: options.body, redirect: 'manual', headers: method === 'PROPFIND' ? { depth: '1' } : (options.headers ?? {}) });
        await res.arrayBuffer();
        requests++;
        byMethod.set(method, (byMethod.get(method) ?? 0) + 1);
        if (res.status >= 400) failed.push(`${method} ${path} via replica ${replicas.urls.indexOf(url)}: ${res.status}`);
        return res;
      };
      // A lock taken through one replica, released through the next.
      const lockCycle = async (i: number) => {
        const path = `/l${i}.txt`;
        const res = await request(replicas.urls[i], 'LOCK', path, { body: LOCKINFO, headers: { 'content-type': 'application/xml', timeout: 'Second-60' } });
        const token = res.headers.get('lock-token');
        if (token) await request(replicas.urls[(i + 1) % 3], 'UNLOCK', path, { headers: { 'lock-token': token } });
      };
      await request(replicas.urls[0], 'PUT', '/fixed.txt', { body: 'stays' });
      for (let i = 0; i < 3; i++) await request(replicas.urls[i], 'PUT', `/l${i}.txt`, { body: 'locked now and then' });
      // 60 s: twelve 5-second token lifetimes, each request possibly on another replica.
      while (Date.now() - started < MIXED_LOAD_MS && round < 5000) {
        round++;
        await Promise.all(
          replicas.urls.map((url, i) => {
            const name = `/r${(round + i) % 4}.txt`;
            const op = (round + i) % 4;
            return op === 0 ? request(url, 'PUT', name, { body: `round ${round}` }) : op === 1 ? request(url, 'PROPFIND', '/') : op === 2 ? request(url, 'GET', '/fixed.txt') : lockCycle(i);
          }),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
      const elapsed = Date.now() - started;
      const stats = emulator.identity.stats();
      console.info(
        `3 replicas, ${Math.round(elapsed / 1000)} s, ${requests} requests (${[...byMethod].map(([m, n]) => `${m} ${n}`).join(', ')}): ${stats.grants.refresh_token} refreshes (one process: ≤ ${Math.ceil(elapsed / 4000) + 1}), invalid_grant ${stats.failures.invalid_grant ?? 0}, failed requests ${failed.length} (401: ${failed.filter((f) => f.endsWith(': 401')).length}, 5xx: ${failed.filter((f) => /: 5\d\d$/.test(f)).length})`,
      );
      expect(failed).toEqual([]);
      for (const method of ['PUT', 'PROPFIND', 'GET', 'LOCK', 'UNLOCK']) expect(byMethod.get(method), method).toBeGreaterThan(0);
      expect(stats.failures.invalid_grant ?? 0).toBe(0);
      // One process refreshes at 80% of each lifetime (every 4 s), plus its first token; three uncoordinated ones three times that.
      const oneProcess = Math.ceil(elapsed / 4000) + 1;
      expect(stats.grants.refresh_token).toBeLessThanOrEqual(oneProcess);
      expect(stats.grants.refresh_token).toBeGreaterThanOrEqual(Math.floor(elapsed / 5000));

      // Sealed at rest: the raw record holds no token text, and opens only with the key.
      const connection = await connect('fleet-a:');
      const saved = await new RedisTokenStore(connection, SecretBox.fromEnvironment()).load(REPLICA_ACCOUNT);
      expect(saved?.refreshToken).toBeTruthy();
      expect(saved?.accessToken).toBeTruthy();
      const stored = JSON.stringify(await raw.hgetall(`fleet-a:tokens:${REPLICA_ACCOUNT}`));
      expect(stored).not.toContain(saved!.refreshToken!);
      expect(stored).not.toContain(saved!.accessToken!.slice(10, 40));
      await expect(new RedisTokenStore(connection, SecretBox.fromEnvironment({ [STATE_KEY_VARIABLE]: OTHER_KEY })).load(REPLICA_ACCOUNT)).rejects.toThrow(/does not open/);
      await expect(new RedisTokenStore(connection, undefined).load(REPLICA_ACCOUNT)).rejects.toThrow(/ONEDAV_STATE_KEY is not set/);
      const log = logger.lines.join('');
      expect(log).toContain('copied the sign-in from the token file into Redis');
      expect(log).not.toContain(saved!.refreshToken!.slice(10, 40));
      expect(log).not.toContain(saved!.accessToken!.slice(10, 40));
    } finally {
      await replicas.close();
    }
  }, MIXED_LOAD_MS + 90_000);

  it('fences a refresher whose lease ran out mid-refresh: the newer sign-in saved meanwhile is kept, and both use it', async () => {
    const connection = await connect('fleet-b:');
    const store = new RedisTokenStore(connection, SecretBox.fromEnvironment());
    await store.save(signedInRecord(emulator, DEMO_USER));
    const first = await store.load(REPLICA_ACCOUNT);
    const options = { leaseMs: 300, sharedPollMs: 20, retry: { attempts: 1 } };
    const slow = new TokenRefresher({ store, record: first!, ...options });
    const quick = new TokenRefresher({ store, record: first!, ...options });
    // The slow replica's token request is held for 4 s (a long pause), far past its 300 ms lease.
    emulator.faults.setPlan({ rules: [{ match: { category: 'identity', pathIncludes: '/token' }, action: { type: 'latency', ms: 4000 }, times: 1 }] });
    const slowResult = slow.refresh();
    const leaseKey = `fleet-b:tokens:${REPLICA_ACCOUNT}:refresh-lease`;
    for (let i = 0; i < 200 && (await raw.exists(leaseKey)) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 200 && (await raw.exists(leaseKey)) === 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await raw.exists(leaseKey)).toBe(0);
    const newer = await quick.refresh();
    const afterQuick = await store.load(REPLICA_ACCOUNT);
    expect(afterQuick?.accessToken).toBe(newer);

    const slowToken = await slowResult;
    const final = await store.load(REPLICA_ACCOUNT);
    // The stale refresher's own (older) request did not overwrite the newer record; it took that one.
    expect(final?.generation).toBe(afterQuick?.generation);
    expect(final?.refreshToken).toBe(afterQuick?.refreshToken);
    expect(slowToken).toBe(newer);
    expect(emulator.identity.stats().grants.refresh_token).toBe(2);
    slow.close();
    quick.close();
  });

  it('keeps using a valid access token while Redis is down, and answers a transient error (503) once it expires', async () => {
    const clock = new ManualClock(Date.now());
    const connection = await connect('fleet-d:');
    const store = new RedisTokenStore(connection, SecretBox.fromEnvironment());
    await store.save(signedInRecord(emulator, DEMO_USER));
    const tokens = new TokenRefresher({ store, record: (await store.load(REPLICA_ACCOUNT))!, clock, retry: { attempts: 2, baseDelayMs: 10 } });
    const token = await tokens.getAccessToken();
    tokens.close();
    await redis.kill();
    try {
      clock.advance(10 * 60_000);
      expect(await tokens.getAccessToken()).toBe(token);
      clock.advance(60 * 60_000);
      const failure = await tokens.getAccessToken().then(
        () => undefined,
        (err: unknown) => err as Error & { transient?: boolean },
      );
      expect(failure?.transient).toBe(true);
      expect(failure?.message).toMatch(/Shared state is unavailable/);
      expect(emulator.identity.stats().grants.refresh_token).toBe(1);
    } finally {
      await redis.start();
    }
  });

  it('onedav login and whoami with redis in the config: the sign-in goes to Redis, sealed, not to a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-redis-login-'));
    try {
      const file = join(dir, 'onedav.json');
      await writeFile(
        file,
        JSON.stringify({
          dataDir: join(dir, 'data'),
          redis: { url: redis.url, keyPrefix: 'fleet-e:' },
          accounts: { daemon: { cloud: 'emulator', tenant: 'contoso.onmicrosoft.com', clientId: WEB_APP_CLIENT_ID, flow: 'clientCredentials', user: 'megan@contoso.onmicrosoft.com' } },
        }),
      );
      const lines: string[] = [];
      const io: CliIo = { out: (t) => lines.push(t), err: (t) => lines.push(t), env: { ONEDAV_CLIENT_SECRET_DAEMON: WEB_APP_CLIENT_SECRET, [STATE_KEY_VARIABLE]: KEY } };
      expect(await runLogin(['--config', file, '--account', 'daemon', '--authority', emulator.url], io)).toBe(0);
      expect(await runWhoami(['--config', file, '--account', 'daemon'], io)).toBe(0);
      expect(lines.join('')).toContain('Redis key fleet-e:tokens:daemon');
      await expect(access(join(dir, 'data', 'accounts', 'daemon.json'))).rejects.toThrow();
      const saved = await new RedisTokenStore(await connect('fleet-e:'), SecretBox.fromEnvironment()).load('daemon');
      expect(saved?.accessToken).toBeTruthy();
      expect(JSON.stringify(await raw.hgetall('fleet-e:tokens:daemon'))).not.toContain(saved!.accessToken!.slice(10, 40));
      expect(lines.join('')).not.toContain(saved!.accessToken!.slice(10, 40));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('adds failed logins through two replicas into one budget: 429 after the limit whichever replica is hit', async () => {
    const password = await hashPassword('right-password');
    const replicas = await startAppReplicas(2, {
      emulator,
      upn: DEMO_USER,
      redisUrl: redis.url,
      keyPrefix: 'fleet-c:',
      raw: { anonymous: { enabled: false }, users: [{ name: 'alice', password }] },
      beforeStart: async (dirs) => new TokenStore(dirs[0]).save(signedInRecord(emulator, DEMO_USER)),
    });
    try {
      const propfind = (url: string, secret: string) =>
        fetch(`${url}/`, { method: 'PROPFIND', headers: { depth: '0', authorization: `Basic ${Buffer.from(`alice:${secret}`).toString('base64')}` } }).then(async (res) => {
          await res.arrayBuffer();
          return res;
        });
      expect((await propfind(replicas.urls[1], 'right-password')).status).toBe(207);
      // The default budget is 10 failures a minute per address: 5 through each replica.
      for (let i = 0; i < 10; i++) expect((await propfind(replicas.urls[i % 2], `guess-${i}`)).status).toBe(401);
      for (const url of replicas.urls) {
        const res = await propfind(url, 'right-password');
        expect(res.status).toBe(429);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    } finally {
      await replicas.close();
    }
  });
});

describe('check-config with redis', () => {
  it('refuses a Redis on another machine without ONEDAV_STATE_KEY, and warns about unsealed tokens on a loopback one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-redis-config-'));
    try {
      const file = join(dir, 'onedav.json');
      const config = (url: string) => JSON.stringify({ dataDir: join(dir, 'data'), anonymous: { enabled: true }, redis: { url } });
      await writeFile(file, config('redis://10.20.30.40:6379'));
      const remote = await checkConfig(file);
      expect(remote.code).toBe(3);
      expect(remote.stdout).toMatch(/problem: redis\.url redis:\/\/10\.20\.30\.40:6379.*ONEDAV_STATE_KEY is not set/);
      await writeFile(file, config('redis://127.0.0.1:1'));
      const loopback = await checkConfig(file);
      expect(loopback.stdout).toMatch(/warning: ONEDAV_STATE_KEY is not set: sign-ins are stored .* unsealed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The real CLI, without ONEDAV_STATE_KEY in its environment (bounded: 30 s). */
function checkConfig(file: string): Promise<{ code: number | null; stdout: string }> {
  const env = { ...process.env };
  delete env[STATE_KEY_VARIABLE];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, sourceCli('check-config', '--config', file), { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir(), env });
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`check-config did not finish:\n${stdout}`));
    }, 30_000);
    child.stdout.on('data', (c) => (stdout += c));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}
