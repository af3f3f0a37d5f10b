import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { EMULATOR_ACCOUNTS, startConfiguredOneDav, type ConfiguredOneDav } from '../helpers/onedav.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { ADELE, basic } from '../helpers/stack.js';

/**
 * A full workload on onedav as `serve` builds it — a delegated and an app-only (client secret)
 * account, short-lived tokens that get refreshed, Basic users, Graph faults, an upload session, a
 * redirect, a hash mismatch, locks and properties — with the JSON logger at debug level keeping
 * every line. Then every secret that existed is looked for in the logs and in every response body
 * and header (but the redirect's Location, which is the pre-authenticated download URL by design).
 */
const ALICE_PASSWORD = 'correct horse battery staple';
const BOB_PASSWORD = 'b0b-$ecret-pw';
const WRONG_PASSWORD = 'hunter2-wrong-guess';
const FAST = { N: 1 << 10, r: 8, p: 1 };

describe('no token, secret or password leaks; private files stay private', () => {
  let onedav: ConfiguredOneDav;
  let emulator: RunningEmulator;
  let url: string;
  const log = recordingLogger('json', 'debug');
  const secrets = new Set<string>([ALICE_PASSWORD, BOB_PASSWORD, WRONG_PASSWORD, WEB_APP_CLIENT_SECRET]);
  const seen: string[] = [];
  let tokenWatch: NodeJS.Timeout | undefined;

  const dataDir = () => join(onedav.dir, 'data');
  async function collectSavedTokens(): Promise<void> {
    for (const name of await readdir(join(dataDir(), 'accounts')).catch(() => [] as string[])) {
      const record = JSON.parse(await readFile(join(dataDir(), 'accounts', name), 'utf8').catch(() => '{}')) as Record<string, unknown>;
      for (const key of ['accessToken', 'refreshToken']) if (typeof record[key] === 'string') secrets.add(record[key] as string);
    }
  }

  beforeAll(async () => {
    const users = [
      { name: 'alice', password: await hashPassword(ALICE_PASSWORD, FAST) },
      { name: 'bob', password: await hashPassword(BOB_PASSWORD, FAST), readOnly: true },
    ];
    for (const user of users) secrets.add(user.password);
    onedav = await startConfiguredOneDav(
      {
        accounts: EMULATOR_ACCOUNTS,
        mounts: [
          { path: '/me', account: 'adele' },
          { path: '/megan', account: 'daemon' },
        ],
        users,
        anonymous: { enabled: false },
        // The seeded fault dice below are aimed at this workload's own requests: no background polls drawing from them.
        cache: { deltaPollSeconds: 0 },
      },
      { signedIn: { adele: ADELE }, logger: log },
    );
    emulator = onedav.app.emulator!;
    url = onedav.app.url;
    // Every access token the emulator issues from now on; refresh tokens are read from the saved files.
    const authority = emulator.state.tokens;
    const issue = authority.issue.bind(authority);
    authority.issue = (...args: Parameters<typeof issue>) => {
      const issued = issue(...args);
      secrets.add(issued.token);
      return issued;
    };
    Object.assign(emulator.state.settings, { accessTokenLifetimeSec: 2, downloadUrlLifetimeSec: 1 });
    // The app-only account signed in at start, for an hour: make it take a short-lived token too.
    await onedav.app.accounts.get('daemon')!.refresh();
    await collectSavedTokens();
    tokenWatch = setInterval(() => void collectSavedTokens(), 100);
  });

  afterAll(async () => {
    if (tokenWatch) clearInterval(tokenWatch);
    await onedav?.close();
  });

  const alice = basic('alice', ALICE_PASSWORD);
  async function request(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string; auth?: string } = {}): Promise<Response> {
    const headers = { Authorization: init.auth ?? alice, ...init.headers };
    secrets.add(headers.Authorization.replace(/^Basic /, ''));
    const body = init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : new Uint8Array(init.body);
    const res = await fetch(`${url}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const shownHeaders = [...res.headers].filter(([name]) => !(res.status === 302 && name === 'location'));
    seen.push(`${method} ${path} → ${res.status} ${JSON.stringify(shownHeaders)}\n${text}`);
    return new Response(text, { status: res.status, headers: res.headers });
  }

  it('runs a workload that touches every secret', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 3, 7);
    expect((await request('GET', '/')).status).toBe(200); // HTML listing of the mounts
    expect((await request('MKCOL', '/me/work/')).status).toBe(201);
    expect((await request('PUT', '/me/work/a.txt', { body: 'alpha' })).status).toBe(201);
    expect((await request('PUT', '/me/work/big.bin', { body: big })).status).toBe(201);
    expect((await request('GET', '/me/work/')).status).toBe(200); // HTML listing
    expect((await request('GET', '/me/work/a.txt')).status).toBe(200); // proxied
    const redirect = await request('GET', '/me/work/a.txt', { headers: { 'User-Agent': 'rclone/v1.66.0' } });
    expect(redirect.status).toBe(302);
    secrets.add(new URL(redirect.headers.get('location')!).pathname.split('/')[2]); // the download URL's signed token
    expect((await request('GET', '/me/work/big.bin', { headers: { Range: 'bytes=10-20' } })).status).toBe(206);
    expect((await request('PROPFIND', '/me/work/', { headers: { Depth: '1' } })).status).toBe(207);
    expect((await request('PROPPATCH', '/me/work/a.txt', { body: '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:note>n</Z:note></D:prop></D:set></D:propertyupdate>' })).status).toBe(207);
    const locked = await request('LOCK', '/me/work/a.txt', { body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>' });
    expect(locked.status).toBe(200);
    expect((await request('COPY', '/me/work/a.txt', { headers: { Destination: `${url}/megan/a-copy.txt` } })).status).toBe(201);
    expect((await request('PUT', '/megan/report.txt', { body: 'app-only write' })).status).toBe(201);
    expect((await request('MOVE', '/me/work/big.bin', { headers: { Destination: `${url}/me/big-moved.bin` } })).status).toBe(201);

    // Failures: wrong passwords, a read-only user, missing things, Graph faults, a corrupted upload.
    expect((await request('GET', '/me/work/a.txt', { auth: basic('alice', WRONG_PASSWORD) })).status).toBe(401);
    expect((await request('GET', '/me/work/a.txt', { auth: basic('mallory', ALICE_PASSWORD) })).status).toBe(401);
    expect((await request('PUT', '/me/work/b.txt', { auth: basic('bob', BOB_PASSWORD), body: 'x' })).status).toBe(403);
    expect((await request('GET', '/me/nothing-here')).status).toBe(404);
    expect((await request('PUT', '/me/no/parent.txt', { body: 'x' })).status).toBe(409);
    emulator.drive.corruptNextUploads(1);
    expect((await request('PUT', '/me/work/corrupt.txt', { body: 'will be damaged' })).status).toBe(502);
    emulator.faults.setPlan({ rules: [{ match: { category: ['graph', 'upload', 'download'] }, action: { type: 'status', status: 503 }, times: 20 }] });
    expect((await request('PUT', '/me/work/c.txt', { body: 'throttled' })).status).toBe(503);
    emulator.faults.setPlan({ rules: [{ match: { category: ['graph', 'upload', 'download', 'identity'] }, action: { type: 'reset' }, probability: 0.3 }], seed: 5 });
    for (let i = 0; i < 6; i++) await request('PROPFIND', `/me/work/`, { headers: { Depth: '1' } });
    for (let i = 0; i < 3; i++) await request('PUT', `/me/work/r${i}.bin`, { body: big });
    emulator.faults.setPlan(null);

    // Long enough for both accounts to refresh their 2-second tokens at least once.
    const adele = onedav.app.accounts.get('adele')!;
    const daemon = onedav.app.accounts.get('daemon')!;
    for (let i = 0; i < 100 && (adele.refreshCount < 2 || daemon.refreshCount < 2); i++) {
      await request('PROPFIND', '/me/work/a.txt', { headers: { Depth: '0' } });
      await request('PROPFIND', '/megan/', { headers: { Depth: '0' } });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(adele.refreshCount).toBeGreaterThanOrEqual(2);
    expect(daemon.refreshCount).toBeGreaterThanOrEqual(2);
    expect((await request('GET', '/me/work/a.txt')).status).toBe(200); // the download URL expired meanwhile

    await collectSavedTokens();
    for (const log of emulator.drive.uploadFragments()) secrets.add(log.sessionId); // upload URLs are bearer capabilities too
    expect(log.lines.some((l) => l.includes('"level":"debug"'))).toBe(true);
    expect(log.lines.some((l) => /token refreshed/.test(l))).toBe(true);
  });

  it('finds none of them in any log line, error, listing or response header', () => {
    const haystacks = { logs: log.lines.join(''), responses: seen.join('\n') };
    const leaks: string[] = [];
    expect(secrets.size).toBeGreaterThan(10);
    for (const secret of secrets) {
      for (const [where, text] of Object.entries(haystacks)) {
        if (secret.length >= 6 && text.includes(secret)) leaks.push(`${where} contain ${secret.slice(0, 12)}… (${secret.length} chars)`);
      }
    }
    expect(leaks).toEqual([]);
    // Nothing shaped like a JWT or a bearer token either.
    expect(haystacks.logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(haystacks.logs).not.toMatch(/(Bearer|Basic) (?!\[redacted\])[A-Za-z0-9+/=._-]{8,}/);
    expect(haystacks.responses).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('keeps token, lock and property files private (0600, folders 0700)', async () => {
    const mode = async (path: string) => (await stat(path)).mode & 0o777;
    const accounts = join(dataDir(), 'accounts');
    const files = await readdir(accounts);
    expect(files.sort()).toEqual(['adele.json', 'daemon.json']);
    for (const file of files) expect(await mode(join(accounts, file)), file).toBe(0o600);
    expect(await mode(accounts)).toBe(0o700);
    for (const file of ['locks.json', 'properties.json']) expect(await mode(join(dataDir(), 'dav', file)), file).toBe(0o600);
    expect(await mode(join(dataDir(), 'dav'))).toBe(0o700);
  });
});
