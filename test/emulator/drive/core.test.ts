import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { quickXorHash } from '../../../src/graph/quickxorhash.js';
import { ADELE, ALEX, MEGAN, bytes, call, expectStatus, json, startDrive, tokenFor } from './helpers.js';

let emu: RunningEmulator;
let token: string;

beforeAll(async () => {
  emu = await startDrive();
  token = tokenFor(emu, ADELE);
});
afterAll(async () => emu.close());

describe('tokens', () => {
  it('rejects a missing token with 401 InvalidAuthenticationToken and WWW-Authenticate', async () => {
    const res = await call(emu, 'GET', '/me/drive');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="", authorization_uri=".*", client_id="00000003-0000-0000-c000-000000000000"$/);
    const body = await json(res);
    expect(body.error.code).toBe('InvalidAuthenticationToken');
    expect(body.error.message).toBe('Access token is empty.');
  });

  it('rejects an expired token', async () => {
    const expired = tokenFor(emu, ADELE, { lifetimeSec: -10 });
    const body = await expectStatus(call(emu, 'GET', '/me/drive', { token: expired }), 401);
    expect(body.error.message).toBe('Lifetime validation failed, the token is expired.');
  });

  it('rejects a forged token (signature does not verify)', async () => {
    const [head, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.oid = '5a3d0b2f-8c4e-4d6f-9b7a-1e2c3d4e5f62';
    const forged = `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${token.split('.')[2]}`;
    const body = await expectStatus(call(emu, 'GET', '/me/drive', { token: forged }), 401);
    expect(body.error.code).toBe('InvalidAuthenticationToken');
  });

  it('rejects a malformed token', async () => {
    await expectStatus(call(emu, 'GET', '/me/drive', { token: 'not-a-jwt' }), 401);
  });

  it('gives app-only tokens Graph 400 on /me but any drive of the tenant via /users', async () => {
    const app = tokenFor(emu, ADELE, { appOnly: true });
    const body = await expectStatus(call(emu, 'GET', '/me/drive', { token: app }), 400);
    expect(body.error).toMatchObject({ code: 'BadRequest', message: '/me request is only valid with delegated authentication flow.' });
    const drive = await expectStatus(call(emu, 'GET', `/users/${MEGAN}/drive`, { token: app }), 200);
    expect(drive.id).toBe('b!contoso-megan');
    await expectStatus(call(emu, 'GET', '/users/lei@fabrikam.partner.onmschina.cn/drive', { token: app }), 404);
  });

  it('keeps delegated tokens out of other users drives', async () => {
    const body = await expectStatus(call(emu, 'GET', `/users/${MEGAN}/drive`, { token }), 403);
    expect(body.error.code).toBe('accessDenied');
    await expectStatus(call(emu, 'GET', '/drives/b!contoso-megan/root', { token }), 403);
  });

  it('refuses writes to a read-only token', async () => {
    const ro = tokenFor(emu, ADELE, { scopes: ['Files.Read'] });
    await expectStatus(call(emu, 'GET', '/me/drive/root', { token: ro }), 200);
    const body = await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token: ro, body: { name: 'x', folder: {} } }), 403);
    expect(body.error.code).toBe('accessDenied');
  });
});

describe('users, drives and sites', () => {
  it('serves /me, /me/drive, /me/drives with quota', async () => {
    const me = await expectStatus(call(emu, 'GET', '/me', { token }), 200);
    expect(me.userPrincipalName).toBe(ADELE);
    const drive = await expectStatus(call(emu, 'GET', '/me/drive', { token }), 200);
    expect(drive).toMatchObject({ id: 'b!contoso-adele', driveType: 'business' });
    expect(drive.quota).toMatchObject({ total: 1024 ** 4, used: 0, deleted: 0, state: 'normal' });
    expect(drive.quota.remaining).toBe(drive.quota.total);
    const drives = await expectStatus(call(emu, 'GET', '/me/drives', { token }), 200);
    expect(drives.value.map((d: any) => d.id)).toEqual(['b!contoso-adele']);
  });

  it('gives personal accounts a personal drive', async () => {
    const drive = await expectStatus(call(emu, 'GET', '/me/drive', { token: tokenFor(emu, ALEX) }), 200);
    expect(drive.driveType).toBe('personal');
  });

  it('finds sites by root, hostname:path and id, and their libraries', async () => {
    const root = await expectStatus(call(emu, 'GET', '/sites/root', { token }), 200);
    expect(root.root).toEqual({});
    const team = await expectStatus(call(emu, 'GET', '/sites/contoso.sharepoint.com:/sites/team', { token }), 200);
    expect(team.displayName).toBe('Team');
    const again = await expectStatus(call(emu, 'GET', `/sites/${encodeURIComponent(team.id)}`, { token }), 200);
    expect(again.id).toBe(team.id);
    const viaPath = await expectStatus(call(emu, 'GET', '/sites/contoso.sharepoint.com:/sites/team:/drive', { token }), 200);
    expect(viaPath).toMatchObject({ id: 'b!contoso-team-documents', driveType: 'documentLibrary' });
    const drives = await expectStatus(call(emu, 'GET', `/sites/${team.id}/drives`, { token }), 200);
    expect(drives.value[0].id).toBe('b!contoso-team-documents');
    const followed = await expectStatus(call(emu, 'GET', '/me/followedSites', { token }), 200);
    expect(followed.value.map((s: any) => s.id)).toContain(team.id);
    await expectStatus(call(emu, 'GET', '/sites/contoso.sharepoint.com:/sites/nope', { token }), 404);
  });
});

describe('items', () => {
  it('creates folders and addresses items by path and by id on every drive root form', async () => {
    const folder = await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'Docs', folder: {} } }), 201);
    expect(folder).toMatchObject({ name: 'Docs', folder: { childCount: 0 }, parentReference: { driveId: 'b!contoso-adele', driveType: 'business', path: '/drive/root:' } });
    const sub = await expectStatus(call(emu, 'POST', `/drives/b!contoso-adele/items/${folder.id}/children`, { token, body: { name: 'Sub dir', folder: {} } }), 201);
    expect(sub.parentReference.path).toBe('/drives/b!contoso-adele/root:/Docs');
    for (const path of [
      '/me/drive/root:/Docs/Sub dir',
      '/me/drive/root:/Docs/Sub%20dir:',
      '/drives/b!contoso-adele/root:/docs/SUB%20DIR',
      `/users/${ADELE}/drive/root:/Docs/Sub%20dir:`,
      `/me/drive/items/${folder.id}:/Sub%20dir:`,
      `/me/drive/items/${sub.id}`,
    ]) {
      const got = await expectStatus(call(emu, 'GET', path, { token }), 200);
      expect(got.id).toBe(sub.id);
    }
    await expectStatus(call(emu, 'GET', '/me/drive/root:/Docs/missing', { token }), 404);
    await expectStatus(call(emu, 'GET', '/me/drive/items/01NOPE', { token }), 404);
    const root = await expectStatus(call(emu, 'GET', '/me/drive/root', { token }), 200);
    expect(root.root).toEqual({});
    expect(root.folder.childCount).toBeGreaterThanOrEqual(1);
  });

  it('decodes spaces, #, %, + and Unicode in paths', async () => {
    for (const name of ['a b#c.txt', '100% + more.txt', 'naïve café ✓.txt', 'plus+sign.txt']) {
      const put = await expectStatus(call(emu, 'PUT', `/me/drive/root:/Unicode/${encodeURIComponent(name)}:/content`, { token, body: name }), 201);
      expect(put.name).toBe(name);
      const got = await expectStatus(call(emu, 'GET', `/me/drive/root:/Unicode/${encodeURIComponent(name)}`, { token }), 200);
      expect(got.id).toBe(put.id);
    }
    const kids = await expectStatus(call(emu, 'GET', '/me/drive/root:/Unicode:/children', { token }), 200);
    expect(kids.value.map((i: any) => i.name).sort()).toEqual(['100% + more.txt', 'a b#c.txt', 'naïve café ✓.txt', 'plus+sign.txt'].sort());
  });

  it('uploads small files and reports Graph-shaped driveItems with hashes', async () => {
    const content = bytes(10_000, 7);
    const created = await expectStatus(call(emu, 'PUT', '/me/drive/root:/Up/one.bin:/content', { token, body: content }), 201);
    expect(created).toMatchObject({ name: 'one.bin', size: 10_000, file: { mimeType: 'application/octet-stream', hashes: { quickXorHash: quickXorHash(content) } } });
    expect(created.file.hashes.sha1Hash).toBeUndefined();
    expect(created['@microsoft.graph.downloadUrl']).toMatch(new RegExp(`^${emu.url}/dl/`));
    expect(created.eTag).toMatch(/^"\{[0-9A-F-]{36}\},\d+"$/);
    expect(created.cTag).toMatch(/^"c:\{[0-9A-F-]{36}\},\d+"$/);
    expect(created.fileSystemInfo.lastModifiedDateTime).toMatch(/Z$/);
    const replaced = await expectStatus(call(emu, 'PUT', `/me/drive/items/${created.id}/content`, { token, body: 'short' }), 200);
    expect(replaced.id).toBe(created.id);
    expect(replaced.size).toBe(5);
    expect(replaced.eTag).not.toBe(created.eTag);
    expect(replaced.cTag).not.toBe(created.cTag);
    expect(await emu.drive.readFile('b!contoso-adele', 'Up/one.bin')).toEqual(Buffer.from('short'));
  });

  it('reports sha1Hash as well on personal drives', async () => {
    const alex = tokenFor(emu, ALEX);
    const put = await expectStatus(call(emu, 'PUT', '/me/drive/root:/p.txt:/content', { token: alex, body: 'abc' }), 201);
    expect(put.file.hashes).toEqual({ quickXorHash: quickXorHash(Buffer.from('abc')), sha1Hash: 'A9993E364706816ABA3E25717850C26C9CD0D89D' });
    expect(put.id).toMatch(/^1A2B3C4D5E6F7A80!\d+$/);
  });

  it('refuses simple uploads over 4 MiB with 413', async () => {
    const body = await expectStatus(call(emu, 'PUT', '/me/drive/root:/big.bin:/content', { token, body: bytes(4 * 1024 * 1024 + 1) }), 413);
    expect(body.error.code).toBe('requestTooLarge');
    await expectStatus(call(emu, 'GET', '/me/drive/root:/big.bin', { token }), 404);
    await expectStatus(call(emu, 'PUT', '/me/drive/root:/exact.bin:/content', { token, body: bytes(4 * 1024 * 1024) }), 201);
  });

  it('applies conflictBehavior and If-Match / If-None-Match on simple upload', async () => {
    const first = await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/a.txt:/content', { token, body: 'one' }), 201);
    const fail = await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/a.txt:/content?@microsoft.graph.conflictBehavior=fail', { token, body: 'two' }), 409);
    expect(fail.error.code).toBe('nameAlreadyExists');
    const renamed = await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/a.txt:/content?@microsoft.graph.conflictBehavior=rename', { token, body: 'two' }), 201);
    expect(renamed.name).toBe('a 1.txt');
    const again = await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/A.TXT:/content?@microsoft.graph.conflictBehavior=rename', { token, body: 'three' }), 201);
    expect(again.name).toBe('A 2.TXT');
    const replaced = await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/a.txt:/content?@microsoft.graph.conflictBehavior=replace', { token, body: 'four' }), 200);
    expect(replaced.id).toBe(first.id);
    const stale = await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/a.txt:/content', { token, body: 'x', headers: { 'if-match': first.eTag } }), 412);
    expect(stale.error.code).toBe('resourceModified');
    await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/a.txt:/content', { token, body: 'five', headers: { 'if-match': replaced.eTag } }), 200);
    await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/a.txt:/content', { token, body: 'x', headers: { 'if-none-match': '*' } }), 412);
    await expectStatus(call(emu, 'PUT', '/me/drive/root:/Conf/new.txt:/content', { token, body: 'x', headers: { 'if-none-match': '*' } }), 201);
    expect((await emu.drive.readFile('b!contoso-adele', 'Conf/a.txt')).toString()).toBe('five');
  });

  it("compares names as OneDrive's collation does: NFC and NFD are one name, æ is ae; the stored name keeps its form", async () => {
    const nfc = 'Über Mærsk.txt'.normalize('NFC');
    const nfd = 'Über Mærsk.txt'.normalize('NFD');
    const path = (name: string) => `/me/drive/root:/Collation/${encodeURIComponent(name)}:/content`;
    const first = await expectStatus(call(emu, 'PUT', path(nfd), { token, body: 'decomposed' }), 201);
    expect(first.name).toBe(nfd);
    const fail = await expectStatus(call(emu, 'PUT', `${path(nfc)}?@microsoft.graph.conflictBehavior=fail`, { token, body: 'composed' }), 409);
    expect(fail.error.code).toBe('nameAlreadyExists');
    const ligature = await expectStatus(call(emu, 'PUT', `${path('über maersk.txt')}?@microsoft.graph.conflictBehavior=fail`, { token, body: 'ascii' }), 409);
    expect(ligature.error.code).toBe('nameAlreadyExists');
    const found = await expectStatus(call(emu, 'GET', `/me/drive/root:/Collation/${encodeURIComponent(nfc)}`, { token }), 200);
    expect(found.id).toBe(first.id);
    expect(found.name).toBe(nfd);
  });

  it('applies conflictBehavior on folder creation', async () => {
    await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'Dup', folder: {} } }), 201);
    const fail = await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'dup', folder: {} } }), 409);
    expect(fail.error.code).toBe('nameAlreadyExists');
    const renamed = await expectStatus(
      call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'Dup', folder: {}, '@microsoft.graph.conflictBehavior': 'rename' } }),
      201,
    );
    expect(renamed.name).toBe('Dup 1');
    await call(emu, 'PUT', '/me/drive/root:/Dup/inside.txt:/content', { token, body: 'x' });
    const replaced = await expectStatus(
      call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'Dup', folder: {}, '@microsoft.graph.conflictBehavior': 'replace' } }),
      201,
    );
    expect(replaced.folder.childCount).toBe(0);
  });
});

describe('children paging', () => {
  it('pages 2,500 children with opaque absolute nextLinks', async () => {
    const drive = 'b!contoso-adele';
    emu.drive.mkdir(drive, 'Many');
    for (let i = 0; i < 2500; i++) await emu.drive.putFile(drive, `Many/f${String(i).padStart(4, '0')}.txt`, `${i}`);
    const seen: string[] = [];
    let url: string | undefined = '/me/drive/root:/Many:/children';
    let pages = 0;
    while (url && pages < 50) {
      const page = await expectStatus(call(emu, 'GET', url, { token }), 200);
      expect(page.value.length).toBeLessThanOrEqual(200);
      seen.push(...page.value.map((i: any) => i.name));
      url = page['@odata.nextLink'];
      if (url) expect(url.startsWith(`${emu.url}/v1.0/`)).toBe(true);
      pages++;
    }
    expect(pages).toBe(13);
    expect(new Set(seen).size).toBe(2500);
    const big = await expectStatus(call(emu, 'GET', '/me/drive/root:/Many:/children?$top=1000&$select=name,id', { token }), 200);
    expect(big.value).toHaveLength(1000);
    expect(Object.keys(big.value[0]).sort()).toEqual(['id', 'name']);
    const second = await expectStatus(call(emu, 'GET', big['@odata.nextLink'], { token }), 200);
    expect(second.value[0].name).toBe('f1000.txt');
    expect(second['@odata.nextLink']).toContain('$select=name%2Cid');
    const huge = await expectStatus(call(emu, 'GET', '/me/drive/root:/Many:/children?$top=5000', { token }), 200);
    expect(huge.value).toHaveLength(1000);
    await expectStatus(call(emu, 'GET', '/me/drive/root:/Many:/children?$top=0', { token }), 400);
    const folder = await expectStatus(call(emu, 'GET', '/me/drive/root:/Many', { token }), 200);
    expect(folder.folder.childCount).toBe(2500);
  }, 60_000);

  it('handles $select of the downloadUrl the way Graph does, and $expand=children', async () => {
    await emu.drive.putFile('b!contoso-adele', 'Sel/a.txt', 'a');
    const plain = await expectStatus(call(emu, 'GET', '/me/drive/root:/Sel/a.txt?$select=id,name', { token }), 200);
    expect(plain['@microsoft.graph.downloadUrl']).toBeUndefined();
    const withUrl = await expectStatus(call(emu, 'GET', '/me/drive/root:/Sel/a.txt?$select=id,@microsoft.graph.downloadUrl', { token }), 200);
    expect(withUrl['@microsoft.graph.downloadUrl']).toMatch(/\/dl\//);
    const expanded = await expectStatus(call(emu, 'GET', '/me/drive/root:/Sel?$expand=children', { token }), 200);
    expect(expanded.children.map((c: any) => c.name)).toEqual(['a.txt']);
  });
});

describe('downloads', () => {
  it('redirects /content to a pre-authenticated URL serving GET, HEAD and ranges', async () => {
    const content = bytes(100_000, 3);
    await emu.drive.putFile('b!contoso-adele', 'Dl/file.bin', content);
    const redirect = await call(emu, 'GET', '/me/drive/root:/Dl/file.bin:/content', { token });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(`${emu.url}/dl/`)).toBe(true);
    const full = await fetch(location);
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-length')).toBe('100000');
    expect(full.headers.get('etag')).toMatch(/^"\{/);
    expect(Buffer.from(await full.arrayBuffer()).equals(content)).toBe(true);
    const head = await fetch(location, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('100000');
    const mid = await fetch(location, { headers: { range: 'bytes=10-19' } });
    expect(mid.status).toBe(206);
    expect(mid.headers.get('content-range')).toBe('bytes 10-19/100000');
    expect(Buffer.from(await mid.arrayBuffer())).toEqual(content.subarray(10, 20));
    const suffix = await fetch(location, { headers: { range: 'bytes=-5' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer())).toEqual(content.subarray(99_995));
    const open = await fetch(location, { headers: { range: 'bytes=99990-' } });
    expect(open.headers.get('content-range')).toBe('bytes 99990-99999/100000');
    expect(Buffer.from(await open.arrayBuffer())).toEqual(content.subarray(99_990));
    const past = await fetch(location, { headers: { range: 'bytes=100000-' } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */100000');
    const headRange = await fetch(location, { method: 'HEAD', headers: { range: 'bytes=0-9' } });
    expect(headRange.status).toBe(206);
    expect(headRange.headers.get('content-length')).toBe('10');
  });

  it('refuses expired and tampered download URLs', async () => {
    await emu.drive.putFile('b!contoso-adele', 'Dl/exp.txt', 'hello');
    const item = await expectStatus(call(emu, 'GET', '/me/drive/root:/Dl/exp.txt', { token }), 200);
    const url: string = item['@microsoft.graph.downloadUrl'];
    expect((await fetch(url)).status).toBe(200);
    const tampered = url.replace(/\/dl\/([^.]+)\./, (_m, p: string) => `/dl/${p.slice(0, -2)}AA.`);
    expect((await fetch(tampered)).status).toBe(401);
    const saved = emu.state.settings.downloadUrlLifetimeSec;
    emu.state.settings.downloadUrlLifetimeSec = 0;
    try {
      const fresh = (await expectStatus(call(emu, 'GET', '/me/drive/root:/Dl/exp.txt', { token }), 200))['@microsoft.graph.downloadUrl'];
      const res = await fetch(fresh);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe('unauthenticated');
    } finally {
      emu.state.settings.downloadUrlLifetimeSec = saved;
    }
  });

  it('serves empty files and honours If-Range', async () => {
    const empty = await expectStatus(call(emu, 'PUT', '/me/drive/root:/Dl/empty.txt:/content', { token, body: '' }), 201);
    expect(empty.size).toBe(0);
    const res = await fetch(empty['@microsoft.graph.downloadUrl']);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
    expect((await fetch(empty['@microsoft.graph.downloadUrl'], { headers: { range: 'bytes=0-' } })).status).toBe(416);
    await emu.drive.putFile('b!contoso-adele', 'Dl/ifrange.txt', '0123456789');
    const item = await expectStatus(call(emu, 'GET', '/me/drive/root:/Dl/ifrange.txt', { token }), 200);
    const url = item['@microsoft.graph.downloadUrl'];
    const etag = (await fetch(url, { method: 'HEAD' })).headers.get('etag')!;
    const same = await fetch(url, { headers: { range: 'bytes=2-3', 'if-range': etag } });
    expect(same.status).toBe(206);
    expect(await same.text()).toBe('23');
    const stale = await fetch(url, { headers: { range: 'bytes=2-3', 'if-range': '"{00000000-0000-0000-0000-000000000000},1"' } });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe('0123456789');
  });
});
