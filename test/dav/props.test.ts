import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { D, parseMultistatus } from '../helpers/multistatus.js';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

const X = 'http://example.com/ns/';
const MS = 'urn:schemas-microsoft-com:';

const patch = (ops: string) => `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="${X}" xmlns:Z="${MS}">${ops}</D:propertyupdate>`;
const getProps = (names: string) => `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:X="${X}" xmlns:Z="${MS}"><D:prop>${names}</D:prop></D:propfind>`;

describe('dead properties and PROPPATCH', () => {
  let stack: DavStack;
  let drive: string;

  async function propsOf(path: string, names: string) {
    const res = await dav(stack, 'PROPFIND', path, { headers: { Depth: '0' }, body: getProps(names) });
    return parseMultistatus(await res.text())[0];
  }

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'p.txt', 'props');
  });
  afterAll(() => stack.close());

  it('sets and removes properties of any namespace, with structured values and xml:lang', async () => {
    const res = await dav(stack, 'PROPPATCH', '/p.txt', {
      body: patch(`<D:set><D:prop><X:color>blue</X:color><X:tree xml:lang="fr"><X:leaf a="1">feuille</X:leaf><other xmlns="urn:other">o</other></X:tree><X:gone>x</X:gone></D:prop></D:set><D:remove><D:prop><X:gone/></D:prop></D:remove>`),
    });
    expect(res.status).toBe(207);
    const [result] = parseMultistatus(await res.text());
    expect(result.status).toEqual({ [`{${X}}color`]: 200, [`{${X}}tree`]: 200, [`{${X}}gone`]: 200 });

    const found = await propsOf('/p.txt', '<X:color/><X:tree/><X:gone/>');
    expect(found.props[`{${X}}color`]).toBe('blue');
    expect(found.status[`{${X}}gone`]).toBe(404);
    const tree = found.elements[`{${X}}tree`];
    expect(tree.attrs).toContainEqual({ ns: 'http://www.w3.org/XML/1998/namespace', local: 'lang', value: 'fr' });
    expect(tree.children.filter((c) => c.type === 'element').map((c) => (c.type === 'element' ? `{${c.ns}}${c.local}` : ''))).toEqual([`{${X}}leaf`, '{urn:other}other']);

    // allprop includes dead properties too.
    const [all] = parseMultistatus(await (await dav(stack, 'PROPFIND', '/p.txt', { headers: { Depth: '0' } })).text());
    expect(all.props[`{${X}}color`]).toBe('blue');
  });

  it('is atomic: a protected property fails the whole PROPPATCH (403 + 424)', async () => {
    const res = await dav(stack, 'PROPPATCH', '/p.txt', { body: patch('<D:set><D:prop><X:size>big</X:size><D:getetag>"forged"</D:getetag></D:prop></D:set>') });
    const [result] = parseMultistatus(await res.text());
    expect(result.status).toEqual({ [`{${X}}size`]: 424, [D('getetag')]: 403 });
    expect((await propsOf('/p.txt', '<X:size/>')).status[`{${X}}size`]).toBe(404);
  });

  it("takes Windows' Win32 times: LastModifiedTime sets the file's mtime, the others are kept", async () => {
    const res = await dav(stack, 'PROPPATCH', '/p.txt', {
      body: patch(
        '<D:set><D:prop><Z:Win32CreationTime>Mon, 01 Jan 2024 10:00:00 GMT</Z:Win32CreationTime><Z:Win32LastAccessTime>Tue, 02 Jan 2024 10:00:00 GMT</Z:Win32LastAccessTime>' +
          '<Z:Win32LastModifiedTime>Wed, 03 Jan 2024 10:00:00 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set>',
      ),
    });
    const [result] = parseMultistatus(await res.text());
    expect(Object.values(result.status)).toEqual([200, 200, 200, 200]);
    const after = await propsOf('/p.txt', '<D:getlastmodified/><Z:Win32FileAttributes/><Z:Win32CreationTime/>');
    expect(after.props[D('getlastmodified')]).toBe('Wed, 03 Jan 2024 10:00:00 GMT');
    expect(after.props[`{${MS}}Win32FileAttributes`]).toBe('00000020');
    expect((await stack.graphItem('/p.txt')).fileSystemInfo?.lastModifiedDateTime).toMatch(/^2024-01-03T10:00:00/);
  });

  it('when the drive refuses the mtime, keeps none of the dead properties the same PROPPATCH set or removed', async () => {
    await stack.emulator.drive.putFile(drive, 'undo.txt', 'u');
    await dav(stack, 'PROPPATCH', '/undo.txt', { body: patch('<D:set><D:prop><X:kept>old</X:kept><X:doomed>here</X:doomed></D:prop></D:set>') });
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'PATCH' }, action: { type: 'status', status: 403 }, times: 1 }] });
    try {
      const res = await dav(stack, 'PROPPATCH', '/undo.txt', {
        body: patch('<D:set><D:prop><X:kept>new</X:kept><X:added>a</X:added><D:getlastmodified>Fri, 05 Jan 2024 08:00:00 GMT</D:getlastmodified></D:prop></D:set><D:remove><D:prop><X:doomed/></D:prop></D:remove>'),
      });
      expect(res.status).toBe(207);
      const status = parseMultistatus(await res.text())[0].status;
      expect(status[`{${X}}kept`]).toBe(424);
      expect(status[D('getlastmodified')]).not.toBe(200);
      expect(stack.emulator.faults.injected.status).toBeGreaterThanOrEqual(1);
    } finally {
      stack.emulator.faults.setPlan(null);
    }
    const after = await propsOf('/undo.txt', '<X:kept/><X:doomed/><X:added/>');
    expect(after.props[`{${X}}kept`]).toContain('old');
    expect(after.props[`{${X}}doomed`]).toContain('here');
    expect(after.props[`{${X}}added`]).toBeUndefined();
  });

  it('sets the mtime through DAV:getlastmodified and refuses dates it cannot read (409 + 424)', async () => {
    await dav(stack, 'PROPPATCH', '/p.txt', { body: patch('<D:set><D:prop><D:getlastmodified>Fri, 05 Jan 2024 08:00:00 GMT</D:getlastmodified></D:prop></D:set>') });
    expect((await propsOf('/p.txt', '<D:getlastmodified/>')).props[D('getlastmodified')]).toBe('Fri, 05 Jan 2024 08:00:00 GMT');
    const bad = parseMultistatus(await (await dav(stack, 'PROPPATCH', '/p.txt', { body: patch('<D:set><D:prop><X:a>1</X:a><D:getlastmodified>yesterday</D:getlastmodified></D:prop></D:set>') })).text())[0];
    expect(bad.status).toEqual({ [`{${X}}a`]: 424, [D('getlastmodified')]: 409 });
  });

  it('refuses bodies that are not a propertyupdate, and missing resources', async () => {
    expect((await dav(stack, 'PROPPATCH', '/p.txt', { body: '<x/>' })).status).toBe(400);
    expect((await dav(stack, 'PROPPATCH', '/p.txt', { body: '' })).status).toBe(400);
    expect((await dav(stack, 'PROPPATCH', '/missing.txt', { body: patch('<D:set><D:prop><X:a>1</X:a></D:prop></D:set>') })).status).toBe(404);
  });

  // The columns are those of the offending character in the body that `patch` builds.
  it.each([
    ['a raw control character (XML 1.0 §2.2)', '<X:bad>a\u0001b</X:bad>', 'line 1, column 183'],
    ['"]]>" in text (§2.4)', '<X:bad>a ]]> b</X:bad>', 'line 1, column 186'],
    ['"--" inside a comment (§2.5)', '<X:bad><!-- a -- b --></X:bad>', 'line 1, column 191'],
  ])('refuses a PROPPATCH with %s: 400 saying where, and nothing stored', async (_, value, where) => {
    const res = await dav(stack, 'PROPPATCH', '/p.txt', { body: patch(`<D:set><D:prop><X:good>1</X:good>${value}</D:prop></D:set>`) });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(where);
    const found = await propsOf('/p.txt', '<X:good/><X:bad/>');
    expect(found.status).toEqual({ [`{${X}}good`]: 404, [`{${X}}bad`]: 404 });
  });

  it('carries properties with MOVE and COPY, drops them with DELETE, and keeps them across restarts', async () => {
    await dav(stack, 'PUT', '/folder-a/', {}).catch(() => {});
    await dav(stack, 'MKCOL', '/folder-a/');
    await dav(stack, 'PUT', '/folder-a/in.txt', { body: 'in' });
    await dav(stack, 'PROPPATCH', '/folder-a/in.txt', { body: patch('<D:set><D:prop><X:tag>moved-with-me</X:tag></D:prop></D:set>') });
    expect((await dav(stack, 'MOVE', '/folder-a/', { headers: { Destination: '/folder-b/' } })).status).toBe(201);
    expect((await propsOf('/folder-b/in.txt', '<X:tag/>')).props[`{${X}}tag`]).toBe('moved-with-me');
    expect((await dav(stack, 'COPY', '/folder-b/in.txt', { headers: { Destination: '/copied.txt' } })).status).toBe(201);
    expect((await propsOf('/copied.txt', '<X:tag/>')).props[`{${X}}tag`]).toBe('moved-with-me');

    await stack.restartDav();
    expect((await propsOf('/folder-b/in.txt', '<X:tag/>')).props[`{${X}}tag`]).toBe('moved-with-me');

    expect((await dav(stack, 'DELETE', '/copied.txt')).status).toBe(204);
    await dav(stack, 'PUT', '/copied.txt', { body: 'new life' });
    expect((await propsOf('/copied.txt', '<X:tag/>')).status[`{${X}}tag`]).toBe(404);
  });
});

describe('names round-trip', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
    stack.emulator.drive.mkdir(drive, 'names');
  });
  afterAll(() => stack.close());

  const NAMES = [
    'with space.txt',
    'hash#tag.txt',
    'percent%20literal.txt',
    '100%.txt',
    'plus+sign.txt',
    'semi;colon=eq&amp.txt',
    "quote's [x] {y} (z) @~!$,.txt",
    'ünïcødé.txt',
    '日本語のファイル.txt',
    'emoji 😀.txt',
  ];

  it.each(NAMES)('%s: PUT, PROPFIND href, GET and the stored name all agree', async (name) => {
    const href = `/names/${encodeURIComponent(name)}`;
    expect((await dav(stack, 'PUT', href, { body: name })).status).toBe(201);
    const listing = parseMultistatus(await (await dav(stack, 'PROPFIND', '/names/', { headers: { Depth: '1' } })).text());
    const entry = listing.find((r) => r.path === `/names/${name}`);
    expect(entry, `listing has ${name}`).toBeDefined();
    expect(entry!.href).not.toMatch(/[ #?+;]/);
    expect(entry!.props[D('displayname')]).toBe(name);
    expect(await (await dav(stack, 'GET', entry!.href)).text()).toBe(name);
    expect(stack.emulator.drive.stat(drive, `names/${name}`)).toBeDefined();
  });

  it('stores macOS metadata files by default (macMetadata: store)', async () => {
    expect((await dav(stack, 'PUT', '/names/._photo.jpg', { body: 'appledouble' })).status).toBe(201);
    expect((await dav(stack, 'PUT', '/names/.DS_Store', { body: 'ds' })).status).toBe(201);
  });

  it('stores NFD names as NFC and finds them under either spelling', async () => {
    const nfd = 'cafe\u0301 nfd.txt';
    const nfc = nfd.normalize('NFC');
    expect((await dav(stack, 'PUT', `/names/${encodeURIComponent(nfd)}`, { body: 'accent' })).status).toBe(201);
    expect(stack.emulator.drive.stat(drive, `names/${nfc}`)).toBeDefined();
    expect(await (await dav(stack, 'GET', `/names/${encodeURIComponent(nfc)}`)).text()).toBe('accent');
    expect(await (await dav(stack, 'GET', `/names/${encodeURIComponent(nfd)}`)).text()).toBe('accent');
    const listing = parseMultistatus(await (await dav(stack, 'PROPFIND', '/names/', { headers: { Depth: '1' } })).text());
    expect(listing.filter((r) => r.path.normalize('NFC') === `/names/${nfc}`)).toHaveLength(1);
  });
});
