import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { shouldRedirect } from '../../src/dav/http/download-mode.js';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram } from '../clients/tools.js';
import { MINIREDIR_UA, WindowsMiniRedir } from './windows-miniredir.js';
import { GeneratedBody, send, startPersonaDrive } from './wire.js';

/**
 * Windows Explorer on a drive letter mapped to onedav, through the Mini-Redirector persona
 * (windows-miniredir.ts cites where each request comes from). Each scenario checks what the user
 * sees in Explorer — the listing, the bytes, "Date modified" — and what lands on the drive.
 */
const MiB = 1024 * 1024;
/** Explorer's "Date modified" of the local file being copied (whole seconds: RFC 1123 dates). */
const LOCAL_MTIME = new Date('2024-03-05T07:08:09Z');

for (const kind of DRIVE_KINDS) {
  describe(`Windows Explorer (Mini-Redirector) on a ${kind.name} drive`, () => {
    let stack: DavStack;
    let win: WindowsMiniRedir;
    let driveId: string;
    const drivePaths = () => stack.emulator.drive.listPaths(driveId);

    beforeAll(async () => {
      ({ stack, driveId } = await startPersonaDrive(kind));
      win = new WindowsMiniRedir(stack.url);
    });
    afterAll(() => stack?.close());

    it('maps the drive (class 2 in OPTIONS, the root is a folder) and lists the root and a folder', async () => {
      const { dav, root } = await win.mount();
      expect(dav.split(',').map((s) => s.trim())).toContain('2');
      expect(root.isFolder).toBe(true);
      // Date formats Windows parses: ISO 8601 creationdate ending in Z ("mandatory on Windows >= 7",
      // orthanc OrthancFramework/Sources/HttpServer/IWebDavBucket.cpp) and RFC 1123 getlastmodified.
      expect(root.props.get('{DAV:}creationdate')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(root.props.get('{DAV:}getlastmodified')).toMatch(/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
      expect((await win.browse('')).map((f) => f.name)).toContain('Documents');
      const docs = await win.browse('Documents');
      expect(docs.map((f) => `${f.name}${f.isFolder ? '/' : ''}`).sort()).toEqual(['Sub/', 'report.txt']);
      expect(docs.find((f) => f.name === 'report.txt')?.size).toBe(16);
    });

    it('opens a file: the bytes Explorer gets are those on the drive, streamed (never a redirect)', async () => {
      const got = await win.open('Documents/report.txt');
      expect(got.status).toBe(200);
      expect(got.quickXorHash).toBe((await stack.graphItem('/Documents/report.txt')).file && stack.emulator.drive.stat(driveId, 'Documents/report.txt')?.quickXorHash);
    });

    it('copies a file in: created, locked, written, Win32LastModifiedTime becomes the drive mtime, unlocked', async () => {
      await win.copyIn('Documents/copied.bin', Buffer.from('copied bytes'), LOCAL_MTIME);
      expect(win.log.slice(-6).map((l) => l.split(' ')[0])).toEqual(['PROPFIND', 'PUT', 'LOCK', 'PUT', 'PROPPATCH', 'UNLOCK']);
      expect((await stack.emulator.drive.readFile(driveId, 'Documents/copied.bin')).toString()).toBe('copied bytes');
      const listed = (await win.browse('Documents')).find((f) => f.name === 'copied.bin');
      expect(listed?.modified.toISOString()).toBe(LOCAL_MTIME.toISOString());
      expect(new Date((await stack.graphItem('/Documents/copied.bin')).fileSystemInfo?.lastModifiedDateTime ?? 0).toISOString()).toBe(LOCAL_MTIME.toISOString());
      // The lock is gone: another client can lock the file at once.
      const other = new WindowsMiniRedir(stack.url, undefined, 'CONTOSO\\megan');
      await other.unlock('Documents/copied.bin', await other.lock('Documents/copied.bin'));
    });

    it('copies a file whose name has spaces, #, % , accents and CJK', async () => {
      const name = 'Résumé #1 50% 履歴書.txt';
      await win.copyIn(`Documents/${name}`, Buffer.from('cv'), LOCAL_MTIME);
      expect((await stack.emulator.drive.readFile(driveId, `Documents/${name}`)).toString()).toBe('cv');
      expect((await win.browse('Documents')).map((f) => f.name)).toContain(name);
      expect((await win.open(`Documents/${name}`)).size).toBe(2);
    });

    it('saves a new document the way Office does (LOCK on a new name, refresh, 0-byte PUT, PUT, PROPPATCH, UNLOCK)', async () => {
      const doc = Buffer.from('PK\u0003\u0004 a Word document');
      const { lockStatus, refreshStatus } = await win.saveLikeOffice('Documents/Letter.docx', doc, LOCAL_MTIME);
      // RFC 4918 §9.10.4: a LOCK on an unmapped URL creates an empty resource and answers 201.
      expect(lockStatus).toBe(201);
      expect(refreshStatus).toBe(200);
      // SharePoint-backed drives rewrite Office files on commit (src/graph/sharepoint-rewrites.ts):
      // the stored document starts with what Word wrote, and Explorer is shown what is stored.
      const stored = await stack.emulator.drive.readFile(driveId, 'Documents/Letter.docx');
      expect(stored.subarray(0, doc.length)).toEqual(doc);
      const listed = (await win.browse('Documents')).find((f) => f.name === 'Letter.docx');
      expect(listed).toMatchObject({ size: stored.length });
      expect((await win.open('Documents/Letter.docx')).size).toBe(stored.length);
      expect(listed?.modified.toISOString()).toBe(LOCAL_MTIME.toISOString());
      // No lock left, no temporary file on the drive.
      const found = await send(stack.url, { method: 'PROPFIND', path: '/Documents/Letter.docx', headers: { Depth: '0', 'Content-Type': 'text/xml' }, body: '<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>' });
      expect(found.text).not.toContain('activelock');
      const known = ['/Documents/', '/Documents/Letter.docx', '/Documents/Résumé #1 50% 履歴書.txt', '/Documents/Sub/', '/Documents/Sub/notes é 中.txt', '/Documents/copied.bin', '/Documents/report.txt'];
      expect(drivePaths()).toContain('/Documents/Letter.docx');
      expect(drivePaths().filter((p) => p.startsWith('/Documents/') && !known.includes(p))).toEqual([]);
    });

    it('saves over an open document the way Word does (temporary ~WRD, rename the original to ~WRL, rename, delete): no temporary left', async () => {
      await stack.emulator.drive.putFile(driveId, 'Documents/Plan.txt', 'plan v1');
      const statuses = await win.saveOverLikeWord('Documents/Plan.txt', Buffer.from('plan v2'), LOCAL_MTIME);
      // The UNLOCK answers 409: the lock ended with the MOVE of the locked original (RFC 4918 §7.7).
      expect(statuses).toEqual([201, 201, 204, 409]);
      expect((await stack.emulator.drive.readFile(driveId, 'Documents/Plan.txt')).toString()).toBe('plan v2');
      expect(drivePaths().filter((p) => /~WR[DL]\d+\.tmp/.test(p))).toEqual([]);
      const listed = (await win.browse('Documents')).find((f) => f.name === 'Plan.txt');
      expect(listed?.modified.toISOString()).toBe(LOCAL_MTIME.toISOString());
      // Whatever the UNLOCK said, nothing stays locked: another user can lock the document.
      const other = new WindowsMiniRedir(stack.url, undefined, 'CONTOSO\\megan');
      await other.unlock('Documents/Plan.txt', await other.lock('Documents/Plan.txt'));
    });

    it('renames, moves to another folder, and refuses to overwrite (Overwrite: F)', async () => {
      await win.mkdir('Archive');
      expect((await win.rename('Documents/copied.bin', 'Documents/renamed.bin')).status).toBe(201);
      expect((await win.move('Documents/renamed.bin', 'Archive/renamed.bin')).status).toBe(201);
      expect((await win.browse('Archive')).map((f) => f.name)).toEqual(['renamed.bin']);
      // A new folder renamed, as Explorer does right after "New folder" (no trailing slashes).
      await win.mkdir('New folder');
      expect((await win.rename('New folder', 'Projects 2025')).status).toBe(201);
      expect((await win.browse('')).map((f) => f.name)).toEqual(expect.arrayContaining(['Projects 2025']));
      expect(stack.emulator.drive.stat(driveId, 'New folder')).toBeUndefined();
      expect((await stack.emulator.drive.readFile(driveId, 'Archive/renamed.bin')).toString()).toBe('copied bytes');
      expect(stack.emulator.drive.stat(driveId, 'Documents/renamed.bin')).toBeUndefined();
      // Explorer asks before replacing, so its MOVE says Overwrite: F; the other file stays intact.
      await win.copyIn('Documents/other.txt', Buffer.from('other'), LOCAL_MTIME);
      expect((await win.move('Documents/other.txt', 'Archive/renamed.bin')).status).toBe(412);
      expect((await stack.emulator.drive.readFile(driveId, 'Archive/renamed.bin')).toString()).toBe('copied bytes');
    });

    it('deletes a folder tree: nothing of it is left on the drive', async () => {
      await win.mkdir('Trash me');
      await win.mkdir('Trash me/inner');
      await win.copyIn('Trash me/a.txt', Buffer.from('a'), LOCAL_MTIME);
      await win.copyIn('Trash me/inner/b.txt', Buffer.from('b'), LOCAL_MTIME);
      await win.deleteTree('Trash me');
      expect(drivePaths().filter((p) => p.startsWith('/Trash me'))).toEqual([]);
      expect((await win.browse('')).map((f) => f.name)).not.toContain('Trash me');
    });

    it('shows the drive quota as free space', async () => {
      const { available, used } = await win.freeSpace();
      expect(available).toBeGreaterThan(0);
      expect(used).toBeGreaterThanOrEqual(0);
      const quota = await stack.drives[0].quota();
      expect(available).toBe(quota.remaining);
    });
  });
}

describe('Windows Explorer on a business drive: the big cases', () => {
  let stack: DavStack;
  let win: WindowsMiniRedir;
  let driveId: string;

  beforeAll(async () => {
    stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])] });
    driveId = stack.driveIds[0];
    win = new WindowsMiniRedir(stack.url);
  });
  afterAll(() => stack?.close());

  it('lists a folder of 2,000 items completely', async () => {
    for (let i = 0; i < 2000; i += 1) await stack.emulator.drive.putFile(driveId, `Big/item ${String(i).padStart(4, '0')}.txt`, `#${i}`);
    await win.mount();
    const listed = await win.browse('Big');
    expect(listed).toHaveLength(2000);
    expect(new Set(listed.map((f) => f.name)).size).toBe(2000);
    expect(listed.find((f) => f.name === 'item 1999.txt')?.size).toBe(5);
  }, 120_000);

  it('copies a 200 MiB file in with Content-Length, streamed: the bytes on the drive match, memory stays bounded', async () => {
    const body = new GeneratedBody(200 * MiB);
    await win.mkdir('Video');
    const before = process.memoryUsage().arrayBuffers;
    await win.copyIn('Video/holiday.mp4', body, LOCAL_MTIME);
    const stored = stack.emulator.drive.stat(driveId, 'Video/holiday.mp4');
    expect(stored?.size).toBe(200 * MiB);
    expect(stored?.quickXorHash).toBe(body.hash.digestBase64());
    expect(stored?.modified.toISOString()).toBe(LOCAL_MTIME.toISOString());
    // Nothing held the whole body: far less than 200 MiB of buffers were alive at any point.
    expect(body.peakArrayBuffers - before).toBeLessThan(96 * MiB);
    const back = await win.open('Video/holiday.mp4');
    expect(back).toMatchObject({ status: 200, size: 200 * MiB, quickXorHash: stored?.quickXorHash });
    expect(back.peakArrayBuffers - before).toBeLessThan(96 * MiB);
  }, 300_000);
});

describe('Windows Explorer mapping with a password', () => {
  let stack: DavStack;

  beforeAll(async () => {
    const users = [{ name: 'alice', password: await hashPassword('alice-secret', { N: 1 << 10, r: 8, p: 1 }) }];
    stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])], dav: { users, anonymous: { enabled: false } } });
  });
  afterAll(() => stack?.close());

  it('is challenged for Basic credentials first, then maps and writes with them', async () => {
    // The WebClient's first request carries no credentials; the Basic challenge makes Windows ask
    // (and, with BasicAuthLevel 1, send them only over HTTPS: see windows.md).
    const anonymous = await send(stack.url, { method: 'OPTIONS', path: '/', headers: { 'User-Agent': MINIREDIR_UA, translate: 'f' } });
    expect(anonymous.status).toBe(401);
    expect(String(anonymous.headers['www-authenticate'])).toMatch(/^Basic realm="/);
    const win = new WindowsMiniRedir(stack.url, { user: 'alice', password: 'alice-secret' });
    await win.mount();
    await win.copyIn('from-windows.txt', Buffer.from('hello'), LOCAL_MTIME);
    expect((await stack.emulator.drive.readFile(stack.driveIds[0], 'from-windows.txt')).toString()).toBe('hello');
  });
});

describe.skipIf(!hasProgram('openssl'))('Windows Explorer mapping with a password over HTTPS', () => {
  let stack: DavStack;
  let certDir: string;

  beforeAll(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'onedav-win-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
    const users = [{ name: 'alice', password: await hashPassword('alice-secret', { N: 1 << 10, r: 8, p: 1 }) }];
    stack = await startDavStack({
      mounts: [mountOf(DRIVE_KINDS[0])],
      dav: { users, anonymous: { enabled: false }, tls: { cert: join(certDir, 'cert.pem'), key: join(certDir, 'key.pem') } },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await rm(certDir, { recursive: true, force: true });
  });

  // BasicAuthLevel 1, the WebClient's default, sends Basic credentials only over HTTPS
  // (docs/clients/windows.md): this is the setup a Windows user without registry changes needs.
  it('is challenged over TLS, then maps, copies in and reads back with Basic credentials', async () => {
    expect(stack.url).toMatch(/^https:\/\//);
    const anonymous = await send(stack.url, { method: 'OPTIONS', path: '/', headers: { 'User-Agent': MINIREDIR_UA, translate: 'f' } });
    expect(anonymous.status).toBe(401);
    expect(String(anonymous.headers['www-authenticate'])).toMatch(/^Basic realm="/);
    const win = new WindowsMiniRedir(stack.url, { user: 'alice', password: 'alice-secret' });
    await win.mount();
    await win.copyIn('über TLS #1.txt', Buffer.from('sicher'), LOCAL_MTIME);
    expect((await stack.emulator.drive.readFile(stack.driveIds[0], 'über TLS #1.txt')).toString()).toBe('sicher');
    const opened = await win.open('über TLS #1.txt');
    expect(opened.size).toBe(6);
  });
});

describe('Windows Explorer and download mode auto', () => {
  let stack: DavStack;

  beforeAll(async () => {
    stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])], dav: { download: { mode: 'auto' } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'film.bin', 'film bytes');
  });
  afterAll(() => stack?.close());

  it('streams the bytes to the Mini-Redirector instead of a 302 it would not follow', async () => {
    expect(shouldRedirect('auto', MINIREDIR_UA)).toBe(false);
    expect(shouldRedirect('auto', `Mozilla/4.0 (compatible; MSIE 6.0) ${MINIREDIR_UA}`)).toBe(false);
    const res = await send(stack.url, { method: 'GET', path: '/film.bin', headers: { 'User-Agent': MINIREDIR_UA, translate: 'f' } });
    expect(res.status).toBe(200);
    expect(res.text).toBe('film bytes');
    // The same request from a client that follows redirects is sent to the download URL.
    const rclone = await send(stack.url, { method: 'GET', path: '/film.bin', headers: { 'User-Agent': 'rclone/v1.68.0' } });
    expect(rclone.status).toBe(302);
  });
});
