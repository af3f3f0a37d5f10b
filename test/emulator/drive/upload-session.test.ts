import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { quickXorHash } from '../../../src/graph/quickxorhash.js';
import { ManualClock } from '../../../src/util/clock.js';
import { ADELE, bytes, call, expectStatus, json, startDrive, tokenFor } from './helpers.js';

const FRAG = 327_680;
const DRIVE = 'b!contoso-adele';

let emu: RunningEmulator;
let token: string;
let clock: ManualClock;

beforeAll(async () => {
  clock = new ManualClock(Date.parse('2024-05-01T10:00:00Z'));
  emu = await startDrive({ clock });
  token = tokenFor(emu, ADELE);
});
afterAll(async () => emu.close());

async function session(path: string, item: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<string> {
  const body = await expectStatus(call(emu, 'POST', `/me/drive/root:/${path}:/createUploadSession`, { token, body: { item }, headers }), 200);
  expect(body.nextExpectedRanges).toEqual(['0-']);
  expect(body.uploadUrl.startsWith(`${emu.url}/up/`)).toBe(true);
  expect(Date.parse(body.expirationDateTime)).toBeGreaterThan(clock.now());
  return body.uploadUrl;
}

function put(url: string, data: Buffer, start: number, total: number, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'PUT',
    headers: { 'content-range': `bytes ${start}-${start + data.length - 1}/${total}`, ...headers },
    body: data as unknown as BodyInit,
  });
}

/** Uploads `content` in fragments of `fragment` bytes; returns the final response body. */
async function uploadAll(url: string, content: Buffer, fragment: number): Promise<{ status: number; body: any }> {
  let last: Response | undefined;
  for (let start = 0; start < content.length; start += fragment) {
    last = await put(url, content.subarray(start, start + fragment), start, content.length);
    if (start + fragment < content.length) expect(last.status).toBe(202);
  }
  return { status: last!.status, body: await json(last!) };
}

describe('upload sessions', () => {
  it('takes aligned fragments, answers 202 then 201 with the driveItem, and logs fragment sizes', async () => {
    const content = bytes(FRAG * 3 + 1234, 11);
    const url = await session('Big/file.bin');
    const first = await put(url, content.subarray(0, FRAG * 2), 0, content.length);
    expect(first.status).toBe(202);
    expect(await json(first)).toMatchObject({ nextExpectedRanges: [`${FRAG * 2}-${content.length - 1}`] });
    const status = await expectStatus(fetch(url), 200);
    expect(status.nextExpectedRanges).toEqual([`${FRAG * 2}-${content.length - 1}`]);
    const last = await put(url, content.subarray(FRAG * 2), FRAG * 2, content.length);
    expect(last.status).toBe(201);
    const item = await json(last);
    expect(item).toMatchObject({ name: 'file.bin', size: content.length, file: { hashes: { quickXorHash: quickXorHash(content) } } });
    expect(item.parentReference.path).toBe('/drive/root:/Big');
    expect((await emu.drive.readFile(DRIVE, 'Big/file.bin')).equals(content)).toBe(true);
    const log = emu.drive.uploadFragments().find((l) => l.sessionId === url.split('/up/')[1])!;
    expect(log).toMatchObject({ name: 'file.bin', outcome: 'committed', fragments: [FRAG * 2, FRAG + 1234] });
    expect((await fetch(url)).status).toBe(404);
  });

  it('refuses an Authorization header on the upload URL', async () => {
    const url = await session('auth.bin');
    const res = await put(url, bytes(10), 0, 10, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect((await fetch(url)).status).toBe(200);
  });

  it('refuses unaligned fragments, Content-Range/Content-Length mismatches and total mismatches', async () => {
    const url = await session('rules.bin');
    const unaligned = await put(url, bytes(FRAG + 1), 0, FRAG * 4);
    expect(unaligned.status).toBe(400);
    expect((await json(unaligned)).error.message).toMatch(/multiple of 320 KiB/);
    const mismatch = await fetch(url, { method: 'PUT', headers: { 'content-range': `bytes 0-${FRAG - 1}/${FRAG * 4}` }, body: bytes(FRAG - 10) as unknown as BodyInit });
    expect(mismatch.status).toBe(400);
    expect((await json(mismatch)).error.message).toBe('The Content-Range header length does not match the provided number of bytes.');
    const missing = await fetch(url, { method: 'PUT', body: bytes(10) as unknown as BodyInit });
    expect(missing.status).toBe(400);
    expect((await put(url, bytes(FRAG), 0, FRAG * 4)).status).toBe(202);
    const total = await put(url, bytes(FRAG), FRAG, FRAG * 5);
    expect(total.status).toBe(400);
    const err = (await json(total)).error;
    expect(err.message).toBe(`The current upload session is for ${FRAG * 4} total bytes, but the current fragment declares a total of ${FRAG * 5}.`);
    expect(err.innerError.code).toBe('fragmentLengthMismatch');
    const past = await put(url, bytes(FRAG), FRAG * 4, FRAG * 4);
    expect(past.status).toBe(400);
  });

  it('refuses fragments over 60 MiB with 413', async () => {
    const url = await session('huge.bin');
    const size = 60 * 1024 * 1024 + FRAG;
    const res = await put(url, Buffer.alloc(size), 0, size * 2);
    expect(res.status).toBe(413);
    expect((await json(res)).error.innerError.code).toBe('maxFragmentLengthExceeded');
    expect((await expectStatus(fetch(url), 200)).nextExpectedRanges).toEqual(['0-']);
  });

  it('accepts out-of-order fragments and refuses overlaps with 416 invalidRange', async () => {
    const content = bytes(FRAG * 3, 5);
    const url = await session('order.bin');
    const second = await put(url, content.subarray(FRAG, FRAG * 2), FRAG, content.length);
    expect(second.status).toBe(202);
    expect((await json(second)).nextExpectedRanges).toEqual([`0-${FRAG - 1}`, `${FRAG * 2}-${FRAG * 3 - 1}`]);
    const overlap = await put(url, content.subarray(FRAG, FRAG * 2), FRAG, content.length);
    expect(overlap.status).toBe(416);
    const err = (await json(overlap)).error;
    expect(err).toMatchObject({ code: 'invalidRange', message: 'Uploaded fragment overlaps with existing data.' });
    expect(err.innerError.code).toBe('fragmentOverlap');
    expect((await put(url, content.subarray(FRAG * 2), FRAG * 2, content.length)).status).toBe(202);
    const done = await put(url, content.subarray(0, FRAG), 0, content.length);
    expect(done.status).toBe(201);
    expect((await emu.drive.readFile(DRIVE, 'order.bin')).equals(content)).toBe(true);
  });

  it('cancels with DELETE (204) and the session is gone', async () => {
    await emu.drive.putFile(DRIVE, 'cancel.bin', 'original');
    const url = await session('cancel.bin');
    expect((await put(url, bytes(FRAG), 0, FRAG * 2)).status).toBe(202);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(204);
    const after = await put(url, bytes(FRAG), FRAG, FRAG * 2);
    expect(after.status).toBe(404);
    expect((await json(after)).error.code).toBe('itemNotFound');
    expect((await emu.drive.readFile(DRIVE, 'cancel.bin')).toString()).toBe('original');
  });

  it('expires idle sessions (404 itemNotFound), each fragment extending the lifetime', async () => {
    emu.state.settings.uploadSessionLifetimeSec = 60;
    try {
      const url = await session('expiry.bin');
      clock.advance(45_000);
      expect((await put(url, bytes(FRAG), 0, FRAG * 3)).status).toBe(202);
      clock.advance(45_000);
      expect((await put(url, bytes(FRAG), FRAG, FRAG * 3)).status).toBe(202);
      clock.advance(61_000);
      const late = await put(url, bytes(FRAG), FRAG * 2, FRAG * 3);
      expect(late.status).toBe(404);
      expect((await json(late)).error.code).toBe('itemNotFound');
      await expectStatus(call(emu, 'GET', '/me/drive/root:/expiry.bin', { token }), 404);
    } finally {
      emu.state.settings.uploadSessionLifetimeSec = 900;
    }
  });

  it('applies conflictBehavior at commit: fail, rename, replace; failures leave the file alone', async () => {
    const original = await emu.drive.putFile(DRIVE, 'Conflict/doc.txt', 'original');
    const failUrl = await session('Conflict/doc.txt', { '@microsoft.graph.conflictBehavior': 'fail' });
    const fail = await put(failUrl, Buffer.from('new content'), 0, 11);
    expect(fail.status).toBe(409);
    expect((await json(fail)).error.code).toBe('nameAlreadyExists');
    expect((await emu.drive.readFile(DRIVE, 'Conflict/doc.txt')).toString()).toBe('original');
    // The refused commit keeps the session until it expires (or is cancelled), with all its bytes.
    expect((await expectStatus(fetch(failUrl), 200)).nextExpectedRanges).toEqual([]);
    expect((await fetch(failUrl, { method: 'DELETE' })).status).toBe(204);

    const renameUrl = await session('Conflict/doc.txt', { '@microsoft.graph.conflictBehavior': 'rename' });
    const renamed = await put(renameUrl, Buffer.from('renamed'), 0, 7);
    expect(renamed.status).toBe(201);
    expect((await json(renamed)).name).toBe('doc 1.txt');

    const replaceUrl = await session('Conflict/doc.txt', { '@microsoft.graph.conflictBehavior': 'replace', fileSystemInfo: { lastModifiedDateTime: '2020-01-02T03:04:05Z' } });
    const replaced = await put(replaceUrl, Buffer.from('replaced'), 0, 8);
    expect(replaced.status).toBe(200);
    const item = await json(replaced);
    expect(item.id).toBe(original.id);
    expect(item.fileSystemInfo.lastModifiedDateTime).toBe('2020-01-02T03:04:05Z');
    expect((await emu.drive.readFile(DRIVE, 'Conflict/doc.txt')).toString()).toBe('replaced');
  });

  it('checks If-Match at creation and at commit', async () => {
    const file = await expectStatus(call(emu, 'PUT', '/me/drive/root:/ifm.txt:/content', { token, body: 'v1' }), 201);
    await expectStatus(call(emu, 'POST', '/me/drive/root:/ifm.txt:/createUploadSession', { token, body: {}, headers: { 'if-match': '"{00000000-0000-0000-0000-000000000000},1"' } }), 412);
    const url = await session('ifm.txt', {}, { 'if-match': file.eTag });
    await expectStatus(call(emu, 'PUT', '/me/drive/root:/ifm.txt:/content', { token, body: 'v2 meanwhile' }), 200);
    const res = await put(url, Buffer.from('v3'), 0, 2);
    expect(res.status).toBe(412);
    expect((await emu.drive.readFile(DRIVE, 'ifm.txt')).toString()).toBe('v2 meanwhile');
  });

  it('updates an existing file by id (200)', async () => {
    const seeded = await emu.drive.putFile(DRIVE, 'byid.bin', 'old');
    const body = await expectStatus(call(emu, 'POST', `/me/drive/items/${seeded.id}/createUploadSession`, { token, body: {} }), 200);
    const res = await put(body.uploadUrl, Buffer.from('new!'), 0, 4);
    expect(res.status).toBe(200);
    expect((await json(res)).id).toBe(seeded.id);
  });

  it('keeps a session consistent when the connection resets mid-fragment', async () => {
    const content = bytes(FRAG * 2, 9);
    const url = await session('reset.bin');
    await new Promise<void>((resolve) => {
      const req = httpRequest(url, { method: 'PUT', headers: { 'content-range': `bytes 0-${FRAG - 1}/${content.length}`, 'content-length': FRAG } });
      req.on('error', () => resolve());
      req.write(content.subarray(0, FRAG / 2), () => setTimeout(() => {
        req.destroy();
        resolve();
      }, 50));
    });
    for (let i = 0; i < 200 && emu.drive.fragmentsInFlight() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(emu.drive.fragmentsInFlight()).toBe(0);
    const status = await expectStatus(fetch(url), 200);
    expect(status.nextExpectedRanges).toEqual([`0-${content.length - 1}`]);
    const done = await uploadAll(url, content, FRAG);
    expect(done.status).toBe(201);
    expect((await emu.drive.readFile(DRIVE, 'reset.bin')).equals(content)).toBe(true);
  });

  it('corrupts the next upload on request, so the reported hash differs from the sent bytes', async () => {
    const content = bytes(FRAG + 100, 21);
    emu.drive.corruptNextUploads(1);
    const url = await session('corrupt.bin');
    const { body } = await uploadAll(url, content, FRAG);
    expect(body.file.hashes.quickXorHash).not.toBe(quickXorHash(content));
    const stored = await emu.drive.readFile(DRIVE, 'corrupt.bin');
    expect(body.file.hashes.quickXorHash).toBe(quickXorHash(stored));
    expect(stored.subarray(1).equals(content.subarray(1))).toBe(true);
    const clean = await expectStatus(call(emu, 'PUT', '/me/drive/root:/clean.bin:/content', { token, body: content }), 201);
    expect(clean.file.hashes.quickXorHash).toBe(quickXorHash(content));
  });

  it('reports quota exhaustion with 507 quotaLimitReached', async () => {
    const drive = 'b!contoso-megan';
    const megan = tokenFor(emu, 'megan@contoso.onmicrosoft.com');
    emu.drive.setQuota(drive, FRAG * 2);
    const body = await expectStatus(call(emu, 'POST', '/me/drive/root:/q.bin:/createUploadSession', { token: megan, body: {} }), 200);
    const res = await put(body.uploadUrl, bytes(FRAG), 0, FRAG * 3);
    expect(res.status).toBe(507);
    expect((await json(res)).error.code).toBe('quotaLimitReached');
    await expectStatus(call(emu, 'PUT', '/me/drive/root:/fits.bin:/content', { token: megan, body: bytes(FRAG) }), 201);
    const over = await expectStatus(call(emu, 'PUT', '/me/drive/root:/over.bin:/content', { token: megan, body: bytes(FRAG + 1) }), 507);
    expect(over.error.code).toBe('quotaLimitReached');
    const drv = await expectStatus(call(emu, 'GET', '/me/drive', { token: megan }), 200);
    expect(drv.quota).toMatchObject({ total: FRAG * 2, used: FRAG, remaining: FRAG });
  });
});
