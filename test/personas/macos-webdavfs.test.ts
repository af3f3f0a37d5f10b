import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { shouldRedirect } from '../../src/dav/http/download-mode.js';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { ADELE, MEGAN, startDavStack, type DavStack } from '../helpers/stack.js';
import { MacWebDavFs, WEBDAVFS_UA, appleDouble, davLevelOf } from './macos-webdavfs.js';
import { GeneratedBody, startPersonaDrive } from './wire.js';

/**
 * macOS Finder on a volume mounted from onedav, through the webdavfs persona (macos-webdavfs.ts
 * cites webdav_network.c for each request). Each scenario checks what the user sees in Finder and
 * what lands on the drive.
 */
const MiB = 1024 * 1024;

for (const kind of DRIVE_KINDS) {
  describe(`macOS Finder (webdavfs) on a ${kind.name} drive`, () => {
    let stack: DavStack;
    let mac: MacWebDavFs;
    let driveId: string;
    const drivePaths = () => stack.emulator.drive.listPaths(driveId);

    beforeAll(async () => {
      ({ stack, driveId } = await startPersonaDrive(kind));
      mac = new MacWebDavFs(stack.url);
    });
    afterAll(() => stack?.close());

    it('mounts read-write: OPTIONS advertises class 2 and LOCK works as webdavfs sends it (Depth 0, Second-600, refresh)', async () => {
      const mounted = await mac.mount();
      expect(mounted).toEqual({ davLevel: 2, readOnly: false });
      const token = await mac.lock('Documents/report.txt');
      const refreshed = await mac.refreshLock('Documents/report.txt', token);
      expect(refreshed.status).toBe(200);
      expect(refreshed.text).toContain('Second-');
      await mac.unlock('Documents/report.txt', token);
    });

    it('lists the root and a folder', async () => {
      expect((await mac.browse('')).map((f) => f.name)).toContain('Documents');
      const docs = await mac.browse('Documents');
      expect(docs.map((f) => `${f.name}${f.isFolder ? '/' : ''}`).sort()).toEqual(['Sub/', 'report.txt']);
      expect(docs.find((f) => f.name === 'report.txt')).toMatchObject({ size: 16 });
    });

    it('opens a file: the bytes Finder gets are those on the drive', async () => {
      const got = await mac.open('Documents/report.txt');
      expect(got).toMatchObject({ status: 200, size: 16, quickXorHash: stack.emulator.drive.stat(driveId, 'Documents/report.txt')?.quickXorHash });
    });

    it('copies a tagged file in: chunked PUT with X-Expected-Entity-Length under a lock, and its ._ companion', async () => {
      const put = await mac.copyIn('Documents/photo.jpg.txt', Buffer.from('jpeg-ish bytes'), { xattrs: true });
      expect(put.status).toBe(204);
      expect((await stack.emulator.drive.readFile(driveId, 'Documents/photo.jpg.txt')).toString()).toBe('jpeg-ish bytes');
      expect(await stack.emulator.drive.readFile(driveId, 'Documents/._photo.jpg.txt')).toEqual(appleDouble());
      expect((await mac.browse('Documents')).map((f) => f.name)).toEqual(expect.arrayContaining(['photo.jpg.txt', '._photo.jpg.txt']));
      // Every lock was released: a second client takes one at once.
      const other = new MacWebDavFs(stack.url);
      await other.unlock('Documents/photo.jpg.txt', await other.lock('Documents/photo.jpg.txt'));
    });

    it('copies a file whose name has spaces, #, %, accents and CJK, with its ._ file', async () => {
      const name = 'Résumé #1 50% 履歴書.txt';
      await mac.copyIn(`Documents/${name}`, Buffer.from('cv'), { xattrs: true });
      expect((await stack.emulator.drive.readFile(driveId, `Documents/${name}`)).toString()).toBe('cv');
      expect(stack.emulator.drive.stat(driveId, `Documents/._${name}`)?.size).toBe(4096);
      expect((await mac.browse('Documents')).map((f) => f.name)).toContain(name);
    });

    it('copies an empty file in (chunked, no X-Expected-Entity-Length: webdavfs sends it only for a non-zero length)', async () => {
      expect((await mac.copyIn('Documents/empty.txt', Buffer.alloc(0))).status).toBe(204);
      expect(stack.emulator.drive.stat(driveId, 'Documents/empty.txt')?.size).toBe(0);
      expect((await mac.browse('Documents')).find((f) => f.name === 'empty.txt')).toMatchObject({ size: 0, isFolder: false });
    });

    it('saves a document like a Mac app (safe save through a temporary name, ._ file, .DS_Store): no temporary left', async () => {
      await mac.copyIn('Documents/Notes.rtf', Buffer.from('{\\rtf1 first}'), { xattrs: true });
      const { temp } = await mac.saveLikeMacApp('Documents/Notes.rtf', Buffer.from('{\\rtf1 second version}'));
      expect((await stack.emulator.drive.readFile(driveId, 'Documents/Notes.rtf')).toString()).toBe('{\\rtf1 second version}');
      expect(await stack.emulator.drive.readFile(driveId, 'Documents/._Notes.rtf')).toEqual(appleDouble());
      expect(stack.emulator.drive.stat(driveId, 'Documents/.DS_Store')?.size).toBe(6148);
      const tempName = temp.split('/').pop()!;
      expect(drivePaths().filter((p) => p.includes(tempName) || p.includes('.sb-'))).toEqual([]);
      const listed = await mac.browse('Documents');
      expect(listed.find((f) => f.name === 'Notes.rtf')).toMatchObject({ size: '{\\rtf1 second version}'.length });
    });

    it('renames and moves to another folder (MOVE without Overwrite)', async () => {
      await mac.mkdir('Archive');
      expect((await mac.rename('Documents/photo.jpg.txt', 'Documents/renamed.txt')).status).toBe(201);
      expect((await mac.move('Documents/renamed.txt', 'Archive/renamed.txt')).status).toBe(201);
      expect((await mac.browse('Archive')).map((f) => f.name)).toEqual(['renamed.txt']);
      expect((await stack.emulator.drive.readFile(driveId, 'Archive/renamed.txt')).toString()).toBe('jpeg-ish bytes');
      expect(stack.emulator.drive.stat(driveId, 'Documents/renamed.txt')).toBeUndefined();
    });

    it('deletes a folder tree', async () => {
      await mac.mkdir('Old stuff');
      await mac.mkdir('Old stuff/inner');
      await mac.copyIn('Old stuff/a.txt', Buffer.from('a'), { xattrs: true });
      await mac.copyIn('Old stuff/inner/b.txt', Buffer.from('b'));
      await mac.deleteTree('Old stuff');
      expect(drivePaths().filter((p) => p.startsWith('/Old stuff'))).toEqual([]);
    });

    it('shows capacity and available space from the drive quota (quota-available-bytes + quota-used-bytes)', async () => {
      const quota = await stack.drives[0].quota!();
      const shown = await mac.freeSpace();
      expect(shown.available).toBe(quota.remaining);
      expect(shown.total).toBe(quota.remaining + quota.used);
      expect(shown.total).toBeGreaterThan(0);
      expect(shown.known).toBe(true);
    });
  });
}

describe('macOS Finder on a server with several mounts', () => {
  it('mounting the list of mounts shows no capacity (Finder then uses its defaults, never "full"); each mount shows its drive', async () => {
    const stack = await startDavStack({ mounts: [{ prefix: '/adele', user: ADELE }, { prefix: '/megan', user: MEGAN }] });
    try {
      const mac = new MacWebDavFs(stack.url);
      expect(await mac.mount()).toEqual({ davLevel: 2, readOnly: false });
      expect((await mac.browse('')).map((f) => f.name).sort()).toEqual(['adele', 'megan']);
      // Not "0 bytes available", which would make Finder refuse every copy.
      expect((await mac.freeSpace()).known).toBe(false);
      const adele = await mac.freeSpace('adele');
      expect(adele).toMatchObject({ known: true, available: (await stack.drives[0].quota!()).remaining });
      await mac.copyIn('adele/through-the-list.txt', Buffer.from('ok'));
      expect((await stack.emulator.drive.readFile(stack.driveIds[0], 'through-the-list.txt')).toString()).toBe('ok');
    } finally {
      await stack.close();
    }
  });
});

describe('macOS Finder: who gets a writable volume', () => {
  const FAST = { N: 1 << 10, r: 8, p: 1 };
  let stack: DavStack;

  beforeAll(async () => {
    const users = [
      { name: 'writer', password: await hashPassword('writer-secret', FAST) },
      { name: 'reader', password: await hashPassword('reader-secret', FAST), readOnly: true },
    ];
    stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])], dav: { users, anonymous: { enabled: true, readOnly: true } } });
  });
  afterAll(() => stack?.close());

  it('a user who may write gets class 2 and a read-write mount', async () => {
    expect(await new MacWebDavFs(stack.url, { user: 'writer', password: 'writer-secret' }).mount()).toEqual({ davLevel: 2, readOnly: false });
  });

  it('a read-only user gets no class 2, so Finder mounts the volume read-only instead of failing every change', async () => {
    const reader = new MacWebDavFs(stack.url, { user: 'reader', password: 'reader-secret' });
    expect(await reader.mount()).toEqual({ davLevel: 1, readOnly: true });
    // What a writable mount would have tried is refused anyway.
    await expect(reader.lock('anything.txt')).rejects.toThrow(/403/);
  });

  it('a guest who could log in to write still sees class 2 (logging in makes the volume writable)', async () => {
    expect((await new MacWebDavFs(stack.url).mount()).davLevel).toBe(2);
  });

  it('a read-only public share (anonymous read-only, no users) mounts read-only', async () => {
    const share = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])], dav: { anonymous: { enabled: true, readOnly: true } } });
    try {
      expect(await new MacWebDavFs(share.url).mount()).toEqual({ davLevel: 1, readOnly: true });
    } finally {
      await share.close();
    }
  });
});

describe('macOS Finder with macMetadata: refuse', () => {
  let stack: DavStack;
  let mac: MacWebDavFs;
  let driveId: string;

  beforeAll(async () => {
    stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])], dav: { macMetadata: 'refuse' } });
    driveId = stack.driveIds[0];
    await stack.emulator.drive.putFile(driveId, 'Docs/._old', 'an old AppleDouble file');
    mac = new MacWebDavFs(stack.url);
    await mac.mount();
  });
  afterAll(() => stack?.close());

  it('stores the file but refuses its ._ companion and .DS_Store with 403 at creation, before any lock', async () => {
    await mac.copyIn('Docs/photo.txt', Buffer.from('photo'), { xattrs: true });
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/photo.txt')).toString()).toBe('photo');
    expect(stack.emulator.drive.stat(driveId, 'Docs/._photo.txt')).toBeUndefined();
    const dsStore = await mac.writeFile('Docs/.DS_Store', Buffer.alloc(6148));
    expect(dsStore.status).toBe(403);
    expect(dsStore.text).toContain('macMetadata: refuse');
    expect(stack.emulator.drive.stat(driveId, 'Docs/.DS_Store')).toBeUndefined();
    // A LOCK on a new ._ name would create it: refused the same way.
    await expect(mac.lock('Docs/._locked')).rejects.toThrow(/403/);
    expect(stack.emulator.drive.stat(driveId, 'Docs/._locked')).toBeUndefined();
  });

  it('a safe save still replaces the document, without metadata files', async () => {
    await mac.copyIn('Docs/Notes.rtf', Buffer.from('v1'));
    await mac.saveLikeMacApp('Docs/Notes.rtf', Buffer.from('v2'));
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/Notes.rtf')).toString()).toBe('v2');
    expect(stack.emulator.drive.listPaths(driveId).filter((p) => p.startsWith('/Docs/') && p !== '/Docs/')).toEqual(['/Docs/._old', '/Docs/Notes.rtf', '/Docs/photo.txt']);
  });

  it('existing ._ files can still be read and deleted', async () => {
    expect((await mac.open('Docs/._old')).size).toBe('an old AppleDouble file'.length);
    await mac.deleteTree('Docs');
    expect(stack.emulator.drive.listPaths(driveId).filter((p) => p.startsWith('/Docs'))).toEqual([]);
  });
});

describe('macOS Finder on a business drive: the big cases and downloads', () => {
  let stack: DavStack;
  let mac: MacWebDavFs;
  let driveId: string;

  beforeAll(async () => {
    stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0]), { ...mountOf(DRIVE_KINDS[0], '/redirected'), download: { mode: 'redirect' } }], dav: { download: { mode: 'auto' } } });
    driveId = stack.driveIds[0];
    mac = new MacWebDavFs(stack.url);
  });
  afterAll(() => stack?.close());

  it('lists a folder of 2,000 items completely', async () => {
    for (let i = 0; i < 2000; i += 1) await stack.emulator.drive.putFile(driveId, `Big/item ${String(i).padStart(4, '0')}.txt`, `#${i}`);
    await mac.mount();
    const listed = await mac.browse('Big');
    expect(listed).toHaveLength(2000);
    expect(new Set(listed.map((f) => f.name)).size).toBe(2000);
  }, 120_000);

  it('copies a 200 MiB file in chunked with X-Expected-Entity-Length, streamed, memory bounded', async () => {
    await mac.mkdir('Movies');
    const body = new GeneratedBody(200 * MiB);
    const before = process.memoryUsage().arrayBuffers;
    const put = await mac.copyIn('Movies/trip.mov', body);
    expect(put.status).toBe(204);
    const stored = stack.emulator.drive.stat(driveId, 'Movies/trip.mov');
    expect(stored?.size).toBe(200 * MiB);
    expect(stored?.quickXorHash).toBe(body.hash.digestBase64());
    expect(body.peakArrayBuffers - before).toBeLessThan(96 * MiB);
    const back = await mac.open('Movies/trip.mov');
    expect(back).toMatchObject({ status: 200, size: 200 * MiB, quickXorHash: stored?.quickXorHash });
  }, 300_000);

  it('download mode auto streams to WebDAVFS; a redirect mount sends a 302 that webdavfs follows', async () => {
    await stack.emulator.drive.putFile(driveId, 'clip.bin', 'clip bytes');
    expect(shouldRedirect('auto', WEBDAVFS_UA)).toBe(false);
    const proxied = await mac.open('clip.bin');
    expect(proxied).toMatchObject({ status: 200, size: 10 });
    // webdavfs GETs run with kCFStreamPropertyHTTPShouldAutoredirect: a redirect mount works too.
    const redirected = await mac.open('redirected/clip.bin');
    expect(redirected).toMatchObject({ status: 200, size: 10, quickXorHash: proxied.quickXorHash });
  });

  it('reads the DAV level as webdavfs does: class 1 alone would mount read-only', () => {
    expect(davLevelOf('1, 2, 3')).toBe(2);
    expect(davLevelOf('1,2')).toBe(2);
    expect(davLevelOf('1')).toBe(1);
    expect(davLevelOf('1, <http://apache.org/dav/propset/fs/1>')).toBe(1);
    expect(davLevelOf('')).toBe(0);
  });
});
