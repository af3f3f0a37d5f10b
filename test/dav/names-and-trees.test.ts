import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * Names OneDrive refuses, through every method that names a new item, and whole folder trees moved
 * and copied within one drive (write.test.ts covers ':' and macOS files on PUT, single-file
 * MOVE/COPY, folder COPY by depth, and trees across mounts).
 */
describe('names OneDrive refuses', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'ok/source.txt', 'source');
  });
  afterAll(() => stack.close());

  const refused: Array<[string, RegExp]> = [
    ['CON', /reserved name/],
    ['nul', /reserved name/],
    ['LPT3', /reserved name/],
    ['.lock', /reserved name/],
    ['desktop.ini', /reserved name/],
    ['my_vti_file.txt', /_vti_/],
    ['~$report.docx', /~\$/],
    ['trailing%20', /space/],
    ['%20leading', /space/],
    ['star*.txt', /"\*"/],
    ['quote%22.txt', /"\\""/],
    ['pipe%7C.txt', /"\|"/],
    ['less%3C.txt', /"<"/],
    [`${'n'.repeat(256)}.txt`, /255/],
  ];

  it.each(refused)('PUT %s: 400 with the rule', async (name, reason) => {
    const res = await dav(stack, 'PUT', `/ok/${name}`, { body: 'x' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(reason);
  });

  it('MKCOL, COPY and MOVE to a refused name: 400 with the rule, nothing changed', async () => {
    const before = stack.emulator.drive.listPaths(drive);
    const mkcol = await dav(stack, 'MKCOL', '/ok/AUX/');
    expect(mkcol.status).toBe(400);
    expect(await mkcol.text()).toMatch(/reserved name/);
    const copy = await dav(stack, 'COPY', '/ok/source.txt', { headers: { Destination: '/ok/what%3F.txt' } });
    expect(copy.status).toBe(400);
    expect(await copy.text()).toMatch(/"\?"/);
    const move = await dav(stack, 'MOVE', '/ok/source.txt', { headers: { Destination: '/ok/COM1' } });
    expect(move.status).toBe(400);
    expect(await move.text()).toMatch(/reserved name/);
    expect(stack.emulator.drive.listPaths(drive)).toEqual(before);
  });

  it('a path longer than 400 characters: 400 with the rule', async () => {
    const deep = await dav(stack, 'MKCOL', `/${'e'.repeat(200)}/`);
    expect(deep.status).toBe(201);
    const long = await dav(stack, 'PUT', `/${'e'.repeat(200)}/${'f'.repeat(201)}.txt`, { body: 'x' });
    expect(long.status).toBe(400);
    expect(await long.text()).toMatch(/400/);
  });
});

describe('folder trees within one drive', () => {
  let stack: DavStack;
  let drive: string;
  const paths = (prefix: string) => stack.emulator.drive.listPaths(drive).filter((p) => p.startsWith(prefix));
  const big = randomBytes(700_000);

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'tree/a.txt', 'A');
    await stack.emulator.drive.putFile(drive, 'tree/sub/b.txt', 'B');
    await stack.emulator.drive.putFile(drive, 'tree/sub/deeper/big.bin', big);
    stack.emulator.drive.mkdir(drive, 'tree/empty');
    await stack.emulator.drive.putFile(drive, 'other/stale.txt', 'stale');
  });
  afterAll(() => stack.close());

  const TREE = ['/', '/a.txt', '/empty/', '/sub/', '/sub/b.txt', '/sub/deeper/', '/sub/deeper/big.bin'];

  it('COPY a tree onto an existing folder with Overwrite T replaces it whole (204)', async () => {
    const res = await dav(stack, 'COPY', '/tree/', { headers: { Destination: '/other/', Overwrite: 'T' } });
    expect(res.status).toBe(204);
    expect(paths('/other/')).toEqual(TREE.map((p) => `/other${p}`));
    expect((await stack.emulator.drive.readFile(drive, 'other/sub/deeper/big.bin')).equals(big)).toBe(true);
    // The source is untouched and the listing through WebDAV agrees.
    expect(paths('/tree/')).toEqual(TREE.map((p) => `/tree${p}`));
    const propfind = await dav(stack, 'PROPFIND', '/other/sub/', { headers: { Depth: '1' } });
    expect(await propfind.text()).toContain('/other/sub/deeper/');
  });

  it('MOVE a tree into a subfolder, then refuse to overwrite without Overwrite T', async () => {
    expect((await dav(stack, 'MKCOL', '/archive/')).status).toBe(201);
    const res = await dav(stack, 'MOVE', '/tree/', { headers: { Destination: '/archive/tree/' } });
    expect(res.status).toBe(201);
    expect(paths('/tree/')).toEqual([]);
    expect(paths('/archive/tree/')).toEqual(TREE.map((p) => `/archive/tree${p}`));
    expect(await (await fetch(`${stack.url}/archive/tree/sub/b.txt`)).text()).toBe('B');
    expect((await dav(stack, 'GET', '/tree/a.txt')).status).toBe(404);

    const refused = await dav(stack, 'MOVE', '/other/', { headers: { Destination: '/archive/tree/', Overwrite: 'F' } });
    expect(refused.status).toBe(412);
    expect(paths('/other/')).toHaveLength(TREE.length);
  });

  it('MOVE a tree over an existing one with Overwrite T (204): only the moved tree remains', async () => {
    await stack.emulator.drive.putFile(drive, 'other/only-here.txt', 'x');
    const res = await dav(stack, 'MOVE', '/other/', { headers: { Destination: '/archive/tree/' } });
    expect(res.status).toBe(204);
    expect(paths('/other/')).toEqual([]);
    expect(paths('/archive/tree/')).toEqual([...TREE.map((p) => `/archive/tree${p}`), '/archive/tree/only-here.txt'].sort());
    expect((await stack.emulator.drive.readFile(drive, 'archive/tree/sub/deeper/big.bin')).equals(big)).toBe(true);
  });

  it('refuses to MOVE a tree into itself (403) and leaves it in place', async () => {
    const res = await dav(stack, 'MOVE', '/archive/', { headers: { Destination: '/archive/tree/inner/' } });
    expect(res.status).toBe(403);
    expect(paths('/archive/tree/sub/')).toHaveLength(4);
  });
});

/**
 * Apple software names files decomposed (NFD), Windows and Linux composed (NFC); OneDrive keeps the
 * form it was given but treats the two as one name (rclone/rclone#8634), and `æ` as `ae`
 * (OneDrive/onedrive-api-docs#856). onedav reads every request path as NFC (dav/protocol/paths.ts).
 */
describe('names in the forms OneDrive treats as one', () => {
  let stack: DavStack;
  let drive: string;
  const nfc = 'Résumé Ærø'.normalize('NFC');
  const nfd = nfc.normalize('NFD');
  const href = (...names: string[]) => `/${names.map(encodeURIComponent).join('/')}`;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
    // Stored decomposed, as the OneDrive app on a Mac uploads them.
    await stack.emulator.drive.putFile(drive, `Names/${nfd}.txt`, 'decomposed on a Mac');
    await stack.emulator.drive.putFile(drive, `Names/${nfd}/inside.txt`, 'inside');
  });
  afterAll(() => stack.close());

  it('a file stored decomposed is found by either form after its folder was listed, and written over rather than beside', async () => {
    expect((await dav(stack, 'PROPFIND', '/Names/', { headers: { Depth: '1' } })).status).toBe(207);
    for (const name of [nfc, nfd]) {
      const got = await dav(stack, 'GET', href('Names', `${name}.txt`));
      expect(got.status).toBe(200);
      expect(await got.text()).toBe('decomposed on a Mac');
    }
    expect((await dav(stack, 'PUT', href('Names', `${nfc}.txt`), { body: 'saved on Windows' })).status).toBe(204);
    const listing = await (await dav(stack, 'PROPFIND', '/Names/', { headers: { Depth: '1' } })).text();
    expect(listing.match(/<D:response>/g)).toHaveLength(3); // the folder, the file, the subfolder
    expect((await stack.emulator.drive.readFile(drive, `Names/${nfd}.txt`)).toString()).toBe('saved on Windows');
  });

  it('MKCOL of the composed name of a decomposed folder is 405, and its members are reachable by either form', async () => {
    expect((await dav(stack, 'MKCOL', href('Names', nfc))).status).toBe(405);
    expect(await (await dav(stack, 'GET', href('Names', nfd, 'inside.txt'))).text()).toBe('inside');
    expect(await (await dav(stack, 'GET', href('Names', nfc, 'inside.txt'))).text()).toBe('inside');
  });

  it('"ae" and "æ" name one file', async () => {
    await stack.emulator.drive.putFile(drive, 'Ligature/Maersk.txt', 'shipping');
    expect((await dav(stack, 'PROPFIND', '/Ligature/', { headers: { Depth: '1' } })).status).toBe(207);
    expect(await (await dav(stack, 'GET', href('Ligature', 'Mærsk.txt'))).text()).toBe('shipping');
  });
});
