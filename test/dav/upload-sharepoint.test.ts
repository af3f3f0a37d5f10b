import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENRICHMENT_TRAILER } from '../../src/emulator/drive/enrichment.js';
import { quickXorHash } from '../../src/graph/quickxorhash.js';
import { eventually } from '../helpers/eventually.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { ADELE, dav, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * Uploads where OneDrive for Business and SharePoint fail differently from personal OneDrive
 * (src/emulator/drive/profile.ts): files the service rewrites, one upload session per file, commits
 * refused at the last fragment, and 404s on a live session. What the WebDAV client sees, and that
 * nobody's file is deleted or replaced on the way.
 */
const MiB = 1024 * 1024;
const ALEX = 'alex@outlook.com';
const TEAM_SITE = 'contoso.sharepoint.com,2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d,3b4c5d6e-7f8a-4b9c-8d0e-2f3a4b5c6d7e';

/**
 * A PUT whose body is sent in two parts: `first`, then (after `between` ran) `rest`. Resolves with
 * the WebDAV answer.
 */
function putInTwoParts(url: string, path: string, headers: Record<string, string>, first: Buffer, rest: Buffer, between: () => Promise<void>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ host: hostname, port, method: 'PUT', path, headers: { 'Content-Length': String(first.length + rest.length), ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write(first);
    between().then(
      () => req.end(rest),
      (err) => {
        req.destroy();
        reject(err);
      },
    );
  });
}

describe('files SharePoint rewrites on commit', () => {
  let stack: DavStack;
  const logger = recordingLogger();

  beforeAll(async () => {
    stack = await startDavStack({
      mounts: [{ prefix: '/adele' }, { prefix: '/team', site: TEAM_SITE }, { prefix: '/alex', user: ALEX }],
      drive: { logger },
    });
  });
  afterAll(() => stack.close());

  const cases = [
    { kind: 'business', mount: 0, prefix: '/adele', name: 'report.docx', size: 300_000 },
    { kind: 'business, upload session', mount: 0, prefix: '/adele', name: 'Slides.PPTX', size: 6 * MiB + 3 },
    { kind: 'documentLibrary', mount: 1, prefix: '/team', name: 'budget.xlsx', size: 200_000 },
    { kind: 'documentLibrary, upload session', mount: 1, prefix: '/team', name: 'scan.pdf', size: 5 * MiB },
  ];
  for (const c of cases) {
    it(`${c.kind}: a save of ${c.name} succeeds, the rewritten file is kept (one version), and the difference is logged at info`, async () => {
      const sent = randomBytes(c.size);
      const stored = Buffer.concat([sent, ENRICHMENT_TRAILER]);
      const res = await dav(stack, 'PUT', `${c.prefix}/${c.name}`, { body: sent });
      expect(res.status, await res.text()).toBe(201);
      const drive = stack.driveIds[c.mount];
      expect((await stack.emulator.drive.readFile(drive, c.name)).equals(stored)).toBe(true);
      expect(stack.emulator.drive.versions(drive, c.name)).toHaveLength(1);
      const got = Buffer.from(await (await fetch(`${stack.url}${c.prefix}/${c.name}`)).arrayBuffer());
      expect(got.equals(stored)).toBe(true);
      const line = logger.records().find((r) => r.name === c.name);
      expect(line).toMatchObject({ level: 'info', sentQuickXorHash: quickXorHash(sent), storedQuickXorHash: quickXorHash(stored), sentBytes: sent.length, storedBytes: stored.length });
      expect(stack.emulator.drive.openUploadSessions()).toBe(0);
    });
  }

  it('business: an overwrite of a .docx keeps the rewritten new content (nothing restored)', async () => {
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'memo.docx', 'the old memo');
    const sent = randomBytes(50_000);
    const res = await dav(stack, 'PUT', '/adele/memo.docx', { body: sent });
    expect(res.status).toBe(204);
    expect((await stack.emulator.drive.readFile(drive, 'memo.docx')).equals(Buffer.concat([sent, ENRICHMENT_TRAILER]))).toBe(true);
    expect(stack.emulator.drive.versions(drive, 'memo.docx')).toHaveLength(2);
  });

  it('business: real corruption of a type SharePoint does not rewrite is still a 502, and the new file is removed', async () => {
    stack.emulator.drive.corruptNextUploads(1);
    const res = await dav(stack, 'PUT', '/adele/data.bin', { body: randomBytes(6 * MiB) });
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/hash mismatch.*the new file was deleted/is);
    expect(stack.emulator.drive.stat(stack.driveIds[0], 'data.bin')).toBeUndefined();
  });

  it('personal: a .docx is stored as sent, so a damaged one is corruption (502, the old version restored)', async () => {
    const drive = stack.driveIds[2];
    const old = randomBytes(1000);
    expect((await dav(stack, 'PUT', '/alex/letter.docx', { body: old })).status).toBe(201);
    expect((await stack.emulator.drive.readFile(drive, 'letter.docx')).equals(old)).toBe(true);
    stack.emulator.drive.corruptNextUploads(1);
    const res = await dav(stack, 'PUT', '/alex/letter.docx', { body: randomBytes(2000) });
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/the previous version was restored/);
    expect((await stack.emulator.drive.readFile(drive, 'letter.docx')).equals(old)).toBe(true);
  });
});

describe('one upload session per file (OneDrive for Business)', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack({ mounts: [{ prefix: '/' }, { prefix: '/alex', user: ALEX }], drive: { client: { retry: { baseDelayMs: 5, maxDelayMs: 20 } } } });
    drive = stack.driveIds[0];
  });
  afterEach(() => stack.emulator.faults.setPlan(null));
  afterAll(() => stack.close());

  it('two PUTs of the same large file at once both succeed, one after the other, and leave one of the two bodies', async () => {
    const a = Buffer.alloc(6 * MiB, 0xaa);
    const b = Buffer.alloc(6 * MiB + 1, 0xbb);
    const [ra, rb] = await Promise.all([dav(stack, 'PUT', '/twice.bin', { body: a }), dav(stack, 'PUT', '/TWICE.bin', { body: b })]);
    // Both looked before either wrote, so both may say "created"; neither fails against the other's session.
    for (const res of [ra, rb]) expect([201, 204], await res.text()).toContain(res.status);
    const stored = await stack.emulator.drive.readFile(drive, 'twice.bin');
    expect(stored.equals(a) || stored.equals(b)).toBe(true);
    expect(stack.emulator.drive.versions(drive, 'twice.bin')).toHaveLength(2);
    expect(stack.emulator.drive.openUploadSessions()).toBe(0);
  });

  it('a session onedav cannot get (its first createUploadSession answer was lost) is a 503 with Retry-After that says why, not "a folder exists"', async () => {
    await stack.emulator.drive.putFile(drive, 'held.bin', 'kept as it was');
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST', pathIncludes: 'createUploadSession' }, action: { type: 'resetAfter' }, times: 1 }] });
    const res = await dav(stack, 'PUT', '/held.bin', { body: randomBytes(5 * MiB) });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.text()).toMatch(/already has an open upload session for this file/);
    expect((await stack.emulator.drive.readFile(drive, 'held.bin')).toString()).toBe('kept as it was');
  });

  it('personal OneDrive: the same lost answer costs nothing, the PUT succeeds', async () => {
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST', pathIncludes: 'createUploadSession' }, action: { type: 'resetAfter' }, times: 1 }] });
    const body = randomBytes(5 * MiB);
    const res = await dav(stack, 'PUT', '/alex/held.bin', { body });
    expect(res.status).toBe(201);
    expect((await stack.emulator.drive.readFile(stack.driveIds[1], 'held.bin')).equals(body)).toBe(true);
  });
});

describe('a commit refused at the last fragment (the session is kept by OneDrive)', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
  });
  afterAll(() => stack.close());

  /** Sends 20 MiB, waits until two 10 MiB fragments are in the session, runs `meanwhile`, sends the rest. */
  function putWithPause(path: string, headers: Record<string, string>, meanwhile: () => Promise<void> | void) {
    const before = stack.emulator.drive.uploadFragments().length;
    const body = randomBytes(25 * MiB);
    return putInTwoParts(stack.url, path, headers, body.subarray(0, 20 * MiB), body.subarray(20 * MiB), async () => {
      await eventually(() => (stack.emulator.drive.uploadFragments().slice(before)[0]?.fragments.length ?? 0) >= 2, 'two fragments in the session');
      await meanwhile();
    });
  }

  it('quota exceeded at commit: 507 Insufficient Storage, the user\'s file untouched, no session left', async () => {
    const old = randomBytes(MiB);
    await stack.emulator.drive.putFile(drive, 'quota.bin', old);
    const res = await putWithPause('/quota.bin', {}, async () => {
      const { used } = await stack.drives[0].quota();
      stack.emulator.drive.setQuota(drive, used + 2 * MiB);
    });
    expect(res.status, res.body).toBe(507);
    expect((await stack.emulator.drive.readFile(drive, 'quota.bin')).equals(old)).toBe(true);
    expect(stack.emulator.drive.versions(drive, 'quota.bin')).toHaveLength(1);
    expect(stack.emulator.drive.openUploadSessions()).toBe(0);
    stack.emulator.drive.setQuota(drive, 1024 ** 4);
  });

  it('If-None-Match: * and another client creates the file meanwhile: 412, their file untouched, no session left', async () => {
    const res = await putWithPause('/race.bin', { 'If-None-Match': '*' }, () => stack.emulator.drive.putFile(drive, 'race.bin', 'theirs').then(() => undefined));
    expect(res.status, res.body).toBe(412);
    expect((await stack.emulator.drive.readFile(drive, 'race.bin')).toString()).toBe('theirs');
    expect(stack.emulator.drive.versions(drive, 'race.bin')).toHaveLength(1);
    expect(stack.emulator.drive.openUploadSessions()).toBe(0);
  });
});

describe('404s on a live upload session (SharePoint eventual consistency)', () => {
  let stack: DavStack;
  let drive: string;
  const sleeps: number[] = [];

  beforeAll(async () => {
    stack = await startDavStack({ drive: { sleep: async (ms: number) => void sleeps.push(ms) } });
    drive = stack.driveIds[0];
  });
  afterEach(() => {
    stack.emulator.faults.setPlan(null);
    sleeps.length = 0;
  });
  afterAll(() => stack.close());

  it('are waited out: the PUT succeeds with the right bytes', async () => {
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'upload' }, action: { type: 'status', status: 404 }, times: 3 }] });
    const body = randomBytes(12 * MiB);
    const res = await dav(stack, 'PUT', '/eventually.bin', { body });
    expect(res.status).toBe(201);
    expect((await stack.emulator.drive.readFile(drive, 'eventually.bin')).equals(body)).toBe(true);
    expect(sleeps.length).toBeGreaterThan(0);
  });

  it('a session that is really gone: a clear 502 after the retries, the old file intact', async () => {
    await stack.emulator.drive.putFile(drive, 'gone.bin', 'the old file');
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'upload' }, action: { type: 'status', status: 404 } }] });
    const res = await dav(stack, 'PUT', '/gone.bin', { body: randomBytes(6 * MiB) });
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/lost the upload session; the previous file is unchanged/);
    expect(sleeps).toEqual([1000, 2000, 4000, 8000]);
    expect((await stack.emulator.drive.readFile(drive, 'gone.bin')).toString()).toBe('the old file');
  });
});
