import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDavServer, type RunningDavServer } from '../../src/dav/server.js';
import { DriveError, MemoryDrive, type DriveEntry } from '../../src/drive/index.js';
import { dav } from '../helpers/stack.js';

/** A MemoryDrive that refuses to move or copy anything onto the paths in `refuse`, or make the folders in `refuseFolder` (as a drive refusing a name would). */
class RefusingDrive extends MemoryDrive {
  readonly refuse = new Set<string>();
  readonly refuseFolder = new Set<string>();
  private check(path: string, set = this.refuse): void {
    if (set.has(path)) throw new DriveError('invalidName', `The drive refuses ${path}.`);
  }
  override async mkdir(path: string): Promise<DriveEntry> {
    this.check(path, this.refuseFolder);
    return super.mkdir(path);
  }
  override async move(from: string, to: string, options?: { overwrite?: boolean }): Promise<DriveEntry> {
    this.check(to);
    return super.move(from, to, options);
  }
  override async copy(from: string, to: string, options?: { overwrite?: boolean }): Promise<DriveEntry> {
    this.check(to);
    return super.copy(from, to, options);
  }
}

/**
 * MOVE and COPY with `Overwrite: T` where a folder is involved, on in-memory drives: within one
 * mount (the drive replaces) and between two mounts (streamed through onedav, the old destination
 * set aside and put back when the top item cannot be made).
 */
describe('MOVE and COPY with Overwrite over folders on MemoryDrive', () => {
  let server: RunningDavServer;
  let dataDir: string;
  const one = new MemoryDrive();
  const two = new RefusingDrive();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'onedav-owmem-'));
    server = await startDavServer({ port: 0, dataDir, anonymous: { enabled: true, readOnly: false }, mounts: [{ prefix: '/one', drive: one }, { prefix: '/two', drive: two }] });
  });
  afterAll(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const put = (drive: MemoryDrive, path: string, text: string) => drive.write(path, Readable.from([Buffer.from(text)]), { size: text.length });
  const read = async (drive: MemoryDrive, path: string) => Buffer.concat(await (await drive.read(path)).body.toArray()).toString();
  const names = async (drive: MemoryDrive, path: string) => (await drive.list(path)).map((e) => e.name).sort();

  async function folders(drive: MemoryDrive, at: string): Promise<void> {
    await drive.mkdir(at);
    await drive.mkdir(`${at}/src`);
    await put(drive, `${at}/src/new.txt`, 'new');
    await drive.mkdir(`${at}/dest`);
    await put(drive, `${at}/dest/old.txt`, 'old');
  }

  it.each(['MOVE', 'COPY'])('%s of a folder over a folder, a file over a folder and a folder over a file', async (method) => {
    const at = `/${method}`;
    await folders(one, at);
    expect((await dav(server, method, `/one${at}/src`, { headers: { Destination: `/one${at}/dest`, Overwrite: 'T' } })).status).toBe(204);
    expect(await names(one, `${at}/dest`)).toEqual(['new.txt']);
    await put(one, `${at}/f.txt`, 'file');
    expect((await dav(server, method, `/one${at}/f.txt`, { headers: { Destination: `/one${at}/dest`, Overwrite: 'T' } })).status).toBe(204);
    expect(await read(one, `${at}/dest`)).toBe('file');
    await one.mkdir(`${at}/g`);
    await put(one, `${at}/g/in.txt`, 'in');
    expect((await dav(server, method, `/one${at}/g`, { headers: { Destination: `/one${at}/dest`, Overwrite: 'T' } })).status).toBe(204);
    expect(await names(one, `${at}/dest`)).toEqual(['in.txt']);
    expect((await names(one, at)).filter((n) => n.startsWith('.onedav-aside-'))).toEqual([]);
  });

  it.each(['MOVE', 'COPY'])('%s over a folder within a mount that refuses the work leaves the folder and the source as they were', async (method) => {
    const at = `/refused-${method}`;
    await folders(two, at);
    two.refuse.add(`${at}/dest`);
    const res = await dav(server, method, `/two${at}/src`, { headers: { Destination: `/two${at}/dest`, Overwrite: 'T' } });
    two.refuse.clear();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await names(two, at)).toEqual(['dest', 'src']);
    expect(await read(two, `${at}/dest/old.txt`)).toBe('old');
    expect(await read(two, `${at}/src/new.txt`)).toBe('new');
  });

  it('COPY between mounts over a folder: replaced when it works, put back when the top folder is refused', async () => {
    await folders(one, '/x');
    await two.mkdir('/x');
    await two.mkdir('/x/dest');
    await put(two, '/x/dest/old.txt', 'old');
    two.refuseFolder.add('/x/dest');
    const refused = await dav(server, 'COPY', '/one/x/src', { headers: { Destination: '/two/x/dest', Overwrite: 'T' } });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(await names(two, '/x')).toEqual(['dest']);
    expect(await read(two, '/x/dest/old.txt')).toBe('old');
    two.refuseFolder.clear();
    expect((await dav(server, 'COPY', '/one/x/src', { headers: { Destination: '/two/x/dest', Overwrite: 'T' } })).status).toBe(204);
    expect(await names(two, '/x')).toEqual(['dest']);
    expect(await names(two, '/x/dest')).toEqual(['new.txt']);
    // A MOVE between mounts over a file: the same, and the source is gone.
    await put(two, '/x/file', 'old file');
    expect((await dav(server, 'MOVE', '/one/x/src', { headers: { Destination: '/two/x/file', Overwrite: 'T' } })).status).toBe(204);
    expect(await names(two, '/x/file')).toEqual(['new.txt']);
    expect(await names(one, '/x')).toEqual(['dest']);
    expect(await names(two, '/x')).toEqual(['dest', 'file']);
  });
});
