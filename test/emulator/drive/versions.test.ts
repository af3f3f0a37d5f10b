import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { quickXorHash } from '../../../src/graph/quickxorhash.js';
import { ADELE, ALEX, bytes, call, expectStatus, startDrive, tokenFor } from './helpers.js';

const BUSINESS = 'b!contoso-adele';
const PERSONAL = '1a2b3c4d5e6f7a80';
const FRAG = 327_680;

/** Blob files on disk (the `tmp/` folder of uploads in progress aside). */
async function blobFiles(emu: RunningEmulator): Promise<string[]> {
  return (await readdir(join(emu.drive.storageDir, 'blobs'))).filter((n) => n !== 'tmp');
}

/** Follows a 302 to a download URL and returns the bytes. */
async function download(res: Response): Promise<Buffer> {
  expect(res.status).toBe(302);
  const body = await fetch(res.headers.get('location')!);
  expect(body.status).toBe(200);
  return Buffer.from(await body.arrayBuffer());
}

describe('file versions', () => {
  let emu: RunningEmulator;
  let adele: string;
  let alex: string;

  beforeAll(async () => {
    emu = await startDrive();
    adele = tokenFor(emu, ADELE);
    alex = tokenFor(emu, ALEX);
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.drive.reset());

  it('keeps every replaced content as a version: newest first, 1.0, 2.0, … on business drives', async () => {
    const put = (body: string) => expectStatus(call(emu, 'PUT', '/me/drive/root:/doc.txt:/content', { token: adele, body }), body === 'one' ? 201 : 200);
    const first = await put('one');
    await put('second');
    // The third content arrives through an upload session, as large files do.
    const third = bytes(FRAG + 5, 3);
    const session = await expectStatus(call(emu, 'POST', '/me/drive/root:/doc.txt:/createUploadSession', { token: adele, body: {} }), 200);
    const done = await fetch(session.uploadUrl, { method: 'PUT', headers: { 'content-range': `bytes 0-${third.length - 1}/${third.length}` }, body: new Uint8Array(third) });
    expect(done.status).toBe(200);

    const list = await expectStatus(call(emu, 'GET', `/me/drive/items/${first.id}/versions`, { token: adele }), 200);
    expect(list['@odata.context']).toMatch(/\/versions$/);
    expect(list.value.map((v: any) => [v.id, v.size])).toEqual([
      ['3.0', third.length],
      ['2.0', 6],
      ['1.0', 3],
    ]);
    for (const v of list.value) {
      expect(v.lastModifiedDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(v.lastModifiedBy.user.displayName).toBe('Adele Vance');
    }
    // The item itself is unchanged in identity: same id, the newest content.
    const item = await expectStatus(call(emu, 'GET', '/me/drive/root:/doc.txt', { token: adele }), 200);
    expect(item).toMatchObject({ id: first.id, size: third.length });
    expect(item.file.hashes.quickXorHash).toBe(quickXorHash(third));
    // …and by path too.
    const byPath = await expectStatus(call(emu, 'GET', '/me/drive/root:/doc.txt:/versions', { token: adele }), 200);
    expect(byPath.value).toHaveLength(3);
  });

  it('serves an earlier version by id and its bytes, but not the current version through the versions API', async () => {
    const { id } = await emu.drive.putFile(BUSINESS, 'v.txt', 'old bytes');
    await emu.drive.putFile(BUSINESS, 'v.txt', 'new bytes!');
    const one = await expectStatus(call(emu, 'GET', `/me/drive/items/${id}/versions/1.0`, { token: adele }), 200);
    expect(one).toMatchObject({ id: '1.0', size: 9 });
    expect(await fetch(one['@microsoft.graph.downloadUrl']).then((r) => r.text())).toBe('old bytes');
    expect((await download(await call(emu, 'GET', `/me/drive/items/${id}/versions/1.0/content`, { token: adele }))).toString()).toBe('old bytes');
    const current = await expectStatus(call(emu, 'GET', `/me/drive/items/${id}/versions/2.0/content`, { token: adele }), 400);
    expect(current.error.message).toMatch(/current version/);
    const missing = await expectStatus(call(emu, 'GET', `/me/drive/items/${id}/versions/9.0`, { token: adele }), 404);
    expect(missing.error.code).toBe('itemNotFound');
  });

  it('restoreVersion makes an earlier content current again as a new version and keeps the rest (204)', async () => {
    const { id } = await emu.drive.putFile(BUSINESS, 'r.txt', 'good');
    await emu.drive.putFile(BUSINESS, 'r.txt', 'bad!!');
    const before = await expectStatus(call(emu, 'GET', `/me/drive/items/${id}`, { token: adele }), 200);
    const res = await call(emu, 'POST', `/me/drive/items/${id}/versions/1.0/restoreVersion`, { token: adele });
    expect(res.status).toBe(204);
    expect((await emu.drive.readFile(BUSINESS, 'r.txt')).toString()).toBe('good');
    const after = await expectStatus(call(emu, 'GET', `/me/drive/items/${id}`, { token: adele }), 200);
    expect(after.id).toBe(id);
    expect(after.eTag).not.toBe(before.eTag);
    expect(after.cTag).not.toBe(before.cTag);
    expect(after.file.hashes.quickXorHash).toBe(quickXorHash(Buffer.from('good')));
    expect(emu.drive.versions(BUSINESS, 'r.txt').map((v) => [v.id, v.size, v.current])).toEqual([
      ['3.0', 4, true],
      ['2.0', 5, false],
      ['1.0', 4, false],
    ]);
    // Restoring the current version, an unknown one, or with a read-only token is refused.
    await expectStatus(call(emu, 'POST', `/me/drive/items/${id}/versions/3.0/restoreVersion`, { token: adele }), 400);
    await expectStatus(call(emu, 'POST', `/me/drive/items/${id}/versions/7.0/restoreVersion`, { token: adele }), 404);
    await expectStatus(call(emu, 'POST', `/me/drive/items/${id}/versions/1.0/restoreVersion`, { token: tokenFor(emu, ADELE, { scopes: ['Files.Read'] }) }), 403);
    await expectStatus(call(emu, 'GET', `/me/drive/items/${id}/versions/1.0/restoreVersion`, { token: adele }), 405);
  });

  it('personal drives call the current version "current" and keep at most 25 earlier ones', async () => {
    const { id } = await emu.drive.putFile(PERSONAL, 'p.txt', 'v1');
    await emu.drive.putFile(PERSONAL, 'p.txt', 'v2');
    const list = await expectStatus(call(emu, 'GET', `/me/drive/items/${encodeURIComponent(id)}/versions`, { token: alex }), 200);
    const ids = list.value.map((v: any) => v.id);
    expect(ids[0]).toBe('current');
    expect(ids).toHaveLength(2);
    expect(ids[1]).not.toBe('current');
    await expectStatus(call(emu, 'POST', `/me/drive/items/${encodeURIComponent(id)}/versions/${encodeURIComponent(ids[1])}/restoreVersion`, { token: alex }), 204);
    expect((await emu.drive.readFile(PERSONAL, 'p.txt')).toString()).toBe('v1');
    // An earlier version keeps its id when newer ones arrive.
    expect(emu.drive.versions(PERSONAL, 'p.txt').map((v) => v.id)).toContain(ids[1]);

    for (let n = 0; n < 30; n++) await emu.drive.putFile(PERSONAL, 'p.txt', `again ${n}`);
    const kept = emu.drive.versions(PERSONAL, 'p.txt');
    expect(kept).toHaveLength(26);
    expect(kept.filter((v) => v.current)).toHaveLength(1);
    // The blobs of trimmed versions are gone from disk: one per kept version (all contents differ).
    await expect.poll(async () => (await blobFiles(emu)).length).toBe(26);
  });

  it('folders have no versions', async () => {
    emu.drive.mkdir(BUSINESS, 'folder');
    await expectStatus(call(emu, 'GET', '/me/drive/root:/folder:/versions', { token: adele }), 400);
  });

  it('business drives count earlier versions against the quota; personal drives do not', async () => {
    await emu.drive.putFile(BUSINESS, 'q.bin', bytes(1000, 1));
    await emu.drive.putFile(BUSINESS, 'q.bin', bytes(1500, 2));
    const business = await expectStatus(call(emu, 'GET', '/me/drive', { token: adele }), 200);
    expect(business.quota.used).toBe(2500);

    // 1,000 bytes left: a replace of 1,200 bytes would free nothing (the old content stays as a version).
    emu.drive.setQuota(BUSINESS, 3500);
    const refused = await expectStatus(call(emu, 'PUT', '/me/drive/root:/q.bin:/content', { token: adele, body: new Uint8Array(bytes(1200, 3)) }), 507);
    expect(refused.error.code).toBe('quotaLimitReached');
    await expectStatus(call(emu, 'PUT', '/me/drive/root:/q.bin:/content', { token: adele, body: new Uint8Array(bytes(900, 4)) }), 200);

    await emu.drive.putFile(PERSONAL, 'q.bin', bytes(1000, 1));
    await emu.drive.putFile(PERSONAL, 'q.bin', bytes(1500, 2));
    const personal = await expectStatus(call(emu, 'GET', '/me/drive', { token: alex }), 200);
    expect(personal.quota.used).toBe(1500);
  });

  it('a copy starts a fresh history; a deleted file releases its versions', async () => {
    await emu.drive.putFile(BUSINESS, 'c.txt', 'one');
    await emu.drive.putFile(BUSINESS, 'c.txt', 'two');
    const res = await call(emu, 'POST', '/me/drive/root:/c.txt:/copy', { token: adele, body: { name: 'c-copy.txt' } });
    expect(res.status).toBe(202);
    await fetch(res.headers.get('location')!);
    expect(emu.drive.versions(BUSINESS, 'c-copy.txt').map((v) => v.id)).toEqual(['1.0']);
    await expect.poll(async () => (await blobFiles(emu)).length).toBe(2); // 'one' and 'two'; the copy shares 'two'
    await expectStatus(call(emu, 'DELETE', '/me/drive/root:/c.txt', { token: adele }), 204);
    await expectStatus(call(emu, 'DELETE', '/me/drive/root:/c-copy.txt', { token: adele }), 204);
    await expect.poll(async () => (await blobFiles(emu)).length).toBe(0);
  });

  it('a version download URL stops working once the version is gone', async () => {
    const { id } = await emu.drive.putFile(BUSINESS, 'gone.txt', 'first');
    await emu.drive.putFile(BUSINESS, 'gone.txt', 'second');
    const one = await expectStatus(call(emu, 'GET', `/me/drive/items/${id}/versions/1.0`, { token: adele }), 200);
    await expectStatus(call(emu, 'DELETE', `/me/drive/items/${id}`, { token: adele }), 204);
    expect((await fetch(one['@microsoft.graph.downloadUrl'])).status).toBe(404);
  });
});

describe('file versions across a restart', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'onedav-versions-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('keeps the versions, their bytes and their numbering', async () => {
    const first = await startDrive({ dataDir });
    const { id } = await first.drive.putFile(BUSINESS, 'p.txt', 'version one');
    await first.drive.putFile(BUSINESS, 'p.txt', 'version two');
    await first.close();

    const second = await startDrive({ dataDir });
    try {
      const token = tokenFor(second, ADELE);
      expect(second.drive.versions(BUSINESS, 'p.txt').map((v) => v.id)).toEqual(['2.0', '1.0']);
      expect((await download(await call(second, 'GET', `/me/drive/items/${id}/versions/1.0/content`, { token }))).toString()).toBe('version one');
      await second.drive.putFile(BUSINESS, 'p.txt', 'version three');
      expect(second.drive.versions(BUSINESS, 'p.txt').map((v) => v.id)).toEqual(['3.0', '2.0', '1.0']);
      expect(await blobFiles(second)).toHaveLength(3);
    } finally {
      await second.close();
    }
  });
});
