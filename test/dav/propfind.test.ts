import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dav, MEGAN, startDavStack, type DavStack } from '../helpers/stack.js';
import { D, parseMultistatus } from '../helpers/multistatus.js';

const PROPFIND_NAMED = (props: string) => `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:X="urn:x-test"><D:prop>${props}</D:prop></D:propfind>`;

describe('PROPFIND against the emulator', () => {
  let stack: DavStack;
  const modified = new Date('2024-03-04T05:06:07Z');

  beforeAll(async () => {
    stack = await startDavStack();
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'docs/report.pdf', Buffer.alloc(1234, 1), { modified });
    await stack.emulator.drive.putFile(drive, 'docs/notes.txt', 'hello');
    stack.emulator.drive.mkdir(drive, 'docs/sub');
    stack.emulator.drive.setQuota(drive, 10_000_000);
  });
  afterAll(() => stack.close());

  it('Depth 0 on a file returns every live property from the drive entry', async () => {
    const res = await dav(stack, 'PROPFIND', '/docs/report.pdf', { headers: { Depth: '0' } });
    expect(res.status).toBe(207);
    expect(res.headers.get('content-type')).toMatch(/application\/xml/);
    const [file] = parseMultistatus(await res.text());
    expect(file.href).toBe('/docs/report.pdf');
    expect(file.props[D('getcontentlength')]).toBe('1234');
    expect(file.props[D('getcontenttype')]).toBe('application/pdf');
    expect(file.props[D('displayname')]).toBe('report.pdf');
    expect(file.props[D('getlastmodified')]).toBe('Mon, 04 Mar 2024 05:06:07 GMT');
    expect(file.props[D('creationdate')]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(file.props[D('resourcetype')]).toBe('');
    expect(file.props[D('supportedlock')]).toContain('<D:exclusive/>');
    expect(file.status[D('quota-used-bytes')]).toBeUndefined(); // not in allprop (RFC 4331)
    const head = await dav(stack, 'HEAD', '/docs/report.pdf');
    expect(file.props[D('getetag')]).toBe(head.headers.get('etag'));
    expect(file.props[D('getetag')]).toMatch(/^"[^"]+"$/);
  });

  it('Depth 1 on a folder lists the folder and its children with percent-encoded hrefs', async () => {
    const res = await dav(stack, 'PROPFIND', '/docs', { headers: { Depth: '1' } });
    const responses = parseMultistatus(await res.text());
    expect(responses.map((r) => r.href).sort()).toEqual(['/docs/', '/docs/notes.txt', '/docs/report.pdf', '/docs/sub/']);
    const folder = responses.find((r) => r.href === '/docs/')!;
    expect(folder.props[D('resourcetype')]).toBe('<D:collection/>');
    expect(folder.status[D('getcontentlength')]).toBeUndefined();
    expect(responses.find((r) => r.href === '/docs/sub/')!.props[D('resourcetype')]).toBe('<D:collection/>');
  });

  it('answers named properties, unknown ones with 404 in their own propstat', async () => {
    const body = PROPFIND_NAMED('<D:getcontentlength/><D:getetag/><X:unknown/><D:nonsense/>');
    const [file] = parseMultistatus(await (await dav(stack, 'PROPFIND', '/docs/notes.txt', { headers: { Depth: '0' }, body })).text());
    expect(file.status).toEqual({ [D('getcontentlength')]: 200, [D('getetag')]: 200, '{urn:x-test}unknown': 404, [D('nonsense')]: 404 });
    expect(file.props[D('getcontentlength')]).toBe('5');
  });

  it('lists property names with propname', async () => {
    const body = '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>';
    const [file] = parseMultistatus(await (await dav(stack, 'PROPFIND', '/docs/notes.txt', { headers: { Depth: '0' }, body })).text());
    expect(Object.keys(file.status)).toEqual(expect.arrayContaining([D('getetag'), D('getcontentlength'), D('resourcetype'), D('lockdiscovery')]));
    expect(Object.values(file.props).every((v) => v === '')).toBe(true);
  });

  it('serves RFC 4331 quota properties when asked by name', async () => {
    const body = PROPFIND_NAMED('<D:quota-available-bytes/><D:quota-used-bytes/>');
    const [root] = parseMultistatus(await (await dav(stack, 'PROPFIND', '/', { headers: { Depth: '0' }, body })).text());
    const used = Number(root.props[D('quota-used-bytes')]);
    const available = Number(root.props[D('quota-available-bytes')]);
    expect(used).toBeGreaterThanOrEqual(1239);
    expect(used + available).toBe(10_000_000);
  });

  it('refuses Depth infinity on collections with propfind-finite-depth, explicit or implied', async () => {
    for (const headers of [{ Depth: 'infinity' }, {} as Record<string, string>]) {
      const res = await dav(stack, 'PROPFIND', '/docs/', { headers });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('<D:propfind-finite-depth>');
    }
    const file = await dav(stack, 'PROPFIND', '/docs/notes.txt', { headers: { Depth: 'infinity' } });
    expect(file.status).toBe(207);
    expect((await dav(stack, 'PROPFIND', '/docs/', { headers: { Depth: '2' } })).status).toBe(400);
  });

  it('answers 404 for missing resources and 400 for bodies that are not XML', async () => {
    expect((await dav(stack, 'PROPFIND', '/docs/missing', { headers: { Depth: '0' } })).status).toBe(404);
    expect((await dav(stack, 'PROPFIND', '/docs/', { headers: { Depth: '0' }, body: '<D:propfind xmlns:D="DAV:"><D:prop>' })).status).toBe(400);
    expect((await dav(stack, 'PROPFIND', '/docs/', { headers: { Depth: '0' }, body: '<x/>' })).status).toBe(400);
  });

  it('reads chunked request bodies', async () => {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('<D:propfind xmlns:D="DAV:"><D:prop>'));
        controller.enqueue(new TextEncoder().encode('<D:getcontentlength/></D:prop></D:propfind>'));
        controller.close();
      },
    });
    const res = await fetch(`${stack.url}/docs/notes.txt`, { method: 'PROPFIND', headers: { Depth: '0' }, body, duplex: 'half' } as RequestInit);
    const [file] = parseMultistatus(await res.text());
    expect(Object.keys(file.status)).toEqual([D('getcontentlength')]);
  });
});

describe('PROPFIND of a large folder', () => {
  let stack: DavStack;
  const COUNT = 2500;

  beforeAll(async () => {
    stack = await startDavStack();
    for (let i = 0; i < COUNT; i++) await stack.emulator.drive.putFile(stack.driveIds[0], `big/file-${String(i).padStart(4, '0')}.txt`, `content ${i}`);
  }, 120_000);
  afterAll(() => stack.close());

  it('lists all 2,500 children, and a warm listing costs zero Graph calls', async () => {
    stack.resetCounters();
    const cold = parseMultistatus(await (await dav(stack, 'PROPFIND', '/big/', { headers: { Depth: '1' } })).text());
    expect(cold).toHaveLength(COUNT + 1);
    expect(new Set(cold.map((r) => r.href)).size).toBe(COUNT + 1);
    expect(cold.find((r) => r.href === '/big/file-2499.txt')?.props[D('getcontentlength')]).toBe('12');
    const coldCalls = stack.graphCalls();
    expect(coldCalls).toBeGreaterThan(0);
    expect(coldCalls).toBeLessThanOrEqual(6); // the folder stat + the pages of children

    stack.resetCounters();
    const warm = parseMultistatus(await (await dav(stack, 'PROPFIND', '/big/', { headers: { Depth: '1' } })).text());
    expect(warm).toHaveLength(COUNT + 1);
    // Children's Depth 0 lookups are free too: the listing filled their entries.
    await dav(stack, 'PROPFIND', '/big/file-1234.txt', { headers: { Depth: '0' } });
    expect(stack.graphCalls()).toBe(0);
  });
});

describe('several mounts', () => {
  let stack: DavStack;

  beforeAll(async () => {
    stack = await startDavStack({ mounts: [{ prefix: '/me' }, { prefix: '/team', user: MEGAN }] });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'mine.txt', 'adele');
    await stack.emulator.drive.putFile(stack.driveIds[1], 'theirs.txt', 'megan');
  });
  afterAll(() => stack.close());

  it('lists the mounts as collections at /', async () => {
    const responses = parseMultistatus(await (await dav(stack, 'PROPFIND', '/', { headers: { Depth: '1' } })).text());
    expect(responses.map((r) => r.href)).toEqual(['/', '/me/', '/team/']);
    expect(responses.every((r) => r.props[D('resourcetype')] === '<D:collection/>')).toBe(true);
    const html = await (await dav(stack, 'GET', '/')).text();
    expect(html).toContain('href="/me/"');
    expect(html).toContain('href="/team/"');
  });

  it('serves each drive under its prefix', async () => {
    const team = parseMultistatus(await (await dav(stack, 'PROPFIND', '/team/', { headers: { Depth: '1' } })).text());
    expect(team.map((r) => r.href)).toEqual(['/team/', '/team/theirs.txt']);
    expect(await (await dav(stack, 'GET', '/me/mine.txt')).text()).toBe('adele');
    expect((await dav(stack, 'GET', '/elsewhere/')).status).toBe(404);
  });

  it('refuses writes to the folder that only lists the mounts', async () => {
    expect((await dav(stack, 'PUT', '/x.txt', { body: 'x' })).status).toBe(403);
    expect((await dav(stack, 'MKCOL', '/me/')).status).toBe(405);
    expect((await dav(stack, 'DELETE', '/team/')).status).toBe(403);
  });
});
