import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * Graph calls a cold onedav spends on what rclone and file managers do (issue 16): each count is
 * pinned, so a later change cannot silently bring a call back. "Cold" = nothing cached.
 */
let stack: DavStack;
let drive: string;

beforeAll(async () => {
  stack = await startDavStack({ mounts: [{ prefix: '/', download: { mode: 'redirect' } }] });
  drive = stack.driveIds[0];
});
afterAll(async () => {
  await stack.close();
});
beforeEach(() => stack.drives[0].cache.invalidateAll());

/** Graph calls (API + upload URLs) made while `fn` runs, by route. */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; calls: number; routes: Record<string, number> }> {
  stack.resetCounters();
  const value = await fn();
  const snap = stack.emulator.counters.snapshot();
  const routes = Object.fromEntries(Object.entries(snap.byRoute).filter(([r]) => r.startsWith('graph: ') || r.startsWith('upload: ')));
  return { value, calls: snap.graphCalls, routes };
}

const propfind = (path: string, depth: '0' | '1') => dav(stack, 'PROPFIND', path, { headers: { depth } });

describe('a cold onedav spends no call where it already knows the answer', () => {
  it('GETs of files it just listed: the download URLs came with the listing', async () => {
    await stack.emulator.drive.putFile(drive, 'cold-get/a.txt', 'alpha');
    await stack.emulator.drive.putFile(drive, 'cold-get/b.txt', 'bravo');
    const listed = await counted(() => propfind('/cold-get/', '1'));
    expect(listed.value.status).toBe(207);
    const got = await counted(async () => Promise.all(['a', 'b'].map((n) => dav(stack, 'GET', `/cold-get/${n}.txt`))));
    expect(got.value.map((r) => r.status)).toEqual([302, 302]);
    expect(got.calls).toBe(0);
    const bytes = await Promise.all(got.value.map(async (r) => (await fetch(r.headers.get('location')!)).text()));
    expect(bytes).toEqual(['alpha', 'bravo']);
  });

  it('GETs of files it just wrote: one listing brings their download URLs (uploads answer none)', async () => {
    expect((await dav(stack, 'MKCOL', '/written/')).status).toBe(201);
    for (const n of ['a', 'b', 'c']) expect((await dav(stack, 'PUT', `/written/${n}.txt`, { body: `body ${n}` })).status).toBe(201);
    expect((await propfind('/written/', '1')).status).toBe(207); // the listing our writes made: no call
    const got = await counted(async () => Promise.all(['a', 'b', 'c'].map((n) => dav(stack, 'GET', `/written/${n}.txt`))));
    expect(got.value.map((r) => r.status)).toEqual([302, 302, 302]);
    expect(got.routes).toEqual({ 'graph: GET /me/drive/root:/{path}:/children': 1 });
    const bytes = await Promise.all(got.value.map(async (r) => (await fetch(r.headers.get('location')!)).text()));
    expect(bytes).toEqual(['body a', 'body b', 'body c']);
    // One file alone without a URL is asked for by itself, not by listing its folder.
    expect((await dav(stack, 'PUT', '/written/d.txt', { body: 'body d' })).status).toBe(201);
    const alone = await counted(() => dav(stack, 'GET', '/written/d.txt'));
    expect(alone.value.status).toBe(302);
    expect(Object.keys(alone.routes)).toHaveLength(1);
    expect(Object.keys(alone.routes)[0]).not.toContain('/children');
  });

  it('two concurrent MKCOLs of one new folder: one Graph call, 201 and 405', async () => {
    stack.emulator.drive.mkdir(drive, 'twice');
    await propfind('/twice/', '1');
    const both = await counted(async () => Promise.all([dav(stack, 'MKCOL', '/twice/new/'), dav(stack, 'MKCOL', '/twice/new/')]));
    expect(both.value.map((r) => r.status).sort()).toEqual([201, 405]);
    expect(both.calls).toBe(1);
    expect(stack.emulator.drive.stat(drive, 'twice/new')?.isFolder).toBe(true);
  });

  it('a folder renamed by MOVE is not listed again, nor is anything below it that was listed', async () => {
    await stack.emulator.drive.putFile(drive, 'ren/old/inner/deep.txt', 'deep');
    await stack.emulator.drive.putFile(drive, 'ren/old/top.txt', 'top');
    for (const path of ['/ren/', '/ren/old/', '/ren/old/inner/']) expect((await propfind(path, '1')).status).toBe(207);
    const moved = await counted(() => dav(stack, 'MOVE', '/ren/old/', { headers: { destination: `${stack.url}/ren/new/` } }));
    expect(moved.value.status).toBe(201);
    expect(moved.calls).toBe(1); // the PATCH
    const after = await counted(async () => {
      const answers = await Promise.all(['/ren/new/', '/ren/new/inner/', '/ren/'].map((p) => propfind(p, '1')));
      return Promise.all(answers.map(async (r) => ({ status: r.status, text: await r.text() })));
    });
    expect(after.value.map((a) => a.status)).toEqual([207, 207, 207]);
    expect(after.value[0].text).toContain('/ren/new/top.txt');
    expect(after.value[1].text).toContain('/ren/new/inner/deep.txt');
    expect(after.value[2].text).not.toContain('/ren/old/');
    expect(after.calls).toBe(0);
    expect((await propfind('/ren/old/', '0')).status).toBe(404);
    const get = await dav(stack, 'GET', '/ren/new/inner/deep.txt');
    expect(await (await fetch(get.headers.get('location')!)).text()).toBe('deep');
  });

  it('MKCOLs into missing folders, as rclone retries them per transfer, ask Graph once per folder', async () => {
    // rclone's webdav backend: MKCOL the file's folder; on 409 make its parent first, then again.
    const chain = await counted(async () => {
      const statuses: number[] = [];
      for (const path of ['/chain/a/b/', '/chain/a/b/', '/chain/a/', '/chain/a/', '/chain/', '/chain/a/', '/chain/a/b/']) statuses.push((await dav(stack, 'MKCOL', path)).status);
      return statuses;
    });
    expect(chain.value).toEqual([409, 409, 409, 409, 201, 201, 201]);
    // GET /chain/a/b, /chain/a, /chain (each absent, once); three POSTs, the first at root/children (no call for the root's id).
    expect(chain.routes).toEqual({ 'graph: GET /me/drive/root:/{path}:': 3, 'graph: POST /me/drive/root/children': 1, 'graph: POST /me/drive/items/{item-id}/children': 2 });
    expect(chain.calls).toBe(6);
    expect(stack.emulator.drive.stat(drive, 'chain/a/b')?.isFolder).toBe(true);
  });

  it('PROPFINDs below a folder Graph just said is missing cost no call, as rclone asks them before a copy', async () => {
    const asked = await counted(async () => {
      const statuses: number[] = [];
      for (const path of ['/absent-tree', '/absent-tree/dir-4', '/absent-tree/dir-4/sub-3']) {
        const res = await propfind(path, '1');
        await res.text();
        statuses.push(res.status);
      }
      return statuses;
    });
    expect(asked.value).toEqual([404, 404, 404]);
    expect(asked.calls).toBe(1);
  });

  it("a folder known from a child's parentReference: MKCOL of it is 405 and a PUT into it asks nothing about it", async () => {
    await stack.emulator.drive.putFile(drive, 'pref/dir/sub/file.txt', 'file');
    expect((await propfind('/pref/dir/sub/file.txt', '0')).status).toBe(207);
    const after = await counted(async () => [(await dav(stack, 'MKCOL', '/pref/dir/sub/')).status, (await dav(stack, 'PUT', '/pref/dir/sub/new.txt', { body: 'new' })).status]);
    expect(after.value).toEqual([405, 201]);
    // The PUT's own target (absent), then the upload into the folder by the id the file's parentReference gave.
    expect(after.routes).toEqual({ 'graph: GET /me/drive/root:/{path}:': 1, 'graph: PUT /me/drive/items/{item-id}:/{path}:/content': 1 });
    expect(await stack.emulator.drive.readFile(drive, 'pref/dir/sub/new.txt').then(String)).toBe('new');
  });

  it("rclone's folder rename (moveto): source, destination, MKCOL of the destination's folder, MOVE — three calls", async () => {
    await stack.emulator.drive.putFile(drive, 'rn/tree/dir-1/f.txt', 'f');
    const renamed = await counted(async () => {
      const statuses: number[] = [];
      statuses.push((await propfind('/rn/tree/dir-1', '1')).status);
      statuses.push((await propfind('/rn/tree/dir-1-renamed', '1')).status);
      statuses.push((await dav(stack, 'MKCOL', '/rn/tree/')).status);
      statuses.push((await dav(stack, 'MOVE', '/rn/tree/dir-1/', { headers: { destination: `${stack.url}/rn/tree/dir-1-renamed/` } })).status);
      return statuses;
    });
    expect(renamed.value).toEqual([207, 404, 405, 201]);
    expect(renamed.calls).toBe(3); // the folder with its children, the destination (absent), the PATCH
    expect(stack.emulator.drive.stat(drive, 'rn/tree/dir-1-renamed/f.txt')?.isFolder).toBe(false);
  });

  it('a subfolder asked for before its parent, in a folder just made: the 409 costs no call', async () => {
    const made = await counted(async () => {
      const statuses: number[] = [];
      for (const path of ['/made/', '/made/a/b/', '/made/a/', '/made/a/b/']) statuses.push((await dav(stack, 'MKCOL', path)).status);
      return statuses;
    });
    expect(made.value).toEqual([201, 409, 201, 201]);
    expect(made.calls).toBe(4); // /made looked up (absent), then the three POSTs
  });
});
