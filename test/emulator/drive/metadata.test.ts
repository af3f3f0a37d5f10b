import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { ManualClock } from '../../../src/util/clock.js';
import { ADELE, ALEX, call, expectStatus, json, startDrive, tokenFor } from './helpers.js';

/**
 * Metadata as the real service keeps it, per drive profile: fileSystemInfo after a move or copy,
 * folder tags when something below changes, what delta reports after a folder rename, and how long
 * a download URL lives.
 */
const SITE = 'contoso.sharepoint.com,2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d,3b4c5d6e-7f8a-4b9c-8d0e-2f3a4b5c6d7e';
const OLD = new Date('2020-02-03T04:05:06Z');
const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startDrive({ clock });
});
afterAll(async () => emu.close());
beforeEach(() => emu.drive.reset());

async function followMonitor(location: string): Promise<any> {
  for (let i = 0; i < 20; i++) {
    const body = await json(await fetch(location));
    if (body.status !== 'inProgress' && body.status !== 'notStarted') return body;
  }
  throw new Error('the copy never finished');
}

describe.each([
  ['business', ADELE],
  ['personal', ALEX],
])('fileSystemInfo on a %s drive', (_type, upn) => {
  let token: string;
  let drive: string;
  beforeEach(() => {
    token = tokenFor(emu, upn);
    drive = emu.drive.driveIdOf(upn);
  });

  it('a move or rename stamps lastModifiedDateTime with now unless the PATCH sends it again', async () => {
    const file = await emu.drive.putFile(drive, 'a/f.txt', 'x', { modified: OLD });
    emu.drive.mkdir(drive, 'b');
    clock.advance(60_000);
    const moved = await expectStatus(call(emu, 'PATCH', `/me/drive/items/${file.id}`, { token, body: { parentReference: { path: '/drive/root:/b' } } }), 200);
    expect(Date.parse(moved.fileSystemInfo.lastModifiedDateTime)).toBe(Math.floor(clock.now() / 1000) * 1000);
    const kept = await expectStatus(
      call(emu, 'PATCH', `/me/drive/items/${file.id}`, { token, body: { name: 'g.txt', fileSystemInfo: { lastModifiedDateTime: OLD.toISOString() } } }),
      200,
    );
    expect(Date.parse(kept.fileSystemInfo.lastModifiedDateTime)).toBe(OLD.getTime());
  });

  it('a copy stamps every new item with the time of the copy', async () => {
    await emu.drive.putFile(drive, 'src/f.txt', 'x', { modified: OLD });
    clock.advance(60_000);
    const res = await call(emu, 'POST', '/me/drive/root:/src/f.txt:/copy', { token, body: { name: 'copy.txt' } });
    expect(res.status).toBe(202);
    const done = await followMonitor(res.headers.get('location')!);
    const copy = await expectStatus(call(emu, 'GET', `/me/drive/items/${done.resourceId}`, { token }), 200);
    expect(Date.parse(copy.fileSystemInfo.lastModifiedDateTime)).toBe(Math.floor(clock.now() / 1000) * 1000);
  });
});

describe('folder tags', () => {
  it('business and SharePoint folders have no cTag, and their eTag stays when something below changes', async () => {
    for (const [upn, base] of [
      [ADELE, '/me/drive'],
      [ADELE, `/sites/${SITE}/drive`],
    ]) {
      const token = tokenFor(emu, upn);
      const folder = await expectStatus(call(emu, 'POST', `${base}/root/children`, { token, body: { name: 'Tags', folder: {} } }), 201);
      expect(folder.cTag).toBeUndefined();
      await expectStatus(call(emu, 'PUT', `${base}/root:/Tags/deep/f.txt:/content`, { token, body: 'x' }), 201);
      const after = await expectStatus(call(emu, 'GET', `${base}/root:/Tags`, { token }), 200);
      expect(after.eTag).toBe(folder.eTag);
      expect(after.folder.childCount).toBe(1);
    }
  });

  it('a personal folder\'s cTag changes when anything below it changes; its eTag only when the folder itself does', async () => {
    const token = tokenFor(emu, ALEX);
    const folder = await expectStatus(call(emu, 'POST', '/me/drive/root/children', { token, body: { name: 'Tags', folder: {} } }), 201);
    await expectStatus(call(emu, 'PUT', '/me/drive/root:/Tags/deep/f.txt:/content', { token, body: 'x' }), 201);
    const before = await expectStatus(call(emu, 'GET', '/me/drive/root:/Tags', { token }), 200);
    expect(before.eTag).toBe(folder.eTag);
    expect(before.cTag).not.toBe(folder.cTag);
    await expectStatus(call(emu, 'PATCH', '/me/drive/root:/Tags/deep/f.txt', { token, body: { name: 'g.txt' } }), 200);
    const after = await expectStatus(call(emu, 'GET', '/me/drive/root:/Tags', { token }), 200);
    expect(after.cTag).not.toBe(before.cTag);
    expect(after.eTag).toBe(folder.eTag);
    const renamed = await expectStatus(call(emu, 'PATCH', '/me/drive/root:/Tags', { token, body: { name: 'Tags2' } }), 200);
    expect(renamed.eTag).not.toBe(folder.eTag);
  });
});

describe('delta after a folder rename or move', () => {
  it('reports the folder (and its parents), never what is below it', async () => {
    const token = tokenFor(emu, ADELE);
    const drive = emu.drive.driveIdOf(ADELE);
    await emu.drive.putFile(drive, 'top/dir/sub/f.txt', 'x');
    await emu.drive.putFile(drive, 'top/dir/g.txt', 'y');
    emu.drive.mkdir(drive, 'elsewhere');
    const latest = await expectStatus(call(emu, 'GET', '/me/drive/root/delta?token=latest', { token }), 200);
    await expectStatus(call(emu, 'PATCH', '/me/drive/root:/top/dir', { token, body: { name: 'renamed' } }), 200);
    await expectStatus(call(emu, 'PATCH', '/me/drive/root:/top/renamed', { token, body: { parentReference: { path: '/drive/root:/elsewhere' } } }), 200);
    const changes = await expectStatus(call(emu, 'GET', latest['@odata.deltaLink'], { token }), 200);
    const names = changes.value.map((i: any) => i.name).sort();
    expect(names).toEqual(['elsewhere', 'renamed', 'root', 'top']);
    expect(emu.drive.listPaths(drive)).toContain('/elsewhere/renamed/sub/f.txt');
  });
});

describe('download URL lifetime', () => {
  it('business and SharePoint URLs die after 3 minutes, personal ones after an hour', async () => {
    const cases: Array<[string, string, boolean]> = [
      [ADELE, '/me/drive', false],
      [ADELE, `/sites/${SITE}/drive`, false],
      [ALEX, '/me/drive', true],
    ];
    for (const [upn, base, longLived] of cases) {
      const token = tokenFor(emu, upn);
      await expectStatus(call(emu, 'PUT', `${base}/root:/f.txt:/content`, { token, body: 'bytes' }), 201);
      const item = await expectStatus(call(emu, 'GET', `${base}/root:/f.txt`, { token }), 200);
      const url = item['@microsoft.graph.downloadUrl'];
      clock.advance(179_000);
      expect((await fetch(url)).status).toBe(200);
      clock.advance(2_000);
      expect((await fetch(url)).status).toBe(longLived ? 200 : 401);
      clock.advance(3_600_000);
      expect((await fetch(url)).status).toBe(401);
    }
  });
});
