import { randomBytes } from 'node:crypto';
import { ENRICHMENT_TRAILER } from '../../src/emulator/drive/enrichment.js';
import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { D, parseMultistatus } from '../helpers/multistatus.js';
import { dav, MEGAN, startDavStack, type DavStack } from '../helpers/stack.js';

const MiB = 1024 * 1024;

/** Starts a PUT, sends `sent` bytes of a declared `total`, then drops the connection. */
function abortedPut(stack: DavStack, path: string, total: number, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const url = new URL(stack.url);
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, headers: { 'Content-Length': String(total) } });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(randomBytes(sent), () => setTimeout(() => req.destroy(), 50));
  });
}

describe('PUT', () => {
  let stack: DavStack;
  let drive: string;
  const read = (path: string) => stack.emulator.drive.readFile(drive, path);

  beforeAll(async () => {
    stack = await startDavStack({ dav: { macMetadata: 'refuse' } });
    drive = stack.driveIds[0];
    stack.emulator.drive.mkdir(drive, 'up');
  });
  afterAll(() => stack.close());

  it('creates with 201, replaces with 204, and reports the same ETag as PROPFIND', async () => {
    const created = await dav(stack, 'PUT', '/up/a.txt', { body: 'first' });
    expect(created.status).toBe(201);
    const replaced = await dav(stack, 'PUT', '/up/a.txt', { body: 'second version' });
    expect(replaced.status).toBe(204);
    expect(replaced.headers.get('etag')).not.toBe(created.headers.get('etag'));
    expect((await read('up/a.txt')).toString()).toBe('second version');
    const [entry] = parseMultistatus(await (await dav(stack, 'PROPFIND', '/up/a.txt', { headers: { Depth: '0' } })).text());
    expect(entry.props[D('getetag')]).toBe(replaced.headers.get('etag'));
  });

  it('refuses a missing parent (409), a folder (405) and partial PUT (400)', async () => {
    expect((await dav(stack, 'PUT', '/nowhere/a.txt', { body: 'x' })).status).toBe(409);
    expect((await dav(stack, 'PUT', '/up', { body: 'x' })).status).toBe(405);
    expect((await dav(stack, 'PUT', '/up/b.txt', { body: 'x', headers: { 'Content-Range': 'bytes 0-0/10' } })).status).toBe(400);
  });

  it('streams a large body into an upload session in 320 KiB multiples', async () => {
    const body = randomBytes(6 * MiB + 12345);
    expect((await dav(stack, 'PUT', '/up/big.bin', { body })).status).toBe(201);
    expect((await read('up/big.bin')).equals(body)).toBe(true);
    const log = stack.emulator.drive.uploadFragments().at(-1)!;
    const sizes = (log as unknown as { fragments: Array<{ length: number } | number> }).fragments.map((f) => (typeof f === 'number' ? f : f.length));
    expect(sizes.slice(0, -1).every((n) => n % 327_680 === 0)).toBe(true);
  });

  it('takes chunked bodies with X-Expected-Entity-Length (Finder)', async () => {
    const parts = [randomBytes(100_000), randomBytes(200_000)];
    const body = new ReadableStream({
      start(c) {
        for (const p of parts) c.enqueue(new Uint8Array(p));
        c.close();
      },
    });
    const res = await fetch(`${stack.url}/up/finder.bin`, { method: 'PUT', body, headers: { 'X-Expected-Entity-Length': '300000' }, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(201);
    expect((await read('up/finder.bin')).equals(Buffer.concat(parts))).toBe(true);
  });

  it('handles the Windows pattern: an empty PUT, then the content', async () => {
    expect((await dav(stack, 'PUT', '/up/win.docx', { body: '' })).status).toBe(201);
    expect((await dav(stack, 'PUT', '/up/win.docx', { body: 'real content' })).status).toBe(204);
    // Adele's drive is OneDrive for Business: SharePoint adds its own bytes to Office documents (see
    // src/graph/sharepoint-rewrites.ts), and the save must still succeed with what it stored.
    expect((await read('up/win.docx')).equals(Buffer.concat([Buffer.from('real content'), ENRICHMENT_TRAILER]))).toBe(true);
  });

  it('sets the mtime from X-OC-Mtime (rclone, ownCloud clients)', async () => {
    const res = await dav(stack, 'PUT', '/up/mtime.txt', { body: 'm', headers: { 'X-OC-Mtime': '1700000000' } });
    expect(res.headers.get('x-oc-mtime')).toBe('accepted');
    const [entry] = parseMultistatus(await (await dav(stack, 'PROPFIND', '/up/mtime.txt', { headers: { Depth: '0' } })).text());
    expect(new Date(entry.props[D('getlastmodified')]).getTime()).toBe(1_700_000_000_000);
  });

  it('checks If-Match and If-None-Match', async () => {
    await dav(stack, 'PUT', '/up/cond.txt', { body: 'v1' });
    expect((await dav(stack, 'PUT', '/up/cond.txt', { body: 'v2', headers: { 'If-Match': '"wrong"' } })).status).toBe(412);
    expect((await dav(stack, 'PUT', '/up/cond.txt', { body: 'v2', headers: { 'If-None-Match': '*' } })).status).toBe(412);
    const etag = (await dav(stack, 'HEAD', '/up/cond.txt')).headers.get('etag')!;
    expect((await dav(stack, 'PUT', '/up/cond.txt', { body: 'v2', headers: { 'If-Match': etag } })).status).toBe(204);
    expect((await read('up/cond.txt')).toString()).toBe('v2');
  });

  it('refuses macOS metadata files when configured to', async () => {
    for (const name of ['._photo.jpg', '.DS_Store']) {
      const res = await dav(stack, 'PUT', `/up/${name}`, { body: 'meta' });
      expect(res.status).toBe(403);
      expect(await res.text()).toMatch(/macMetadata/);
    }
  });

  it('explains invalid OneDrive names with 400', async () => {
    const res = await dav(stack, 'PUT', '/up/a%3Ab.txt', { body: 'x' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('":"');
  });

  it.each([
    ['simple upload', 2 * MiB],
    ['upload session', 8 * MiB],
  ])('keeps the old file when the client aborts mid-body (%s)', async (_kind, total) => {
    await stack.emulator.drive.putFile(drive, 'up/keep.bin', 'old content');
    await abortedPut(stack, '/up/keep.bin', total, total / 2);
    await eventually(() => stack.emulator.drive.openUploadSessions() === 0 && stack.emulator.drive.fragmentsInFlight() === 0, 'upload sessions closed', { tries: 200 });
    expect((await read('up/keep.bin')).toString()).toBe('old content');
    // …and the server still works.
    expect((await dav(stack, 'GET', '/up/keep.bin')).status).toBe(200);
  });
});

describe('drive errors as WebDAV statuses', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack({ drive: { client: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5, maxTotalWaitMs: 50 } } } });
    drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'kept.txt', 'good old bytes');
  });
  beforeEach(() => stack.emulator.faults.setPlan(null));
  afterAll(() => stack.close());

  it('507 when the drive is full', async () => {
    stack.emulator.drive.setQuota(drive, 100_000);
    const res = await dav(stack, 'PUT', '/full.bin', { body: randomBytes(200_000) });
    expect(res.status).toBe(507);
    stack.emulator.drive.setQuota(drive, 1024 * MiB);
  });

  it('503 with Retry-After when throttled beyond the retry budget', async () => {
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph' }, action: { type: 'status', status: 429, retryAfter: 7 } }] });
    const res = await dav(stack, 'PROPFIND', '/never-seen', { headers: { Depth: '0' } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
  });

  it('502 on a hash mismatch, saying what happened to the bad copy', async () => {
    stack.emulator.drive.corruptNextUploads(1);
    const res = await dav(stack, 'PUT', '/kept.txt', { body: 'new bytes that arrive corrupted' });
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/hash mismatch.*Upload again/is);
    // The emulator keeps versions: the previous content was restored, so a GET gets the old bytes.
    expect(await (await fetch(`${stack.url}/kept.txt`)).text()).toBe('good old bytes');
  });
});

describe('MKCOL, DELETE, COPY, MOVE', () => {
  let stack: DavStack;
  let drive: string;
  const paths = () => stack.emulator.drive.listPaths(drive);

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'src/a.txt', 'A');
    await stack.emulator.drive.putFile(drive, 'src/sub/b.txt', 'B');
  });
  afterAll(() => stack.close());

  it('MKCOL: 201, 405 when it exists, 409 without parent, 415 with a body', async () => {
    expect((await dav(stack, 'MKCOL', '/made/')).status).toBe(201);
    expect((await dav(stack, 'MKCOL', '/made/')).status).toBe(405);
    expect((await dav(stack, 'MKCOL', '/src/a.txt')).status).toBe(405);
    expect((await dav(stack, 'MKCOL', '/no/parent/')).status).toBe(409);
    expect((await dav(stack, 'MKCOL', '/withbody/', { body: 'x', headers: { 'Content-Type': 'text/plain' } })).status).toBe(415);
  });

  it('COPY a file: 201, 412 with Overwrite F, 204 when replacing', async () => {
    expect((await dav(stack, 'COPY', '/src/a.txt', { headers: { Destination: `${stack.url}/copy.txt` } })).status).toBe(201);
    expect((await dav(stack, 'COPY', '/src/a.txt', { headers: { Destination: '/copy.txt', Overwrite: 'F' } })).status).toBe(412);
    expect((await dav(stack, 'COPY', '/src/sub/b.txt', { headers: { Destination: '/copy.txt', Overwrite: 'T' } })).status).toBe(204);
    expect((await stack.emulator.drive.readFile(drive, 'copy.txt')).toString()).toBe('B');
  });

  it('COPY a folder with Depth infinity and Depth 0', async () => {
    expect((await dav(stack, 'COPY', '/src/', { headers: { Destination: '/deep/' } })).status).toBe(201);
    expect(paths()).toEqual(expect.arrayContaining(['/deep/', '/deep/a.txt', '/deep/sub/', '/deep/sub/b.txt']));
    expect((await dav(stack, 'COPY', '/src/', { headers: { Destination: '/shallow/', Depth: '0' } })).status).toBe(201);
    expect(paths().filter((p) => p.startsWith('/shallow/'))).toEqual(['/shallow/']);
    expect((await dav(stack, 'COPY', '/src/', { headers: { Destination: '/x/', Depth: '1' } })).status).toBe(400);
  });

  it('refuses copies onto themselves, into themselves and into missing folders', async () => {
    expect((await dav(stack, 'COPY', '/src/', { headers: { Destination: '/src/' } })).status).toBe(403);
    expect((await dav(stack, 'COPY', '/src/', { headers: { Destination: '/src/sub/inner/' } })).status).toBe(403);
    expect((await dav(stack, 'COPY', '/src/a.txt', { headers: { Destination: '/nonesuch/a.txt' } })).status).toBe(409);
    expect((await dav(stack, 'COPY', '/missing.txt', { headers: { Destination: '/m.txt' } })).status).toBe(404);
    expect((await dav(stack, 'COPY', '/src/a.txt')).status).toBe(400);
  });

  it('refuses to replace a folder that contains the source (it would delete the source first) with 403', async () => {
    await stack.emulator.drive.putFile(drive, 'nest/inner/keep.txt', 'keep');
    for (const method of ['COPY', 'MOVE']) {
      expect((await dav(stack, method, '/nest/inner/', { headers: { Destination: '/nest/', Overwrite: 'T' } })).status).toBe(403);
      expect((await dav(stack, method, '/nest/inner/keep.txt', { headers: { Destination: '/nest/' } })).status).toBe(403);
    }
    expect((await stack.emulator.drive.readFile(drive, 'nest/inner/keep.txt')).toString()).toBe('keep');
  });

  it('MOVE: rename, case-only rename, replace a folder with a file', async () => {
    await stack.emulator.drive.putFile(drive, 'mv/one.txt', '1');
    stack.emulator.drive.mkdir(drive, 'mv/folder/inside');
    expect((await dav(stack, 'MOVE', '/mv/one.txt', { headers: { Destination: '/mv/two.txt' } })).status).toBe(201);
    expect((await dav(stack, 'MOVE', '/mv/two.txt', { headers: { Destination: '/mv/Two.txt' } })).status).toBe(201);
    expect(paths().filter((p) => p.startsWith('/mv/') && p.endsWith('.txt'))).toEqual(['/mv/Two.txt']);
    expect((await dav(stack, 'MOVE', '/mv/Two.txt', { headers: { Destination: '/mv/folder', Overwrite: 'F' } })).status).toBe(412);
    expect((await dav(stack, 'MOVE', '/mv/Two.txt', { headers: { Destination: '/mv/folder' } })).status).toBe(204);
    expect(paths().filter((p) => p.startsWith('/mv/'))).toEqual(['/mv/', '/mv/folder']);
  });

  it('DELETE: files and whole folders with 204, 404 when missing, 400 for Depth 0 on a folder', async () => {
    expect((await dav(stack, 'DELETE', '/deep/', { headers: { Depth: '0' } })).status).toBe(400);
    expect((await dav(stack, 'DELETE', '/deep/')).status).toBe(204);
    expect(paths().some((p) => p.startsWith('/deep/'))).toBe(false);
    expect((await dav(stack, 'DELETE', '/copy.txt')).status).toBe(204);
    expect((await dav(stack, 'DELETE', '/copy.txt')).status).toBe(404);
    expect((await dav(stack, 'DELETE', '/')).status).toBe(403);
  });
});

describe('COPY and MOVE between mounts', () => {
  let stack: DavStack;
  let mine: string;
  let theirs: string;

  beforeAll(async () => {
    stack = await startDavStack({ mounts: [{ prefix: '/me' }, { prefix: '/team', user: MEGAN }] });
    [mine, theirs] = stack.driveIds;
    await stack.emulator.drive.putFile(mine, 'tree/small.txt', 'small');
    await stack.emulator.drive.putFile(mine, 'tree/nested/big.bin', randomBytes(300_000));
    await stack.emulator.drive.putFile(mine, 'single.txt', 'one');
  });
  afterAll(() => stack.close());

  it('streams a folder tree from one drive to the other', async () => {
    const res = await dav(stack, 'COPY', '/me/tree/', { headers: { Destination: '/team/tree/' } });
    expect(res.status).toBe(201);
    expect(stack.emulator.drive.listPaths(theirs)).toEqual(['/tree/', '/tree/nested/', '/tree/nested/big.bin', '/tree/small.txt']);
    expect((await stack.emulator.drive.readFile(theirs, 'tree/nested/big.bin')).equals(await stack.emulator.drive.readFile(mine, 'tree/nested/big.bin'))).toBe(true);
  });

  it('moves a file across and deletes the source', async () => {
    expect((await dav(stack, 'MOVE', '/me/single.txt', { headers: { Destination: '/team/single.txt' } })).status).toBe(201);
    expect(stack.emulator.drive.stat(mine, 'single.txt')).toBeUndefined();
    expect((await stack.emulator.drive.readFile(theirs, 'single.txt')).toString()).toBe('one');
  });

  it('reports members that failed in a 207 and keeps the source of a MOVE', async () => {
    stack.emulator.drive.setQuota(theirs, 400_000); // room for the small file, not for big.bin
    const res = await dav(stack, 'MOVE', '/me/tree/', { headers: { Destination: '/team/again/' } });
    expect(res.status).toBe(207);
    const failures = parseMultistatus(await res.text());
    expect(failures.map((f) => [f.href, f.responseStatus])).toEqual([['/team/again/nested/big.bin', 507]]);
    expect(stack.emulator.drive.stat(mine, 'tree/nested/big.bin')).toBeDefined();
    expect(stack.emulator.drive.listPaths(theirs)).toEqual(expect.arrayContaining(['/again/small.txt']));
  });
});
