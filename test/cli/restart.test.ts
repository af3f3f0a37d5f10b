import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorCloud } from '../../src/auth/clouds.js';
import { accountFromRefreshToken } from '../../src/auth/login.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { DEMO_CLIENT_ID, findUser } from '../../src/emulator/directory.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { sourceCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { ADELE } from '../helpers/stack.js';

/**
 * kill -9 of `onedav serve` in the middle of uploads and store writes, then a restart on the same
 * data folder. OneDrive (the emulator) runs in the test process and lives on, as the real one would.
 * After the crash: store files are whole JSON, the token file is readable (and the refresher gets
 * new tokens with it), locks and dead properties are still there, the interrupted upload left the
 * previous file as it was and no partial file anywhere, and no spool file is left behind.
 */
const MiB = 1024 * 1024;

function startServe(configPath: string): Promise<{ child: ChildProcess; url: string; output(): string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, sourceCli('serve', '--config', configPath), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let started = false;
    const timer = setTimeout(() => reject(new Error(`serve did not start within 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /WebDAV server listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (match && !started) {
        started = true;
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Starts a PUT and sends only part of its body; the socket stays open until the server dies. */
function partialPut(url: string, path: string, headers: Record<string, string>, first: Buffer): void {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname, () => {
    const head = [`PUT ${path} HTTP/1.1`, `Host: ${hostname}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
    socket.write(`${head}\r\n\r\n`);
    socket.write(first);
  });
  socket.on('error', () => {});
}

describe('kill -9 during uploads, then restart', () => {
  let dir: string;
  let dataDir: string;
  let configPath: string;
  let emulator: RunningEmulator;
  let driveId: string;
  let serve: { child: ChildProcess; url: string; output(): string };
  /** Upload session ids (the secret part of their URLs) the killed run left in its journal. */
  let journalled: string[] = [];
  let lockToken: string;
  const old = Buffer.alloc(6 * MiB, 0x11);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onedav-restart-'));
    dataDir = join(dir, 'data');
    emulator = await startEmulator({ port: 0, dataDir: join(dir, 'emulator'), admin: true, settings: { accessTokenLifetimeSec: 3 } });
    driveId = emulator.drive.driveIdOf(ADELE);
    const user = findUser(emulator.state.directory, ADELE)!;
    await new TokenStore(dataDir).save(
      accountFromRefreshToken({
        account: 'adele',
        cloud: emulatorCloud(emulator.url),
        tenant: user.tenantId,
        clientId: DEMO_CLIENT_ID,
        refreshToken: emulator.identity.issueRefreshToken({ upn: ADELE, clientId: DEMO_CLIENT_ID }),
        user: { upn: user.userPrincipalName, name: user.displayName, id: user.id },
      }),
    );
    configPath = join(dir, 'config.json');
    await writeFile(
      configPath,
      JSON.stringify({
        server: { port: 0 },
        accounts: { adele: { cloud: 'emulator', tenant: 'contoso.onmicrosoft.com', clientId: DEMO_CLIENT_ID } },
        mounts: [{ path: '/', account: 'adele' }],
        anonymous: { enabled: true, readOnly: false },
        dataDir,
      }),
    );
    serve = await startServe(configPath);
  });

  afterAll(async () => {
    if (serve) await killHard(serve.child);
    await emulator?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const request = (method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}) =>
    fetch(`${serve.url}${path}`, { method, headers: init.headers, body: typeof init.body === 'string' || init.body === undefined ? init.body : new Uint8Array(init.body), redirect: 'manual' });

  it('holds a lock, dead properties and a file before the crash', async () => {
    expect((await request('PUT', '/doc.bin', { body: old })).status).toBe(201);
    expect((await request('PUT', '/locked.txt', { body: 'locked' })).status).toBe(201);
    const locked = await request('LOCK', '/locked.txt', { body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>restart test</D:owner></D:lockinfo>', headers: { Timeout: 'Second-3600' } });
    expect(locked.status).toBe(200);
    lockToken = locked.headers.get('lock-token')!.replace(/[<>]/g, '');
    const patch = await request('PROPPATCH', '/doc.bin', { body: '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:restart"><D:set><D:prop><Z:color>blue</Z:color></D:prop></D:set></D:propertyupdate>' });
    expect(patch.status).toBe(207);
  });

  it('is killed with -9 while uploading (an upload session, a spooled chunked body) and writing its stores', async () => {
    const sessionsBefore = emulator.drive.uploadFragments().length;
    // A 30 MiB replacement of doc.bin: the first 10 MiB fragment reaches OneDrive, the rest never comes.
    partialPut(serve.url, '/doc.bin', { 'Content-Length': String(30 * MiB) }, Buffer.alloc(12 * MiB, 0x22));
    // A chunked upload over 4 MiB is spooled to the data folder before it goes to OneDrive.
    partialPut(serve.url, '/spooled.bin', { 'Transfer-Encoding': 'chunked' }, Buffer.concat([Buffer.from(`${(6 * MiB).toString(16)}\r\n`), Buffer.alloc(6 * MiB, 0x33)]));
    await eventually(() => emulator.drive.uploadFragments().slice(sessionsBefore).some((s) => s.fragments.length > 0), 'a fragment of the replacement reached OneDrive');
    await eventually(async () => (await readdir(join(dataDir, 'spool')).catch(() => [])).length > 0, 'the chunked body is being spooled');
    // Store writes in flight at the moment of the kill.
    const churn = Array.from({ length: 20 }, (_, i) =>
      request('PROPPATCH', '/locked.txt', { headers: { If: `(<${lockToken}>)` }, body: `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:restart"><D:set><D:prop><Z:n${i}>${'v'.repeat(2000)}</Z:n${i}></D:prop></D:set></D:propertyupdate>` }).catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 5));
    await killHard(serve.child);
    await Promise.all(churn);
    expect((await readdir(join(dataDir, 'spool'))).length).toBeGreaterThan(0); // what a restart must clean up
  });

  it('left whole store and token files behind, private', async () => {
    for (const file of [join(dataDir, 'dav', 'locks.json'), join(dataDir, 'dav', 'properties.json'), join(dataDir, 'accounts', 'adele.json')]) {
      const text = await readFile(file, 'utf8');
      expect(() => JSON.parse(text), file).not.toThrow();
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }
    const saved = JSON.parse(await readFile(join(dataDir, 'accounts', 'adele.json'), 'utf8')) as { refreshToken?: string };
    expect(saved.refreshToken).toMatch(/\S{20,}/);
    // The upload session the killed run had open is remembered (privately: its URL is a secret).
    const journal = join(dataDir, 'upload-sessions.json');
    expect((await stat(journal)).mode & 0o777).toBe(0o600);
    const { sessions } = JSON.parse(await readFile(journal, 'utf8')) as { sessions: Record<string, { uploadUrl: string }> };
    journalled = Object.values(sessions).map((s) => new URL(s.uploadUrl).pathname.split('/').pop()!);
    expect(journalled.length).toBeGreaterThan(0);
    expect(emulator.drive.openUploadSessions()).toBeGreaterThan(0);
  });

  it('after a restart: the lock and the properties are back, tokens refresh, the old file is intact, nothing partial, no spool left', async () => {
    const grantsBefore = emulator.identity.stats().grants.refresh_token;
    serve = await startServe(configPath);

    // The lock survived: writing without its token is refused, with it allowed.
    expect((await request('PUT', '/locked.txt', { body: 'no token' })).status).toBe(423);
    expect((await request('PUT', '/locked.txt', { body: 'with token', headers: { If: `(<${lockToken}>)` } })).status).toBe(204);
    const props = parseMultistatus(await (await request('PROPFIND', '/doc.bin', { headers: { Depth: '0' }, body: '<D:propfind xmlns:D="DAV:" xmlns:Z="urn:restart"><D:prop><Z:color/><D:lockdiscovery/></D:prop></D:propfind>' })).text());
    expect(props[0].props['{urn:restart}color']).toBe('blue');

    // The interrupted replacement changed nothing, and left no file of its own.
    expect((await emulator.drive.readFile(driveId, 'doc.bin')).equals(old)).toBe(true);
    const paths = emulator.drive.listPaths(driveId);
    expect(paths.filter((p) => !['/doc.bin', '/locked.txt'].includes(p))).toEqual([]);

    // Tokens: the saved refresh token still works; the 3 s access tokens get renewed with it.
    for (let i = 0; i < 100 && emulator.identity.stats().grants.refresh_token <= grantsBefore; i++) {
      expect((await request('PROPFIND', '/', { headers: { Depth: '1' } })).status).toBe(207);
      await new Promise((r) => setTimeout(r, 100));
    }
    const get = await request('GET', '/doc.bin', { headers: { Range: 'bytes=0-3' } });
    expect(get.status).toBe(206);
    expect(emulator.identity.stats().grants.refresh_token).toBeGreaterThan(grantsBefore);

    // The spool file of the killed chunked upload is gone.
    expect(await readdir(join(dataDir, 'spool'))).toEqual([]);
  });

  it('after a restart the killed upload\'s session is cancelled: the next PUT of that file succeeds at once (OneDrive for Business allows one per file)', async () => {
    expect(emulator.drive.openUploadSessions()).toBe(0);
    const next = Buffer.alloc(6 * MiB, 0x44);
    const res = await request('PUT', '/doc.bin', { body: next });
    expect(res.status, await res.text()).toBe(204);
    expect((await emulator.drive.readFile(driveId, 'doc.bin')).equals(next)).toBe(true);
    expect(emulator.drive.openUploadSessions()).toBe(0);
    expect(JSON.parse(await readFile(join(dataDir, 'upload-sessions.json'), 'utf8'))).toEqual({ sessions: {} });
    // Upload URLs carry their own authorization: they never reach the log.
    for (const id of journalled) expect(serve.output()).not.toContain(id);
  });
});
