import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { ADELE, ALEX, call, expectStatus, json, startDrive, tokenFor } from './helpers.js';

const DRIVE = 'b!contoso-adele';
let emu: RunningEmulator;
let token: string;

beforeAll(async () => {
  emu = await startDrive();
  token = tokenFor(emu, ADELE);
});
afterAll(async () => emu.close());
beforeEach(() => emu.drive.reset());

/** Polls a copy monitor (no token) until it leaves inProgress; returns every status seen. */
async function followMonitor(location: string): Promise<any[]> {
  const seen: any[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await fetch(location);
    const body = await json(res);
    seen.push({ httpStatus: res.status, ...body });
    if (body.status !== 'inProgress' && body.status !== 'notStarted') break;
  }
  return seen;
}

async function copy(path: string, body: unknown, query = ''): Promise<any[]> {
  const res = await call(emu, 'POST', `/me/drive/root:/${path}:/copy${query}`, { token, body });
  expect(res.status).toBe(202);
  const location = res.headers.get('location')!;
  expect(location).toMatch(new RegExp(`^${emu.url}/v1.0/monitor/`));
  return followMonitor(location);
}

describe('copy', () => {
  it('copies folders recursively behind a monitor that reports inProgress then completed', async () => {
    await emu.drive.putFile(DRIVE, 'Src/a.txt', 'A');
    await emu.drive.putFile(DRIVE, 'Src/deep/b.txt', 'BB');
    const dest = await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'Dest', folder: {} } }), 201);
    const statuses = await copy('Src', { parentReference: { driveId: DRIVE, id: dest.id }, name: 'Copied' });
    expect(statuses[0]).toMatchObject({ httpStatus: 202, status: 'inProgress' });
    const done = statuses[statuses.length - 1];
    expect(done).toMatchObject({ httpStatus: 200, status: 'completed', percentageComplete: 100 });
    const copied = await expectStatus(call(emu, 'GET', `/me/drive/items/${done.resourceId}`, { token }), 200);
    expect(copied.name).toBe('Copied');
    expect(emu.drive.listPaths(DRIVE)).toEqual(['/Dest/', '/Dest/Copied/', '/Dest/Copied/a.txt', '/Dest/Copied/deep/', '/Dest/Copied/deep/b.txt', '/Src/', '/Src/a.txt', '/Src/deep/', '/Src/deep/b.txt']);
    expect((await emu.drive.readFile(DRIVE, 'Dest/Copied/deep/b.txt')).toString()).toBe('BB');
    // The copy is independent: changing the source leaves it alone.
    await emu.drive.putFile(DRIVE, 'Src/a.txt', 'changed');
    expect((await emu.drive.readFile(DRIVE, 'Dest/Copied/a.txt')).toString()).toBe('A');
  });

  it('applies conflictBehavior from the query string: fail (monitor reports it), rename, replace', async () => {
    await emu.drive.putFile(DRIVE, 'c.txt', 'source');
    await emu.drive.putFile(DRIVE, 'Box/c.txt', 'existing');
    const box = emu.drive.stat(DRIVE, 'Box')!;
    const failed = await copy('c.txt', { parentReference: { id: box.id } });
    expect(failed[failed.length - 1]).toMatchObject({ status: 'failed', error: { code: 'nameAlreadyExists' } });
    const renamed = await copy('c.txt', { parentReference: { id: box.id } }, '?@microsoft.graph.conflictBehavior=rename');
    const renamedItem = await expectStatus(call(emu, 'GET', `/me/drive/items/${renamed[renamed.length - 1].resourceId}`, { token }), 200);
    expect(renamedItem.name).toBe('c 1.txt');
    const replaced = await copy('c.txt', { parentReference: { path: '/drive/root:/Box' } }, '?@microsoft.graph.conflictBehavior=replace');
    expect(replaced[replaced.length - 1].status).toBe('completed');
    expect((await emu.drive.readFile(DRIVE, 'Box/c.txt')).toString()).toBe('source');
  });

  it('copies into another drive the token can reach, and validates names up front', async () => {
    await emu.drive.putFile(DRIVE, 'x.txt', 'x');
    const site = 'b!contoso-team-documents';
    const root = await expectStatus(call(emu, 'GET', `/drives/${site}/root`, { token }), 200);
    const done = await copy('x.txt', { parentReference: { driveId: site, id: root.id } });
    expect(done[done.length - 1].status).toBe('completed');
    expect(emu.drive.listPaths(site)).toEqual(['/x.txt']);
    const bad = await expectStatus(call(emu, 'POST', '/me/drive/root:/x.txt:/copy', { token, body: { name: 'a:b.txt' } }), 400);
    expect(bad.error.code).toBe('invalidRequest');
    await expectStatus(call(emu, 'POST', '/me/drive/root:/nope.txt:/copy', { token, body: {} }), 404);
  });
});

describe('update and delete', () => {
  it('renames, moves by id and by path, and sets fileSystemInfo', async () => {
    const file = await emu.drive.putFile(DRIVE, 'A/file.txt', 'data');
    const b = emu.drive.mkdir(DRIVE, 'B');
    const before = await expectStatus(call(emu, 'GET', `/me/drive/items/${file.id}`, { token }), 200);
    const renamed = await expectStatus(call(emu, 'PATCH', `/me/drive/items/${file.id}`, { token, body: { name: 'renamed.txt' } }), 200);
    expect(renamed.name).toBe('renamed.txt');
    expect(renamed.eTag).not.toBe(before.eTag);
    expect(renamed.cTag).toBe(before.cTag);
    const moved = await expectStatus(call(emu, 'PATCH', `/me/drive/items/${file.id}`, { token, body: { parentReference: { id: b.id } } }), 200);
    expect(moved.parentReference).toMatchObject({ id: b.id, path: '/drive/root:/B' });
    const back = await expectStatus(call(emu, 'PATCH', `/me/drive/root:/B/renamed.txt`, { token, body: { parentReference: { path: '/drive/root:/A' }, name: 'final.txt' } }), 200);
    expect(back.parentReference.path).toBe('/drive/root:/A');
    const touched = await expectStatus(
      call(emu, 'PATCH', `/me/drive/items/${file.id}`, { token, body: { fileSystemInfo: { lastModifiedDateTime: '2019-07-08T09:10:11Z', createdDateTime: '2018-01-01T00:00:00Z' } } }),
      200,
    );
    expect(touched.fileSystemInfo).toEqual({ createdDateTime: '2018-01-01T00:00:00Z', lastModifiedDateTime: '2019-07-08T09:10:11Z' });
    expect(touched.cTag).toBe(before.cTag);
    expect(emu.drive.listPaths(DRIVE)).toEqual(['/A/', '/A/final.txt', '/B/']);
  });

  it('refuses name conflicts on rename (409), case-only renames work', async () => {
    await emu.drive.putFile(DRIVE, 'one.txt', '1');
    await emu.drive.putFile(DRIVE, 'two.txt', '2');
    const conflict = await expectStatus(call(emu, 'PATCH', '/me/drive/root:/one.txt', { token, body: { name: 'TWO.txt' } }), 409);
    expect(conflict.error.code).toBe('nameAlreadyExists');
    const cased = await expectStatus(call(emu, 'PATCH', '/me/drive/root:/two.txt', { token, body: { name: 'Two.txt' } }), 200);
    expect(cased.name).toBe('Two.txt');
  });

  it('replaces on a rename asked to replace on personal OneDrive only (a business drive answers 409)', async () => {
    // profile.ts moveHonoursReplace: OneDrive/onedrive-api-docs#820 (personal), #1383 (business).
    await emu.drive.putFile(DRIVE, 'one.txt', '1');
    await emu.drive.putFile(DRIVE, 'two.txt', '2');
    const refused = await expectStatus(call(emu, 'PATCH', '/me/drive/root:/one.txt?@microsoft.graph.conflictBehavior=replace', { token, body: { name: 'two.txt' } }), 409);
    expect(refused.error.code).toBe('nameAlreadyExists');
    expect(emu.drive.listPaths(DRIVE)).toEqual(['/one.txt', '/two.txt']);

    const personal = emu.drive.driveIdOf(ALEX);
    await emu.drive.putFile(personal, 'one.txt', '1');
    await emu.drive.putFile(personal, 'two.txt', '2');
    await expectStatus(call(emu, 'PATCH', '/me/drive/root:/one.txt?@microsoft.graph.conflictBehavior=replace', { token: tokenFor(emu, ALEX), body: { name: 'two.txt' } }), 200);
    expect(emu.drive.listPaths(personal)).toEqual(['/two.txt']);
    expect((await emu.drive.readFile(personal, 'two.txt')).toString()).toBe('1');
  });

  it('a move or copy to a parent id the drive does not know: done in place on business drives, refused on personal', async () => {
    // profile.ts unknownParentIdIgnored: OneDrive/onedrive-api-docs#1381.
    const file = await emu.drive.putFile(DRIVE, 'A/file.txt', 'data');
    const moved = await expectStatus(call(emu, 'PATCH', `/me/drive/items/${file.id}`, { token, body: { name: 'moved.txt', parentReference: { id: 'NOT-AN-ITEM' } } }), 200);
    expect(moved.parentReference.id).toBe(emu.drive.stat(DRIVE, 'A')!.id);
    const seen = await copy('A/moved.txt', { name: 'copied.txt', parentReference: { driveId: DRIVE, id: 'NOT-AN-ITEM' } });
    expect(seen.at(-1).status).toBe('completed');
    expect(emu.drive.listPaths(DRIVE)).toEqual(['/A/', '/A/copied.txt', '/A/moved.txt']);

    const personal = emu.drive.driveIdOf(ALEX);
    const own = await emu.drive.putFile(personal, 'A/file.txt', 'data');
    await expectStatus(call(emu, 'PATCH', `/me/drive/items/${own.id}`, { token: tokenFor(emu, ALEX), body: { name: 'moved.txt', parentReference: { id: 'NOT-AN-ITEM' } } }), 404);
    expect(emu.drive.listPaths(personal)).toEqual(['/A/', '/A/file.txt']);
  });

  it('a move to the root named by path is refused on business drives (400), taken on personal ones', async () => {
    // profile.ts rootPathParentRefused: OneDrive/onedrive-api-docs#156, #132; microsoftgraph/microsoft-graph-docs#3832.
    const file = await emu.drive.putFile(DRIVE, 'A/file.txt', 'data');
    await expectStatus(call(emu, 'PATCH', `/me/drive/items/${file.id}`, { token, body: { parentReference: { path: '/drive/root:' } } }), 400);
    expect(emu.drive.listPaths(DRIVE)).toEqual(['/A/', '/A/file.txt']);
    const personal = emu.drive.driveIdOf(ALEX);
    const own = await emu.drive.putFile(personal, 'A/file.txt', 'data');
    await expectStatus(call(emu, 'PATCH', `/me/drive/items/${own.id}`, { token: tokenFor(emu, ALEX), body: { parentReference: { path: '/drive/root:' } } }), 200);
    expect(emu.drive.listPaths(personal)).toEqual(['/A/', '/file.txt']);
  });

  it('refuses moving a folder into itself and honours If-Match', async () => {
    const outer = emu.drive.mkdir(DRIVE, 'Outer/Inner');
    const outerId = emu.drive.stat(DRIVE, 'Outer')!.id;
    await expectStatus(call(emu, 'PATCH', `/me/drive/items/${outerId}`, { token, body: { parentReference: { id: outer.id } } }), 400);
    const stale = await expectStatus(call(emu, 'PATCH', `/me/drive/items/${outerId}`, { token, body: { name: 'x' }, headers: { 'if-match': '"{00000000-0000-0000-0000-000000000000},1"' } }), 412);
    expect(stale.error.code).toBe('resourceModified');
  });

  it('deletes to the recycle bin: 204, gone from listings, counted in quota.deleted', async () => {
    await emu.drive.putFile(DRIVE, 'Trash/a.txt', '12345');
    const del = await call(emu, 'DELETE', '/me/drive/root:/Trash', { token });
    expect(del.status).toBe(204);
    await expectStatus(call(emu, 'GET', '/me/drive/root:/Trash', { token }), 404);
    const root = await expectStatus(call(emu, 'GET', '/me/drive/root/children', { token }), 200);
    expect(root.value).toEqual([]);
    const drive = await expectStatus(call(emu, 'GET', '/me/drive', { token }), 200);
    expect(drive.quota).toMatchObject({ deleted: 5, used: 5 });
    await expectStatus(call(emu, 'DELETE', '/me/drive/root:/Trash', { token }), 404);
    const rootItem = await expectStatus(call(emu, 'GET', '/me/drive/root', { token }), 200);
    await expectStatus(call(emu, 'DELETE', `/me/drive/items/${rootItem.id}`, { token }), 403);
  });

  it('changes a file\'s eTag on any change and its cTag on content; a folder\'s eTag stays when its children change', async () => {
    const folder = await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'Tags', folder: {} } }), 201);
    await emu.drive.putFile(DRIVE, 'Tags/f.txt', 'one');
    const after = await expectStatus(call(emu, 'GET', '/me/drive/root:/Tags', { token }), 200);
    expect(after.eTag).toBe(folder.eTag);
    expect(after.cTag).toBeUndefined(); // OneDrive for Business: no cTag on folders
    expect(after.size).toBe(3);
    const file = await expectStatus(call(emu, 'GET', '/me/drive/root:/Tags/f.txt', { token }), 200);
    const notModified = await call(emu, 'GET', '/me/drive/root:/Tags/f.txt', { token, headers: { 'if-none-match': file.eTag } });
    expect(notModified.status).toBe(304);
    await emu.drive.putFile(DRIVE, 'Tags/f.txt', 'two!');
    const changed = await expectStatus(call(emu, 'GET', '/me/drive/root:/Tags/f.txt', { token }), 200);
    expect(changed.cTag).not.toBe(file.cTag);
    expect((await expectStatus(call(emu, 'GET', '/me/drive/root:/Tags', { token }), 200)).size).toBe(4);
  });
});

describe('naming rules', () => {
  const bad = ['a:b.txt', 'a*b', 'what?', 'pipe|', 'quote"', 'lt<', 'gt>', 'back\\slash', ' lead', 'trail ', 'CON', 'nul', 'com1', 'LPT9', '.lock', 'desktop.ini', '~$temp.docx', 'x_vti_y', 'a'.repeat(256)];
  for (const name of bad) {
    it(`refuses ${JSON.stringify(name.length > 20 ? `${name.slice(0, 10)}…(${name.length})` : name)} with 400 invalidRequest`, async () => {
      const folder = await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token, body: { name, folder: {} } }), 400);
      expect(folder.error.code).toBe('invalidRequest');
      const file = await expectStatus(call(emu, 'PUT', `/me/drive/root:/${encodeURIComponent(name)}:/content`, { token, body: 'x' }), 400);
      expect(file.error.code).toBe('invalidRequest');
    });
  }

  it('accepts names OneDrive accepts', async () => {
    for (const name of ['con.txt', 'a.b.c', '.hidden', 'émoji 😀.txt', '#hash', '100%', 'a'.repeat(255)]) {
      await expectStatus(call(emu, 'PUT', `/me/drive/root:/${encodeURIComponent(name)}:/content`, { token, body: 'x' }), 201);
    }
  });

  it("refuses 'forms' at the root of a document library only", async () => {
    await expectStatus(call(emu, 'POST', '/drives/b!contoso-team-documents/root/children', { token, body: { name: 'Forms', folder: {} } }), 400);
    await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'Forms', folder: {} } }), 201);
  });

  it('refuses paths longer than 400 characters', async () => {
    const seg = 'd'.repeat(99);
    const ok = `${seg}/${seg}/${seg}/${seg.slice(0, 96)}`; // 99*3 + 3 + 96 = 396
    await expectStatus(call(emu, 'PUT', `/me/drive/root:/${ok}/f.tx:/content`, { token, body: 'x' }), 400); // 401 characters
    await expectStatus(call(emu, 'PUT', `/me/drive/root:/${ok}/f.t:/content`, { token, body: 'x' }), 201); // exactly 400
    const res = await expectStatus(call(emu, 'POST', `/me/drive/root:/${ok}:/children`, { token, body: { name: 'toolong', folder: {} } }), 400);
    expect(res.error.innerError.code).toBe('pathIsTooLong');
  });
});

describe('delta', () => {
  it('enumerates in pages, then returns only changes and deletions; token=latest gives just a link', async () => {
    for (let i = 0; i < 25; i++) await emu.drive.putFile(DRIVE, `D/f${i}.txt`, `${i}`);
    let url: string | undefined = '/me/drive/root/delta?$top=10';
    const ids = new Set<string>();
    let deltaLink: string | undefined;
    let pages = 0;
    while (url && pages < 20) {
      const page = await expectStatus(call(emu, 'GET', url, { token }), 200);
      for (const item of page.value) ids.add(item.id);
      url = page['@odata.nextLink'];
      deltaLink = page['@odata.deltaLink'];
      if (url) expect(deltaLink).toBeUndefined();
      pages++;
    }
    expect(pages).toBe(3);
    expect(ids.size).toBe(27); // root + folder + 25 files
    expect(deltaLink).toMatch(new RegExp(`^${emu.url}/v1.0/me/drive/root/delta\\?token=`));

    const quiet = await expectStatus(call(emu, 'GET', deltaLink!, { token }), 200);
    expect(quiet.value).toEqual([]);

    await emu.drive.putFile(DRIVE, 'D/new.txt', 'new');
    await expectStatus(call(emu, 'DELETE', '/me/drive/root:/D/f3.txt', { token }), 204);
    const changes = await expectStatus(call(emu, 'GET', quiet['@odata.deltaLink'], { token }), 200);
    const byName = new Map(changes.value.map((i: any) => [i.name, i]));
    expect(byName.get('new.txt')).toMatchObject({ file: {} });
    expect(byName.get('f3.txt')).toMatchObject({ deleted: { state: 'deleted' } });
    expect(byName.has('f4.txt')).toBe(false);
    expect(changes.value.find((i: any) => i.name === 'new.txt').parentReference.path).toBeUndefined();

    const latest = await expectStatus(call(emu, 'GET', '/me/drive/root/delta?token=latest', { token }), 200);
    expect(latest.value).toEqual([]);
    await emu.drive.putFile(DRIVE, 'after-latest.txt', 'x');
    const sinceLatest = await expectStatus(call(emu, 'GET', latest['@odata.deltaLink'], { token }), 200);
    expect(sinceLatest.value.map((i: any) => i.name)).toContain('after-latest.txt');
    expect(sinceLatest.value.map((i: any) => i.name)).not.toContain('new.txt');

    await expectStatus(call(emu, 'GET', '/me/drive/root/delta?token=garbage', { token }), 400);
  });
});

describe('admin endpoint', () => {
  it('seeds, reads, lists, corrupts, sets quota and resets over HTTP', async () => {
    const put = await fetch(`${emu.url}/_emulator/drive/files/${encodeURIComponent(DRIVE)}/Admin/seed.txt`, { method: 'PUT', body: 'seeded' });
    expect(put.status).toBe(200);
    expect((await fetch(`${emu.url}/_emulator/drive/files/${encodeURIComponent(DRIVE)}/Admin/seed.txt`).then((r) => r.text()))).toBe('seeded');
    expect(await fetch(`${emu.url}/_emulator/drive/paths/${encodeURIComponent(DRIVE)}`).then((r) => r.json())).toEqual(['/Admin/', '/Admin/seed.txt']);
    await fetch(`${emu.url}/_emulator/drive/quota/${encodeURIComponent(DRIVE)}`, { method: 'PATCH', body: JSON.stringify({ total: 1000 }) });
    expect((await expectStatus(call(emu, 'GET', '/me/drive', { token }), 200)).quota.total).toBe(1000);
    const corrupt = await fetch(`${emu.url}/_emulator/drive/corrupt-next-uploads`, { method: 'POST', body: JSON.stringify({ count: 2 }) });
    expect(await corrupt.json()).toEqual({ pending: 2 });
    expect(Array.isArray(await fetch(`${emu.url}/_emulator/drive/fragments`).then((r) => r.json()))).toBe(true);
    expect((await fetch(`${emu.url}/_emulator/drive/reset`, { method: 'POST' })).status).toBe(200);
    expect(emu.drive.listPaths(DRIVE)).toEqual([]);
    expect((await expectStatus(call(emu, 'GET', '/me/drive', { token }), 200)).quota.total).toBe(1024 ** 4);
  });
});
