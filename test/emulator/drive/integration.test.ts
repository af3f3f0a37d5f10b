import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { DEMO_CLIENT_ID, WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../../src/emulator/directory.js';
import { ADELE, bytes, call, expectStatus, startDrive, tokenFor } from './helpers.js';

const FRAG = 327_680;
let emu: RunningEmulator;
let token: string;

beforeAll(async () => {
  emu = await startDrive();
  token = tokenFor(emu, ADELE);
});
afterAll(async () => emu.close());

describe('frame integration', () => {
  it('names every route with a template for the counters', async () => {
    emu.counters.reset();
    await emu.drive.putFile('b!contoso-adele', 'C/f.txt', 'x');
    await call(emu, 'GET', '/me/drive/root:/C:/children', { token });
    await call(emu, 'GET', '/drives/b!contoso-adele/root:/C/f.txt', { token });
    const item = await expectStatus(call(emu, 'GET', '/me/drive/root:/C/f.txt', { token }), 200);
    await call(emu, 'GET', `/me/drive/items/${item.id}/content`, { token });
    await fetch(item['@microsoft.graph.downloadUrl']);
    const session = await expectStatus(call(emu, 'POST', '/me/drive/root:/C/s.bin:/createUploadSession', { token, body: {} }), 200);
    await fetch(session.uploadUrl, { method: 'PUT', headers: { 'content-range': 'bytes 0-2/3' }, body: 'abc' });
    const snap = emu.counters.snapshot();
    expect(snap.byRoute).toMatchObject({
      'graph: GET /me/drive/root:/{path}:/children': 1,
      'graph: GET /drives/{drive-id}/root:/{path}:': 1,
      'graph: GET /me/drive/root:/{path}:': 1,
      'graph: GET /me/drive/items/{item-id}/content': 1,
      'graph: POST /me/drive/root:/{path}:/createUploadSession': 1,
      'download: GET /dl/{token}': 1,
      'upload: PUT /up/{upload-session}': 1,
    });
    expect(snap.graphCalls).toBe(6); // five Graph calls and one upload fragment
  });

  it('leaves an upload session consistent when a fault resets the connection', async () => {
    const content = bytes(FRAG * 2, 2);
    const session = await expectStatus(call(emu, 'POST', '/me/drive/root:/C/faulty.bin:/createUploadSession', { token, body: {} }), 200);
    const send = (start: number, end: number) =>
      fetch(session.uploadUrl, { method: 'PUT', headers: { 'content-range': `bytes ${start}-${end}/${content.length}` }, body: content.subarray(start, end + 1) as unknown as BodyInit });
    expect((await send(0, FRAG - 1)).status).toBe(202);
    emu.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'reset' }, times: 1 }] });
    await expect(send(FRAG, content.length - 1)).rejects.toThrow();
    emu.faults.setPlan(null);
    const status = await expectStatus(fetch(session.uploadUrl), 200);
    expect(status.nextExpectedRanges).toEqual([`${FRAG}-${content.length - 1}`]);
    const done = await send(FRAG, content.length - 1);
    expect(done.status).toBe(201);
    expect((await emu.drive.readFile('b!contoso-adele', 'C/faulty.bin')).equals(content)).toBe(true);
  });

  it('lets an app-only token write to a site library and any user drive of its tenant', async () => {
    const app = tokenFor(emu, ADELE, { appOnly: true });
    const site = await expectStatus(call(emu, 'GET', '/sites/contoso.sharepoint.com:/sites/team', { token: app }), 200);
    const put = await expectStatus(call(emu, 'PUT', `/sites/${site.id}/drive/root:/Reports/q1.txt:/content`, { token: app, body: 'q1' }), 201);
    expect(put.parentReference).toMatchObject({ driveType: 'documentLibrary', driveId: 'b!contoso-team-documents', path: '/drive/root:/Reports' });
    expect(put.createdBy).toMatchObject({ application: {} });
    await expectStatus(call(emu, 'PUT', '/users/megan@contoso.onmicrosoft.com/drive/root:/from-app.txt:/content', { token: app, body: 'x' }), 201);
    expect(emu.drive.listPaths('b!contoso-megan')).toContain('/from-app.txt');
    expect(put.webUrl).toBe('https://contoso.sharepoint.com/sites/team/Shared%20Documents/Reports/q1.txt');
  });

  it('answers unknown Graph paths with the frame 400 and wrong methods with 405', async () => {
    const unknown = await expectStatus(call(emu, 'GET', '/me/drive/root/nonsense', { token }), 400);
    expect(unknown.error.code).toBe('BadRequest');
    await expectStatus(call(emu, 'POST', '/me/drive/root', { token, body: {} }), 405);
  });

  it('accepts tokens the identity half issues (refresh token and client credentials)', async () => {
    const tenant = emu.state.directory.tenants[0].id;
    const refresh = emu.identity.issueRefreshToken({ upn: ADELE });
    const delegated = await fetch(`${emu.url}/${tenant}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: DEMO_CLIENT_ID, scope: 'Files.ReadWrite.All offline_access' }),
    }).then((r) => r.json());
    expect(delegated.access_token).toBeTruthy();
    const mine = await expectStatus(call(emu, 'GET', '/me/drive', { token: delegated.access_token }), 200);
    expect(mine.id).toBe('b!contoso-adele');
    const app = await fetch(`${emu.url}/${tenant}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: WEB_APP_CLIENT_ID, client_secret: WEB_APP_CLIENT_SECRET, scope: 'https://graph.microsoft.com/.default' }),
    }).then((r) => r.json());
    expect(app.access_token).toBeTruthy();
    await expectStatus(call(emu, 'GET', '/me/drive', { token: app.access_token }), 400);
    await expectStatus(call(emu, 'GET', `/users/${ADELE}/drive/root/children`, { token: app.access_token }), 200);
  });
});
