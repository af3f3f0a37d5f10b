import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADELE, dav, startDavStack, type DavStack, type StackMount } from '../helpers/stack.js';

/**
 * PROPFIND Depth 1 (issue 16): a cold folder costs one Graph call when `$expand=children` proves the
 * listing complete, every child of a bigger folder is still listed, and a big listing streams its
 * 207 — a Graph page that fails after bytes went out leaves the client an error, never a document
 * that parses as complete, and nothing half-cached.
 */
const ALEX = 'alex@outlook.com';
const TEAM_SITE = 'contoso.sharepoint.com,2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d,3b4c5d6e-7f8a-4b9c-8d0e-2f3a4b5c6d7e';
const PROFILES: Array<[string, StackMount]> = [
  ['business (adele)', { prefix: '/', user: ADELE }],
  ['documentLibrary (contoso team site)', { prefix: '/', user: ADELE, site: TEAM_SITE }],
  ['personal (alex)', { prefix: '/', user: ALEX }],
];
const LEI = 'lei@fabrikam.partner.onmschina.cn';
const NAMES = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:resourcetype/></D:prop></D:propfind>';

async function listing(stack: DavStack, path: string): Promise<string[]> {
  const res = await dav(stack, 'PROPFIND', path, { headers: { depth: '1', 'content-type': 'application/xml' }, body: NAMES });
  const text = await res.text();
  if (res.status !== 207) throw new Error(`PROPFIND ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  expect(text.trimEnd().endsWith('</D:multistatus>')).toBe(true);
  return [...text.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((m) => decodeURIComponent(m[1]));
}

/** A PROPFIND Depth 1 over a bare socket, its chunked framing kept: each chunk's size, and the body they make. */
function chunkedPropfind(stack: DavStack, path: string): Promise<{ chunks: number[]; body: string }> {
  const url = new URL(path, stack.url);
  return new Promise((resolve, reject) => {
    const raw: Buffer[] = [];
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(`PROPFIND ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nDepth: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (b: Buffer) => raw.push(b));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(raw);
      let at = all.indexOf('\r\n\r\n') + 4;
      const chunks: number[] = [];
      const parts: Buffer[] = [];
      for (;;) {
        const eol = all.indexOf('\r\n', at);
        const size = parseInt(all.subarray(at, eol).toString('latin1'), 16);
        if (!(size > 0)) break;
        chunks.push(size);
        parts.push(all.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      resolve({ chunks, body: Buffer.concat(parts).toString('utf8') });
    });
  });
}

function cold(stack: DavStack): void {
  stack.drives[0].cache.invalidateAll();
  stack.resetCounters();
}

describe.each(PROFILES)('a cold PROPFIND Depth 1 on a %s drive', (_name, mount) => {
  let stack: DavStack;
  beforeAll(async () => {
    stack = await startDavStack({ mounts: [mount] });
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'small/a.txt', 'a');
    await stack.emulator.drive.putFile(drive, 'small/b.txt', 'bb');
    stack.emulator.drive.mkdir(drive, 'small/sub');
    for (let i = 0; i < 250; i++) stack.emulator.drive.mkdir(drive, `wide/d${String(i).padStart(3, '0')}`);
  });
  afterAll(() => stack.close());

  it('costs one Graph call for the folder and its children, and none after', async () => {
    cold(stack);
    expect(await listing(stack, '/small/')).toEqual(['/small/', '/small/a.txt', '/small/b.txt', '/small/sub/']);
    expect(stack.graphCalls()).toBe(1);
    stack.resetCounters();
    expect(await listing(stack, '/small/')).toHaveLength(4);
    const stat = await dav(stack, 'PROPFIND', '/small/b.txt', { headers: { depth: '0' } });
    expect(stat.status).toBe(207);
    await stat.text();
    expect(stack.graphCalls()).toBe(0);
  });

  it('lists every child of a folder wider than the expansion (the paged listing follows)', async () => {
    cold(stack);
    const hrefs = await listing(stack, '/wide/');
    expect(hrefs).toHaveLength(251);
    expect(new Set(hrefs).size).toBe(251);
    expect(hrefs).toContain('/wide/d249/');
    // The expanded GET, then one page of children ($top=1000).
    expect(stack.graphCalls()).toBe(2);
  });

  it('bets on a folder for a name without an extension, as rclone asks it (no trailing slash): one call, Depth 1 or Depth 0 then 1', async () => {
    cold(stack);
    const res = await dav(stack, 'PROPFIND', '/small', { headers: { depth: '1' } });
    expect(res.status).toBe(207);
    expect([...(await res.text()).matchAll(/<D:response>/g)]).toHaveLength(4);
    expect(stack.graphCalls()).toBe(1);
    // Finder and rclone ≥ 1.63 stat a folder with Depth 0, then list it: the listing came with the stat.
    cold(stack);
    const stat = await dav(stack, 'PROPFIND', '/small', { headers: { depth: '0' } });
    expect(stat.status).toBe(207);
    await stat.text();
    expect(await listing(stack, '/small/')).toHaveLength(4);
    expect(stack.graphCalls()).toBe(1);
  });

  it('a lost bet (a file without an extension) costs one call more and answers the same; a file with one costs one', async () => {
    await stack.emulator.drive.putFile(stack.driveIds[0], 'odd/Makefile', 'all:');
    cold(stack);
    const lost = await dav(stack, 'PROPFIND', '/odd/Makefile', { headers: { depth: '1' } });
    expect(lost.status).toBe(207);
    expect([...(await lost.text()).matchAll(/<D:response>/g)]).toHaveLength(1);
    expect(stack.graphCalls()).toBe(2);
    cold(stack);
    const file = await dav(stack, 'PROPFIND', '/small/a.txt', { headers: { depth: '1' } });
    expect(file.status).toBe(207);
    await file.text();
    expect(stack.graphCalls()).toBe(1);
  });

  it('still answers for a file addressed with a trailing slash, and for nothing there', async () => {
    cold(stack);
    const res = await dav(stack, 'PROPFIND', '/small/a.txt/', { headers: { depth: '1' } });
    expect(res.status).toBe(207);
    expect([...(await res.text()).matchAll(/<D:response>/g)]).toHaveLength(1);
    const missing = await dav(stack, 'PROPFIND', '/small/nothing/', { headers: { depth: '1' } });
    expect(missing.status).toBe(404);
    await missing.text();
  });
});

describe('a cold PROPFIND Depth 1 in 21Vianet (items addressed by id)', () => {
  let stack: DavStack;
  beforeAll(async () => {
    stack = await startDavStack({ mounts: [{ prefix: '/', user: LEI }] });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'small/a.txt', 'a');
    stack.emulator.drive.mkdir(stack.driveIds[0], 'small/sub');
  });
  afterAll(() => stack.close());

  it('costs the root (to address the folder by id) and one call for the folder with its children', async () => {
    cold(stack);
    expect(await listing(stack, '/small/')).toEqual(['/small/', '/small/a.txt', '/small/sub/']);
    expect(stack.graphCalls()).toBe(2);
    expect(Object.keys(stack.emulator.counters.snapshot().byRoute).filter((r) => r.includes(':/{path}:'))).toEqual([]);
  });
});

describe('a big folder streamed', () => {
  let stack: DavStack;
  const COUNT = 8000;
  beforeAll(async () => {
    stack = await startDavStack({ mounts: [{ prefix: '/', user: ADELE }] });
    for (let i = 0; i < COUNT; i++) stack.emulator.drive.mkdir(stack.driveIds[0], `big/folder ${String(i).padStart(5, '0')}`);
  }, 60_000);
  afterAll(() => stack.close());
  afterEach(() => stack.emulator.faults.setPlan(null));

  it('a Graph page failing after the 207 began leaves the client a body that errors, and nothing cached', async () => {
    cold(stack);
    // The eighth page of children fails (the first seven, 7,000 entries and over 2 MiB, have been sent by then).
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'GET', pathIncludes: '/children' }, skip: 7, times: 1, action: { type: 'status', status: 403 } }] });
    const res = await dav(stack, 'PROPFIND', '/big/', { headers: { depth: '1' } });
    expect(res.status).toBe(207);
    await expect(res.text()).rejects.toThrow();
    expect(stack.emulator.faults.injected.status).toBe(1);
    stack.emulator.faults.setPlan(null);
    // Nothing of the broken listing was kept: the next one lists every child.
    stack.resetCounters();
    const hrefs = await listing(stack, '/big/');
    expect(hrefs).toHaveLength(COUNT + 1);
    expect(stack.graphCalls()).toBeGreaterThan(0);
  }, 60_000);

  it('goes out in pieces of at most 64 KiB, which together are the whole document', async () => {
    cold(stack);
    const { chunks, body } = await chunkedPropfind(stack, '/big/');
    // Over 2 MiB buffered before the first byte, then pages of ~450 KB: each is written in small
    // pieces (V8 keeps a string over 128 KiB in its large-object space until a full GC).
    expect(chunks.length).toBeGreaterThan(8);
    expect(Math.max(...chunks)).toBeLessThanOrEqual(64 * 1024);
    expect(body.trimEnd().endsWith('</D:multistatus>')).toBe(true);
    expect([...body.matchAll(/<D:response>/g)]).toHaveLength(COUNT + 1);
  }, 60_000);

  it('lists every child once cached, with no Graph call', async () => {
    cold(stack);
    expect(await listing(stack, '/big/')).toHaveLength(COUNT + 1);
    stack.resetCounters();
    const hrefs = await listing(stack, '/big/');
    expect(hrefs).toHaveLength(COUNT + 1);
    expect(new Set(hrefs).size).toBe(COUNT + 1);
    expect(stack.graphCalls()).toBe(0);
  }, 60_000);
});

describe('a folder too big for the cache', () => {
  let stack: DavStack;
  const COUNT = 2500;
  const MAX_BYTES = 1024 * 1024;
  beforeAll(async () => {
    stack = await startDavStack({ mounts: [{ prefix: '/', user: ADELE }], drive: { cache: { maxBytes: MAX_BYTES } } });
    for (let i = 0; i < COUNT; i++) stack.emulator.drive.mkdir(stack.driveIds[0], `huge/folder ${String(i).padStart(5, '0')}`);
  }, 60_000);
  afterAll(() => stack.close());

  it('is listed whole every time from Graph, and the cache stays within its byte bound', async () => {
    cold(stack);
    expect(await listing(stack, '/huge/')).toHaveLength(COUNT + 1);
    expect(stack.drives[0].cacheStats().bytes).toBeLessThanOrEqual(MAX_BYTES);
    stack.resetCounters();
    const again = await listing(stack, '/huge/');
    expect(again).toHaveLength(COUNT + 1);
    expect(new Set(again).size).toBe(COUNT + 1);
    // Not half-kept: the listing comes from Graph again (the folder's own entry is still known).
    expect(stack.graphCalls()).toBe(3);
  }, 60_000);
});
