import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { ADELE, EmulatorTokenSource, dav, startDavStack, type DavStack, type StackMount } from '../helpers/stack.js';

/**
 * What a WebDAV user sees where Graph's metadata behaves differently from a filesystem (issue 11,
 * behaviours 5, 8 and 9), against each drive profile: mtimes across MOVE and COPY, folder tags and
 * listings after remote changes, and download URLs that must not outlive SharePoint's short lifetime.
 */
const ALEX = 'alex@outlook.com';
const TEAM_SITE = 'contoso.sharepoint.com,2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d,3b4c5d6e-7f8a-4b9c-8d0e-2f3a4b5c6d7e';
const OLD = new Date('2021-03-04T05:06:07Z');

const PROFILES: Array<[string, StackMount]> = [
  ['business (adele)', { prefix: '/', user: ADELE }],
  ['documentLibrary (contoso team site)', { prefix: '/', user: ADELE, site: TEAM_SITE }],
  ['personal (alex)', { prefix: '/', user: ALEX }],
];

interface Props {
  etag?: string;
  modified?: string;
}

/** PROPFIND → decoded href (no trailing slash) → getetag and getlastmodified. */
async function propfind(stack: DavStack, path: string, depth: '0' | '1'): Promise<Map<string, Props>> {
  const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getlastmodified/></D:prop></D:propfind>';
  const res = await dav(stack, 'PROPFIND', path, { headers: { depth, 'content-type': 'application/xml' }, body });
  const text = await res.text();
  if (res.status !== 207) throw new Error(`PROPFIND ${path} answered ${res.status}: ${text}`);
  const out = new Map<string, Props>();
  for (const m of text.matchAll(/<D:response>([\s\S]*?)<\/D:response>/g)) {
    const href = decodeURIComponent(/<D:href>([^<]*)<\/D:href>/.exec(m[1])![1]).replace(/(.)\/$/, '$1');
    const etag = /<D:getetag>([^<]*)<\/D:getetag>/.exec(m[1])?.[1];
    const modified = /<D:getlastmodified>([^<]*)<\/D:getlastmodified>/.exec(m[1])?.[1];
    out.set(href, { etag, modified });
  }
  return out;
}

async function modifiedOf(stack: DavStack, path: string): Promise<string | undefined> {
  return (await propfind(stack, path, '0')).get(path)?.modified;
}

/** A Graph call as another client of the same drive would make it. */
async function graph(stack: DavStack, upn: string, method: string, path: string, body?: unknown): Promise<Response> {
  const token = await new EmulatorTokenSource(stack.emulator, upn).getAccessToken();
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined && typeof body !== 'string') headers['content-type'] = 'application/json';
  const res = await fetch(`${stack.emulator.url}/v1.0${path}`, { method, headers, body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`Graph ${method} ${path} answered ${res.status}: ${await res.text()}`);
  return res;
}

describe.each(PROFILES)('getlastmodified across MOVE and COPY on a %s drive', (_name, mount) => {
  const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
  let stack: DavStack;
  beforeAll(async () => {
    stack = await startDavStack({ emulator: { clock }, mounts: [mount] });
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'src/f.txt', 'file', { modified: OLD });
    await stack.emulator.drive.putFile(drive, 'tree/inner/deep.txt', 'deep', { modified: OLD });
    await stack.emulator.drive.putFile(drive, 'tree/top.txt', 'top', { modified: OLD });
    stack.emulator.drive.mkdir(drive, 'dest');
    clock.advance(3_600_000 - 60_000); // the service would stamp anything it touches now with a new time
  });
  afterAll(() => stack.close());

  it('MOVE and rename keep the source\'s getlastmodified (file and folder)', async () => {
    const want = OLD.toUTCString();
    expect(await modifiedOf(stack, '/src/f.txt')).toBe(want);
    const treeBefore = await modifiedOf(stack, '/tree');
    expect((await dav(stack, 'MOVE', '/src/f.txt', { headers: { destination: `${stack.url}/dest/moved.txt` } })).status).toBe(201);
    expect(await modifiedOf(stack, '/dest/moved.txt')).toBe(want);
    expect((await dav(stack, 'MOVE', '/dest/moved.txt', { headers: { destination: `${stack.url}/dest/renamed.txt` } })).status).toBe(201);
    expect(await modifiedOf(stack, '/dest/renamed.txt')).toBe(want);
    expect((await dav(stack, 'MOVE', '/tree', { headers: { destination: `${stack.url}/tree2` } })).status).toBe(201);
    expect(await modifiedOf(stack, '/tree2')).toBe(treeBefore);
    expect(await modifiedOf(stack, '/tree2/inner/deep.txt')).toBe(want);
  });

  it('COPY gives the copy the source\'s getlastmodified, down a copied folder', async () => {
    const want = OLD.toUTCString();
    expect((await dav(stack, 'COPY', '/dest/renamed.txt', { headers: { destination: `${stack.url}/copy.txt` } })).status).toBe(201);
    expect(await modifiedOf(stack, '/copy.txt')).toBe(want);
    const folderBefore = await modifiedOf(stack, '/tree2/inner');
    expect((await dav(stack, 'COPY', '/tree2', { headers: { destination: `${stack.url}/treecopy` } })).status).toBe(201);
    expect(await modifiedOf(stack, '/treecopy/top.txt')).toBe(want);
    expect(await modifiedOf(stack, '/treecopy/inner/deep.txt')).toBe(want);
    expect(await modifiedOf(stack, '/treecopy/inner')).toBe(folderBefore);
    // The source is untouched.
    expect(await modifiedOf(stack, '/tree2/top.txt')).toBe(want);
  });
});

describe.each(PROFILES)('PROPFIND after a remote change below a folder on a %s drive', (_name, mount) => {
  const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
  let stack: DavStack;
  beforeAll(async () => {
    // A long TTL: only the delta feed can tell onedav about the remote changes.
    stack = await startDavStack({ emulator: { clock }, mounts: [mount], drive: { cache: { ttlSeconds: 3600 } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'docs/a.txt', 'a');
    await stack.emulator.drive.putFile(stack.driveIds[0], 'docs/sub/b.txt', 'b');
    await stack.drives[0].pollChanges(); // the poller takes its starting point
  });
  afterAll(() => stack.close());

  it('the folder\'s getetag changes and its listing shows the change once delta reports it', async () => {
    const upn = mount.user!;
    const base = mount.site ? `/sites/${mount.site}/drive` : '/me/drive';
    const before = (await propfind(stack, '/', '1')).get('/docs')!.etag;
    expect([...(await propfind(stack, '/docs', '1')).keys()].sort()).toEqual(['/docs', '/docs/a.txt', '/docs/sub']);

    clock.advance(5_000);
    await graph(stack, upn, 'PUT', `${base}/root:/docs/new.txt:/content`, 'new');
    await stack.drives[0].pollChanges();
    const afterAdd = (await propfind(stack, '/', '1')).get('/docs')!.etag;
    expect(afterAdd).not.toBe(before);
    const listing = await propfind(stack, '/docs', '1');
    expect([...listing.keys()].sort()).toEqual(['/docs', '/docs/a.txt', '/docs/new.txt', '/docs/sub']);
    expect(listing.get('/docs')!.etag).toBe(afterAdd); // the same tag whichever request brought the folder

    clock.advance(5_000);
    await graph(stack, upn, 'PATCH', `${base}/root:/docs/a.txt`, { name: 'renamed.txt' }); // same number of children
    await stack.drives[0].pollChanges();
    const afterRename = (await propfind(stack, '/', '1')).get('/docs')!.etag;
    expect(afterRename).not.toBe(afterAdd);
    expect([...(await propfind(stack, '/docs', '1')).keys()].sort()).toEqual(['/docs', '/docs/new.txt', '/docs/renamed.txt', '/docs/sub']);
  });
});

describe('a remote folder rename or move seen through delta (business, adele)', () => {
  let stack: DavStack;
  afterEach(() => stack.close());

  async function start(): Promise<void> {
    stack = await startDavStack({ drive: { cache: { ttlSeconds: 3600 } } });
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'proj/sub/f.txt', 'f');
    await stack.emulator.drive.putFile(drive, 'proj/g.txt', 'g');
    stack.emulator.drive.mkdir(drive, 'archive');
    await stack.drives[0].pollChanges();
  }

  it('never leaves the old children in listings, even when the folder moved into a folder of the same name', async () => {
    await start();
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'a/proj/sub/f.txt', 'f');
    stack.emulator.drive.mkdir(drive, 'b');
    await stack.drives[0].pollChanges();
    // A client that opened /a/proj directly (a bookmark): onedav never learned the id of /a.
    await propfind(stack, '/a/proj', '1');
    await propfind(stack, '/a/proj/sub', '1');
    const b = (await (await graph(stack, ADELE, 'GET', '/me/drive/root:/b')).json()) as { id: string };
    await graph(stack, ADELE, 'PATCH', '/me/drive/root:/a/proj', { parentReference: { id: b.id } });
    await stack.drives[0].pollChanges();
    expect((await dav(stack, 'PROPFIND', '/a/proj/sub', { headers: { depth: '1' } })).status).toBe(404);
    expect((await dav(stack, 'PROPFIND', '/a/proj/sub/f.txt', { headers: { depth: '0' } })).status).toBe(404);
    expect([...(await propfind(stack, '/b/proj/sub', '1')).keys()].sort()).toEqual(['/b/proj/sub', '/b/proj/sub/f.txt']);
    // And a plain rename of a folder the client browsed to from the root.
    await propfind(stack, '/', '1');
    await propfind(stack, '/proj', '1');
    await propfind(stack, '/proj/sub', '1');
    await graph(stack, ADELE, 'PATCH', '/me/drive/root:/proj', { name: 'project' });
    await stack.drives[0].pollChanges();
    expect((await dav(stack, 'PROPFIND', '/proj/sub/f.txt', { headers: { depth: '0' } })).status).toBe(404);
    expect([...(await propfind(stack, '/', '1')).keys()].sort()).toEqual(['/', '/a', '/archive', '/b', '/project']);
    expect([...(await propfind(stack, '/project/sub', '1')).keys()].sort()).toEqual(['/project/sub', '/project/sub/f.txt']);
  });

  it('never serves a child it looked up directly whose unseen ancestor moved', async () => {
    await start();
    // Only the file itself was looked up: onedav never learned the ids of /proj or /proj/sub.
    expect((await propfind(stack, '/proj/sub/f.txt', '0')).has('/proj/sub/f.txt')).toBe(true);
    const archive = (await (await graph(stack, ADELE, 'GET', '/me/drive/root:/archive')).json()) as { id: string };
    await graph(stack, ADELE, 'PATCH', '/me/drive/root:/proj', { parentReference: { id: archive.id } });
    await stack.drives[0].pollChanges();
    expect((await dav(stack, 'PROPFIND', '/proj/sub/f.txt', { headers: { depth: '0' } })).status).toBe(404);
    expect((await dav(stack, 'GET', '/archive/proj/sub/f.txt')).status).toBe(200);
  });
});

describe.each([PROFILES[0], PROFILES[1]])('download URLs on a %s drive (3-minute URLs)', (_name, mount) => {
  const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
  const CONTENT = Buffer.from('short-lived bytes');
  // Metadata trusted for an hour: only the download URL's own lifetime decides when a new one is fetched.
  const LONG_TTL = { ttlSeconds: 3600 };

  it('a client following a 302 never gets an expired URL', async () => {
    const stack = await startDavStack({ emulator: { clock }, mounts: [mount], dav: { download: { mode: 'redirect' } }, drive: { clock, cache: LONG_TTL } });
    try {
      await stack.emulator.drive.putFile(stack.driveIds[0], 'f.bin', CONTENT);
      for (let elapsed = 0; elapsed <= 15 * 60_000; elapsed += 20_000) {
        const res = await dav(stack, 'GET', '/f.bin');
        expect(res.status).toBe(302);
        const followed = await fetch(res.headers.get('location')!);
        expect({ elapsed, status: followed.status }).toEqual({ elapsed, status: 200 });
        expect(Buffer.from(await followed.arrayBuffer()).equals(CONTENT)).toBe(true);
        clock.advance(20_000);
      }
    } finally {
      await stack.close();
    }
  });

  it('proxy mode fetches a new URL by itself when the short-lived one was refused', async () => {
    // onedav told to trust URLs for an hour: the service's 3 minutes win, and the proxy recovers.
    const stack = await startDavStack({ emulator: { clock }, mounts: [mount], dav: { download: { mode: 'proxy' } }, drive: { clock, cache: LONG_TTL, downloadUrlLifetimeMs: 3_600_000 } });
    try {
      await stack.emulator.drive.putFile(stack.driveIds[0], 'f.bin', CONTENT);
      expect(Buffer.from(await (await dav(stack, 'GET', '/f.bin')).arrayBuffer()).equals(CONTENT)).toBe(true);
      clock.advance(200_000);
      stack.resetCounters();
      const res = await dav(stack, 'GET', '/f.bin');
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(CONTENT)).toBe(true);
      const byStatus = stack.emulator.counters.snapshot().byStatus;
      expect(byStatus['download: 401']).toBe(1);
      expect(byStatus['download: 200']).toBe(1);
    } finally {
      await stack.close();
    }
  });
});
