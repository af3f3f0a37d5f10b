import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { ADELE, LEI, call, expectStatus, json, startDrive, tokenFor } from './helpers.js';

/**
 * 21Vianet (the fabrikam tenant) serves no path addressing and no delta; the global cloud (contoso)
 * serves both. Both serve the id-based `children('{name}')` / `children('@a1')` forms.
 */
let emu: RunningEmulator;
let lei: string;
let adele: string;
let leiRoot: string;
let leiDocs: string;
let adeleRoot: string;
const LEI_DRIVE = '/drives/b!fabrikam-lei';

beforeAll(async () => {
  emu = await startDrive();
  lei = tokenFor(emu, LEI);
  adele = tokenFor(emu, ADELE);
  leiRoot = (await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/root`, { token: lei }), 200)).id;
  adeleRoot = (await expectStatus(call(emu, 'GET', '/me/drive/root', { token: adele }), 200)).id;
  leiDocs = (await expectStatus(call(emu, 'POST', `${LEI_DRIVE}/items/${leiRoot}/children`, { token: lei, body: { name: 'Docs', folder: {} } }), 201)).id;
  await expectStatus(call(emu, 'PUT', `${LEI_DRIVE}/items/${leiDocs}/children('a.txt')/content`, { token: lei, body: 'alpha' }), 201);
  await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token: adele, body: { name: 'Docs', folder: {} } }), 201);
  await expectStatus(call(emu, 'PUT', '/me/drive/root:/Docs/a.txt:/content', { token: adele, body: 'alpha' }), 201);
});
afterAll(async () => emu.close());

describe('path addressing in 21Vianet', () => {
  it('answers a GET by path with the item it was based on, whatever the path says (rclone/rclone#3973)', async () => {
    const byRoot = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/root:/ObviouslyNotExist:`, { token: lei }), 200);
    expect(byRoot.id).toBe(leiRoot);
    const byItem = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiDocs}:/a.txt:`, { token: lei }), 200);
    expect(byItem.id).toBe(leiDocs);
    expect(byItem.folder).toBeDefined();
    const listing = await expectStatus(call(emu, 'GET', `/me/drive/root:/Docs:/children`, { token: lei }), 200);
    expect(listing.value.map((i: { name: string }) => i.name)).toEqual(['Docs']);
  });

  it('refuses an upload by path onto a folder with 501 notSupported (microsoft-graph-docs#12238)', async () => {
    const res = await call(emu, 'PUT', `${LEI_DRIVE}/root:/Test 2.txt:/content`, { token: lei, body: 'x' });
    expect(res.status).toBe(501);
    const body = await json(res);
    expect(body.error.code).toBe('notSupported');
    expect(body.error.message).toBe('Cannot upload content to an item representing a folder.');
    const session = await call(emu, 'POST', `${LEI_DRIVE}/items/${leiDocs}:/big.bin:/createUploadSession`, { token: lei, body: {} });
    expect(session.status).toBe(501);
  });

  it('refuses other writes by path with 400 invalidRequest and changes nothing', async () => {
    const file = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiDocs}/children('a.txt')`, { token: lei }), 200);
    for (const [method, path, body] of [
      ['PUT', `${LEI_DRIVE}/items/${file.id}:/other.txt:/content`, 'overwritten?'],
      ['DELETE', `${LEI_DRIVE}/items/${leiDocs}:/a.txt:`, undefined],
      ['PATCH', `${LEI_DRIVE}/root:/Docs:`, { name: 'Renamed' }],
      ['POST', `${LEI_DRIVE}/root:/Docs:/children`, { name: 'Sub', folder: {} }],
      ['POST', `${LEI_DRIVE}/root:/Docs/a.txt:/copy`, { name: 'b.txt' }],
    ] as const) {
      const res = await call(emu, method, path, { token: lei, body });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect((await json(res)).error.code).toBe('invalidRequest');
    }
    const children = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiDocs}/children`, { token: lei }), 200);
    expect(children.value.map((i: { name: string; size: number }) => [i.name, i.size])).toEqual([['a.txt', 5]]);
    const root = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiRoot}/children`, { token: lei }), 200);
    expect(root.value.map((i: { name: string }) => i.name)).toEqual(['Docs']);
  });

  it('still serves path addressing in the global cloud', async () => {
    const item = await expectStatus(call(emu, 'GET', '/me/drive/root:/Docs/a.txt:', { token: adele }), 200);
    expect(item.name).toBe('a.txt');
    await expectStatus(call(emu, 'GET', '/me/drive/root:/ObviouslyNotExist:', { token: adele }), 404);
  });
});

describe('delta in 21Vianet', () => {
  it('answers 400 BadRequest "Change tracking is not supported" (rclone/rclone#6444)', async () => {
    for (const path of [`${LEI_DRIVE}/root/delta`, `${LEI_DRIVE}/root/delta?token=latest`, '/me/drive/root/delta']) {
      const res = await call(emu, 'GET', path, { token: lei });
      expect(res.status, path).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe('BadRequest');
      expect(body.error.message).toBe("Unsupported request: Change tracking is not supported against 'microsoft.graph.driveItem'.");
    }
  });

  it('is served in the global cloud', async () => {
    const body = await expectStatus(call(emu, 'GET', '/me/drive/root/delta?token=latest', { token: adele }), 200);
    expect(body['@odata.deltaLink']).toBeDefined();
  });
});

describe("children('{name}') and children('@a1') (rclone/rclone backend/onedrive/onedrive.go)", () => {
  it('finds a child by name under a folder id, and 404s a missing one', async () => {
    const item = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiDocs}/children('A.TXT')`, { token: lei }), 200);
    expect(item.name).toBe('a.txt');
    await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiDocs}/children('missing.txt')`, { token: lei }), 404);
    const viaAlias = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/root/children('@a1')?@a1=${encodeURIComponent("'Docs/a.txt'")}`, { token: lei }), 200);
    expect(viaAlias.id).toBe(item.id);
    await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiRoot}/children('@a1')?@a1=${encodeURIComponent("'Docs/none'")}`, { token: lei }), 404);
  });

  it('reads names with quotes, spaces and parentheses (quotes doubled, the rest percent-encoded)', async () => {
    const name = "it's (1) #%.txt";
    const literal = encodeURIComponent(name.replace(/'/g, "''")).replace(/['()]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
    const put = await expectStatus(call(emu, 'PUT', `${LEI_DRIVE}/items/${leiDocs}/children('${literal}')/content`, { token: lei, body: 'q' }), 201);
    expect(put.name).toBe(name);
    const got = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiDocs}/children('${literal}')`, { token: lei }), 200);
    expect(got.id).toBe(put.id);
    const alias = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiDocs}/children('@a1')?@a1=${encodeURIComponent(`'${name.replace(/'/g, "''")}'`)}`, { token: lei }), 200);
    expect(alias.id).toBe(put.id);
    await expectStatus(call(emu, 'DELETE', `${LEI_DRIVE}/items/${put.id}`, { token: lei }), 204);
  });

  it('uploads through an upload session by name under a folder id', async () => {
    const session = await expectStatus(call(emu, 'POST', `${LEI_DRIVE}/items/${leiDocs}/children('big.bin')/createUploadSession`, { token: lei, body: {} }), 200);
    const res = await fetch(session.uploadUrl, { method: 'PUT', headers: { 'content-range': 'bytes 0-2/3' }, body: 'abc' });
    expect(res.status).toBe(201);
    const item = await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/items/${leiDocs}/children('big.bin')`, { token: lei }), 200);
    expect(item.size).toBe(3);
    await expectStatus(call(emu, 'DELETE', `${LEI_DRIVE}/items/${item.id}`, { token: lei }), 204);
  });

  it('refuses a path in the literal form and a missing alias value', async () => {
    await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/root/children('Docs%2Fa.txt')`, { token: lei }), 400);
    await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/root/children('@a1')`, { token: lei }), 400);
    await expectStatus(call(emu, 'GET', `${LEI_DRIVE}/root/children('@a1')?@a1=Docs`, { token: lei }), 400);
  });

  it('is served in the global cloud too', async () => {
    const folder = await expectStatus(call(emu, 'GET', `/me/drive/items/${adeleRoot}/children('Docs')`, { token: adele }), 200);
    const item = await expectStatus(call(emu, 'GET', `/me/drive/items/${folder.id}/children('a.txt')`, { token: adele }), 200);
    expect(item.name).toBe('a.txt');
  });
});
