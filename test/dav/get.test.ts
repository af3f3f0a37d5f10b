import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

const CONTENT = randomBytes(300_000);

describe.each(['proxy', 'redirect'] as const)('GET in %s mode', (mode) => {
  let stack: DavStack;

  beforeAll(async () => {
    stack = await startDavStack({ dav: { download: { mode } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'media/clip.bin', CONTENT);
    await stack.emulator.drive.putFile(stack.driveIds[0], 'media/empty.txt', Buffer.alloc(0));
  });
  afterAll(() => stack.close());

  /** GET following a redirect the way a redirect-following client would (Range kept). */
  async function fetchBytes(headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Headers; redirected: boolean }> {
    let res = await dav(stack, 'GET', '/media/clip.bin', { headers });
    let redirected = false;
    if (res.status === 302) {
      redirected = true;
      const location = res.headers.get('location')!;
      expect(res.headers.get('cache-control')).toContain('no-store');
      res = await fetch(location, { headers });
    }
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers, redirected };
  }

  it('serves the whole file', async () => {
    const res = await fetchBytes();
    expect(res.redirected).toBe(mode === 'redirect');
    expect(res.status).toBe(200);
    expect(res.body.equals(CONTENT)).toBe(true);
  });

  it.each([
    ['first byte', 'bytes=0-0', 0, 0],
    ['middle', 'bytes=1000-1999', 1000, 1999],
    ['suffix', 'bytes=-500', CONTENT.length - 500, CONTENT.length - 1],
    ['open end', `bytes=${CONTENT.length - 10}-`, CONTENT.length - 10, CONTENT.length - 1],
  ])('serves a range: %s', async (_name, range, start, end) => {
    const res = await fetchBytes({ Range: range });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${CONTENT.length}`);
    expect(res.body.equals(CONTENT.subarray(start, end + 1))).toBe(true);
  });

  it('answers 416 for a range beyond the end', async () => {
    const res = await dav(stack, 'GET', '/media/clip.bin', { headers: { Range: `bytes=${CONTENT.length}-` } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${CONTENT.length}`);
  });

  it('answers HEAD from metadata, without a download URL', async () => {
    stack.resetCounters();
    const res = await dav(stack, 'HEAD', '/media/clip.bin');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(CONTENT.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toMatch(/^"/);
    expect(res.headers.get('last-modified')).toMatch(/GMT$/);
    expect(stack.emulator.counters.snapshot().byCategory.download ?? 0).toBe(0);
  });

  it('answers conditional GETs with 304 and 412 before going to OneDrive', async () => {
    const etag = (await dav(stack, 'HEAD', '/media/clip.bin')).headers.get('etag')!;
    stack.resetCounters();
    expect((await dav(stack, 'GET', '/media/clip.bin', { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect((await dav(stack, 'GET', '/media/clip.bin', { headers: { 'If-Match': '"nope"' } })).status).toBe(412);
    expect(stack.graphCalls()).toBe(0);
  });

  it('serves empty files without asking for a download URL', async () => {
    await dav(stack, 'HEAD', '/media/empty.txt');
    stack.resetCounters();
    const res = await dav(stack, 'GET', '/media/empty.txt');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(stack.graphCalls()).toBe(0);
  });
});

describe('proxy mode streaming', () => {
  let stack: DavStack;
  const clock = new ManualClock();

  beforeAll(async () => {
    stack = await startDavStack({ emulator: { clock, settings: { downloadUrlLifetimeSec: 60 } }, dav: { download: { mode: 'proxy' } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'big.bin', CONTENT);
  });
  afterAll(() => stack.close());

  it('re-fetches an expired download URL transparently', async () => {
    expect(Buffer.from(await (await dav(stack, 'GET', '/big.bin')).arrayBuffer()).equals(CONTENT)).toBe(true);
    clock.advance(120_000); // the emulator now refuses the URL the drive still trusts
    stack.resetCounters();
    const res = await dav(stack, 'GET', '/big.bin');
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(CONTENT)).toBe(true);
    const snap = stack.emulator.counters.snapshot();
    expect(snap.byStatus['download: 401']).toBe(1);
    expect(snap.byStatus['download: 200']).toBe(1);
  });

  it('stops reading from OneDrive when the client goes away', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${stack.url}/big.bin`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', resolve);
      req.setTimeout(10_000, () => reject(new Error('no data')));
      req.end();
    });
    // The server stays healthy for the next request.
    expect((await dav(stack, 'HEAD', '/big.bin')).status).toBe(200);
  });
});

describe('auto mode', () => {
  let stack: DavStack;

  beforeAll(async () => {
    stack = await startDavStack({ dav: { download: { mode: 'auto' } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'f.txt', 'redirect me');
  });
  afterAll(() => stack.close());

  it('redirects clients known to follow, proxies the rest', async () => {
    const rclone = await dav(stack, 'GET', '/f.txt', { headers: { 'User-Agent': 'rclone/v1.60.1' } });
    expect(rclone.status).toBe(302);
    expect(rclone.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dl\//);
    const windows = await dav(stack, 'GET', '/f.txt', { headers: { 'User-Agent': 'Microsoft-WebDAV-MiniRedir/10.0.19045' } });
    expect(windows.status).toBe(200);
    expect(await windows.text()).toBe('redirect me');
  });
});

describe('folder listing', () => {
  let stack: DavStack;

  beforeAll(async () => {
    stack = await startDavStack();
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, "site/b & it's.txt", '12345');
    await stack.emulator.drive.putFile(drive, 'site/a#1.txt', '1');
    stack.emulator.drive.mkdir(drive, 'site/zfolder');
  });
  afterAll(() => stack.close());

  it('renders a sorted, escaped HTML page with working links and no download URLs', async () => {
    const res = await dav(stack, 'GET', '/site/', { headers: { Accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html.indexOf('zfolder/')).toBeLessThan(html.indexOf('a#1.txt'));
    expect(html.indexOf('a#1.txt')).toBeLessThan(html.indexOf('b &amp; it&#39;s.txt'));
    expect(html).toContain('href="/site/a%231.txt"');
    expect(html).toContain('href="/site/b%20%26%20it%27s.txt"');
    expect(html).toContain('5 B');
    expect(html).not.toContain('/dl/');
    expect(await (await dav(stack, 'GET', '/site/a%231.txt')).text()).toBe('1');
  });
});
