import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADELE, dav, EmulatorTokenSource, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * A folder onedav knows by id is deleted and made again by another client: the id onedav holds
 * names nothing. OneDrive for Business takes a move or copy to such an id and renames the item
 * where it is, or copies it beside its source (OneDrive/onedrive-api-docs#1381; the emulator does
 * the same on business drives). onedav must still put the item where the client asked, and leave
 * nothing renamed or copied anywhere else.
 */
let stack: DavStack;
let drive: string;

beforeAll(async () => {
  stack = await startDavStack();
  drive = stack.driveIds[0];
});
afterAll(async () => {
  await stack.close();
});

/** Another client deletes the folder and makes a new one of the same name (a new id). */
async function replaceFolderElsewhere(path: string): Promise<void> {
  const id = stack.emulator.drive.stat(drive, path)!.id;
  const token = await new EmulatorTokenSource(stack.emulator, ADELE).getAccessToken();
  const res = await fetch(`${stack.emulator.url}/v1.0/drives/${encodeURIComponent(drive)}/items/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(204);
  stack.emulator.drive.mkdir(drive, path);
}

const paths = (prefix: string) => stack.emulator.drive.listPaths(drive).filter((p) => p.startsWith(prefix));

/** `<top>/<file>` and `<top>/dest/`, both listed by onedav, then `dest` replaced behind its back. */
async function staleDestination(top: string, file: string, content: string): Promise<void> {
  await stack.emulator.drive.putFile(drive, `${top}/${file}`, content);
  stack.emulator.drive.mkdir(drive, `${top}/dest`);
  expect((await dav(stack, 'PROPFIND', `/${top}/`, { headers: { depth: '1' } })).status).toBe(207);
  expect((await dav(stack, 'PROPFIND', `/${top}/dest/`, { headers: { depth: '1' } })).status).toBe(207);
  await replaceFolderElsewhere(`${top}/dest`);
}

describe('a move or copy into a folder that was replaced behind onedav', () => {
  it('MOVE lands in the new folder; the file is not left renamed in its own folder', async () => {
    await staleDestination('st1', 'a.txt', 'alpha');
    const moved = await dav(stack, 'MOVE', '/st1/a.txt', { headers: { destination: `${stack.url}/st1/dest/moved.txt` } });
    expect(moved.status).toBe(201);
    expect(paths('/st1/')).toEqual(['/st1/', '/st1/dest/', '/st1/dest/moved.txt']);
    expect(String(await stack.emulator.drive.readFile(drive, 'st1/dest/moved.txt'))).toBe('alpha');
  });

  it('COPY lands in the new folder; no stray copy is left beside the source', async () => {
    await staleDestination('st2', 'b.txt', 'bravo');
    const copied = await dav(stack, 'COPY', '/st2/b.txt', { headers: { destination: `${stack.url}/st2/dest/copy.txt` } });
    expect(copied.status).toBe(201);
    expect(paths('/st2/')).toEqual(['/st2/', '/st2/b.txt', '/st2/dest/', '/st2/dest/copy.txt']);
    expect(String(await stack.emulator.drive.readFile(drive, 'st2/dest/copy.txt'))).toBe('bravo');
  });

  it('MOVE with Overwrite onto a file that came with the new folder: refused as a race (412), nothing lost; asked again, it replaces it', async () => {
    await staleDestination('st3', 'c.txt', 'charlie');
    await stack.emulator.drive.putFile(drive, 'st3/dest/c.txt', 'old one');
    const moved = await dav(stack, 'MOVE', '/st3/c.txt', { headers: { destination: `${stack.url}/st3/dest/c.txt`, overwrite: 'T' } });
    // onedav saw no file there when it checked the destination's locks: it does not replace what it did not check.
    expect(moved.status).toBe(412);
    expect(paths('/st3/')).toEqual(['/st3/', '/st3/c.txt', '/st3/dest/', '/st3/dest/c.txt']);
    expect(String(await stack.emulator.drive.readFile(drive, 'st3/dest/c.txt'))).toBe('old one');
    expect(String(await stack.emulator.drive.readFile(drive, 'st3/c.txt'))).toBe('charlie');
    const again = await dav(stack, 'MOVE', '/st3/c.txt', { headers: { destination: `${stack.url}/st3/dest/c.txt`, overwrite: 'T' } });
    expect(again.status).toBe(204);
    expect(paths('/st3/')).toEqual(['/st3/', '/st3/dest/', '/st3/dest/c.txt']);
    expect(String(await stack.emulator.drive.readFile(drive, 'st3/dest/c.txt'))).toBe('charlie');
  });
});

describe('a write into a folder that was replaced behind onedav', () => {
  it('PUT of a small file lands in the new folder', async () => {
    await staleDestination('sw1', 'x.txt', 'x');
    const put = await dav(stack, 'PUT', '/sw1/dest/new.txt', { body: 'hello' });
    expect(put.status).toBe(201);
    expect(paths('/sw1/')).toEqual(['/sw1/', '/sw1/dest/', '/sw1/dest/new.txt', '/sw1/x.txt']);
    expect(String(await stack.emulator.drive.readFile(drive, 'sw1/dest/new.txt'))).toBe('hello');
  });

  it('PUT through an upload session lands in the new folder, every byte of it', async () => {
    await staleDestination('sw2', 'x.txt', 'x');
    const body = Buffer.alloc(5 * 1024 * 1024 + 17, 7);
    const put = await dav(stack, 'PUT', '/sw2/dest/big.bin', { body });
    expect(put.status).toBe(201);
    expect(Buffer.compare(await stack.emulator.drive.readFile(drive, 'sw2/dest/big.bin'), body)).toBe(0);
  });

  it('MKCOL makes the folder in the new folder', async () => {
    await staleDestination('sw3', 'x.txt', 'x');
    const made = await dav(stack, 'MKCOL', '/sw3/dest/sub/');
    expect(made.status).toBe(201);
    expect(paths('/sw3/')).toEqual(['/sw3/', '/sw3/dest/', '/sw3/dest/sub/', '/sw3/x.txt']);
  });

  it('a folder deleted elsewhere (not made again) is still 409, and nothing is written', async () => {
    await staleDestination('sw4', 'x.txt', 'x');
    await replaceFolderElsewhere('sw4/dest');
    const id = stack.emulator.drive.stat(drive, 'sw4/dest')!.id;
    const token = await new EmulatorTokenSource(stack.emulator, ADELE).getAccessToken();
    await fetch(`${stack.emulator.url}/v1.0/drives/${encodeURIComponent(drive)}/items/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect((await dav(stack, 'PUT', '/sw4/dest/new.txt', { body: 'hello' })).status).toBe(409);
    expect((await dav(stack, 'MKCOL', '/sw4/dest/sub/')).status).toBe(409);
    expect(paths('/sw4/')).toEqual(['/sw4/', '/sw4/x.txt']);
  });
});
