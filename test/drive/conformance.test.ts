import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphDrive, DriveError, MemoryDrive, type DriveErrorKind, type RemoteDrive } from '../../src/drive/index.js';
import { withEmulator } from '../graph/emulator-helper.js';

/**
 * One behavioural suite for every RemoteDrive (as golang.org/x/net/webdav tests its FileSystems and
 * rclone its backends): what the WebDAV layer may rely on, whichever drive is mounted. Run on
 * GraphDrive against the emulator and on the in-memory drive, case-insensitive and case-sensitive.
 */
interface Subject {
  name: string;
  start(): Promise<{ drive: RemoteDrive; close(): Promise<void> }>;
}

const SUBJECTS: Subject[] = [
  {
    name: 'GraphDrive on the emulator',
    async start() {
      const { emulator, tokens } = await withEmulator({});
      const made = createGraphDrive({ graphBaseUrl: `${emulator.url}/v1.0`, tokens, drive: { type: 'me' }, client: { retry: { baseDelayMs: 5, maxDelayMs: 50 } } });
      return {
        drive: made.drive,
        async close() {
          await made.close();
          await emulator.close();
        },
      };
    },
  },
  { name: 'MemoryDrive (case-insensitive)', start: async () => ({ drive: new MemoryDrive({ caseInsensitive: true }), close: async () => {} }) },
  { name: 'MemoryDrive (case-sensitive)', start: async () => ({ drive: new MemoryDrive(), close: async () => {} }) },
];

const body = (data: string | Buffer) => Readable.from([Buffer.from(data)]);
const text = async (readable: Readable) => Buffer.concat(await readable.toArray()).toString();

/** The DriveError kind `work` fails with (and that it fails with a DriveError at all). */
async function kindOf(work: Promise<unknown>): Promise<DriveErrorKind | 'resolved'> {
  try {
    await work;
    return 'resolved';
  } catch (err) {
    expect(err).toBeInstanceOf(DriveError);
    return (err as DriveError).kind;
  }
}

describe.each(SUBJECTS)('RemoteDrive conformance: $name', (subject) => {
  let drive: RemoteDrive;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ drive, close } = await subject.start());
  });
  afterAll(() => close());

  it('declares its capabilities', () => {
    for (const flag of ['caseInsensitive', 'serverSideCopy', 'downloadUrl', 'quota', 'changePolling'] as const) expect(typeof drive.capabilities[flag]).toBe('boolean');
    if (drive.capabilities.downloadUrl) expect(typeof drive.downloadUrl).toBe('function');
    if (drive.capabilities.quota) expect(typeof drive.quota).toBe('function');
    if (drive.capabilities.changePolling) expect(typeof drive.pollChanges).toBe('function');
  });

  it('stats the root as a folder and a missing path as notFound', async () => {
    expect((await drive.stat('/')).isFolder).toBe(true);
    expect(await kindOf(drive.stat('/no-such-thing'))).toBe('notFound');
    expect(await kindOf(drive.list('/no-such-folder'))).toBe('notFound');
  });

  it('makes folders, lists them, and refuses what exists or has no parent', async () => {
    const made = await drive.mkdir('/c-dir');
    expect(made).toMatchObject({ name: 'c-dir', path: '/c-dir', isFolder: true, size: 0 });
    expect(await kindOf(drive.mkdir('/c-dir'))).toBe('exists');
    expect(await kindOf(drive.mkdir('/c-missing/sub'))).toBe('parentMissing');
    await drive.mkdir('/c-dir/sub');
    await drive.write('/c-dir/f.txt', body('abc'), { size: 3 });
    const names = (await drive.list('/c-dir')).map((e) => `${e.name}:${e.isFolder}`).sort();
    expect(names).toEqual(['f.txt:false', 'sub:true']);
  });

  it('writes and reads bytes, whole and by range, and refuses a range beyond the end', async () => {
    await drive.mkdir('/c-rw');
    const written = await drive.write('/c-rw/data.txt', body('0123456789'), { size: 10, mtime: new Date('2020-01-02T03:04:05Z') });
    expect(written).toMatchObject({ name: 'data.txt', isFolder: false, size: 10 });
    expect(written.modified.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    const whole = await drive.read('/c-rw/data.txt');
    expect(whole.range).toBeUndefined();
    expect(await text(whole.body)).toBe('0123456789');
    const part = await drive.read('/c-rw/data.txt', { start: 2, end: 5 });
    expect(part.range).toEqual({ start: 2, end: 5, total: 10 });
    expect(await text(part.body)).toBe('2345');
    const tail = await drive.read('/c-rw/data.txt', { start: 7 });
    expect(tail.range).toEqual({ start: 7, end: 9, total: 10 });
    expect(await text(tail.body)).toBe('789');
    expect(await kindOf(drive.read('/c-rw/data.txt', { start: 50 }))).toBe('rangeNotSatisfiable');
    expect(await kindOf(drive.read('/c-rw'))).toBe('isFolder');
    expect(await kindOf(drive.read('/c-rw/none.txt'))).toBe('notFound');
  });

  it('refuses writes without a parent folder, over a folder, and when the preconditions fail', async () => {
    await drive.mkdir('/c-w');
    expect(await kindOf(drive.write('/c-w/missing/f.txt', body('x'), { size: 1 }))).toBe('parentMissing');
    expect(await kindOf(drive.write('/c-w', body('x'), { size: 1 }))).not.toBe('resolved');
    await drive.mkdir('/c-w/folder');
    expect(await kindOf(drive.write('/c-w/folder', body('x'), { size: 1 }))).toBe('exists');
    const first = await drive.write('/c-w/f.txt', body('one'), { size: 3 });
    expect(await kindOf(drive.write('/c-w/f.txt', body('two'), { size: 3, ifNoneMatch: '*' }))).toBe('changed');
    const second = await drive.write('/c-w/f.txt', body('two'), { size: 3, ifMatch: first.version });
    expect(await kindOf(drive.write('/c-w/f.txt', body('three'), { size: 5, ifMatch: first.version }))).toBe('changed');
    expect(await text((await drive.read('/c-w/f.txt')).body)).toBe('two');
    expect(second.version).not.toBe(first.version);
  });

  it('chooses entity tags for files that follow the content, not the mtime', async () => {
    await drive.mkdir('/c-tag');
    const first = await drive.write('/c-tag/f.txt', body('one'), { size: 3 });
    expect(first.etag).toMatch(/^"[\x21\x23-\x7e]+"$/);
    const touched = await drive.setModified('/c-tag/f.txt', new Date('2019-05-06T07:08:09Z'));
    expect(touched.modified.toISOString()).toBe('2019-05-06T07:08:09.000Z');
    expect(touched.etag).toBe(first.etag);
    expect(touched.version).not.toBe(first.version);
    const rewritten = await drive.write('/c-tag/f.txt', body('two!'), { size: 4 });
    expect(rewritten.etag).not.toBe(first.etag);
  });

  it('moves and renames, replacing a file only with overwrite', async () => {
    await drive.mkdir('/c-mv');
    await drive.mkdir('/c-mv/into');
    await drive.write('/c-mv/a.txt', body('A'), { size: 1, mtime: new Date('2018-01-01T00:00:00Z') });
    await drive.write('/c-mv/b.txt', body('B'), { size: 1 });
    const moved = await drive.move('/c-mv/a.txt', '/c-mv/into/a2.txt');
    expect(moved).toMatchObject({ name: 'a2.txt', path: '/c-mv/into/a2.txt' });
    expect(moved.modified.toISOString()).toBe('2018-01-01T00:00:00.000Z');
    expect(await kindOf(drive.stat('/c-mv/a.txt'))).toBe('notFound');
    expect(await kindOf(drive.move('/c-mv/into/a2.txt', '/c-mv/b.txt'))).toBe('exists');
    await drive.move('/c-mv/into/a2.txt', '/c-mv/b.txt', { overwrite: true });
    expect(await text((await drive.read('/c-mv/b.txt')).body)).toBe('A');
    expect(await kindOf(drive.move('/c-mv/gone.txt', '/c-mv/x.txt'))).toBe('notFound');
    expect(await kindOf(drive.move('/c-mv/b.txt', '/c-mv/none/b.txt'))).toBe('parentMissing');
    expect(await kindOf(drive.move('/', '/c-mv/root'))).toBe('forbidden');
  });

  it('copies files and folders with their bytes and times', async () => {
    await drive.mkdir('/c-cp');
    await drive.mkdir('/c-cp/tree');
    await drive.write('/c-cp/tree/f.txt', body('F'), { size: 1, mtime: new Date('2017-03-04T05:06:07Z') });
    const copied = await drive.copy('/c-cp/tree', '/c-cp/tree2');
    expect(copied.isFolder).toBe(true);
    const inner = await drive.stat('/c-cp/tree2/f.txt');
    expect(inner.modified.toISOString()).toBe('2017-03-04T05:06:07.000Z');
    expect(await text((await drive.read('/c-cp/tree2/f.txt')).body)).toBe('F');
    expect((await drive.stat('/c-cp/tree/f.txt')).size).toBe(1);
    await drive.write('/c-cp/other.txt', body('O'), { size: 1 });
    expect(await kindOf(drive.copy('/c-cp/other.txt', '/c-cp/tree/f.txt'))).toBe('exists');
    await drive.copy('/c-cp/other.txt', '/c-cp/tree/f.txt', { overwrite: true });
    expect(await text((await drive.read('/c-cp/tree/f.txt')).body)).toBe('O');
  });

  it('replaces a folder with everything in it, a file by a folder and a folder by a file, only with overwrite', async () => {
    const names = async (path: string) => (await drive.list(path)).map((e) => e.name).sort();
    for (const op of ['move', 'copy'] as const) {
      const at = `/c-ow-${op}`;
      await drive.mkdir(at);
      for (const tree of ['src', 'dest']) {
        await drive.mkdir(`${at}/${tree}`);
        await drive.mkdir(`${at}/${tree}/sub`);
        await drive.write(`${at}/${tree}/${tree}-only.txt`, body(tree), { size: tree.length });
        await drive.write(`${at}/${tree}/sub/both.txt`, body(`${tree}!`), { size: tree.length + 1 });
      }
      expect(await kindOf(drive[op](`${at}/src`, `${at}/dest`))).toBe('exists');
      // Folder over folder: the old members are gone, the source's tree is there.
      const replaced = await drive[op](`${at}/src`, `${at}/dest`, { overwrite: true });
      expect(replaced).toMatchObject({ name: 'dest', isFolder: true });
      expect(await names(`${at}/dest`)).toEqual(['src-only.txt', 'sub']);
      expect(await names(`${at}/dest/sub`)).toEqual(['both.txt']);
      expect(await text((await drive.read(`${at}/dest/sub/both.txt`)).body)).toBe('src!');
      expect(await names(at)).toEqual(op === 'move' ? ['dest'] : ['dest', 'src']);
      // A file over a folder, then a folder over that file.
      await drive.write(`${at}/f.txt`, body('file'), { size: 4 });
      const fileOver = await drive[op](`${at}/f.txt`, `${at}/dest`, { overwrite: true });
      expect(fileOver.isFolder).toBe(false);
      expect(await text((await drive.read(`${at}/dest`)).body)).toBe('file');
      await drive.mkdir(`${at}/g`);
      await drive.write(`${at}/g/in.txt`, body('in'), { size: 2 });
      const folderOver = await drive[op](`${at}/g`, `${at}/dest`, { overwrite: true });
      expect(folderOver.isFolder).toBe(true);
      expect(await names(`${at}/dest`)).toEqual(['in.txt']);
      expect((await names(at)).filter((n) => n.startsWith('.onedav-aside-'))).toEqual([]);
    }
  });

  it('keeps an item’s id when its bytes are replaced, and when it is renamed or moved; gives a new item at a removed one’s path a new id (locks and dead properties follow ids)', async () => {
    await drive.mkdir('/ids');
    await drive.mkdir('/ids/sub');
    const made = await drive.write('/ids/a.txt', body('one'));
    expect(typeof made.id).toBe('string');
    expect((await drive.write('/ids/a.txt', body('two'))).id).toBe(made.id);
    expect((await drive.move('/ids/a.txt', '/ids/b.txt')).id).toBe(made.id);
    expect((await drive.move('/ids/b.txt', '/ids/sub/b.txt')).id).toBe(made.id);
    expect((await drive.stat('/ids/sub/b.txt')).id).toBe(made.id);
    const folder = await drive.stat('/ids/sub');
    expect((await drive.move('/ids/sub', '/ids/renamed')).id).toBe(folder.id);
    expect((await drive.list('/ids/renamed')).map((e) => e.id)).toEqual([made.id]);
    await drive.remove('/ids/renamed/b.txt');
    expect((await drive.write('/ids/renamed/b.txt', body('new'))).id).not.toBe(made.id);
    expect((await drive.copy('/ids/renamed/b.txt', '/ids/copy.txt')).id).not.toBe((await drive.stat('/ids/renamed/b.txt')).id);
  });

  it('removes only an unchanged item when asked to (a folder counts as changed when its members do)', async () => {
    await drive.mkdir('/c-ru');
    const folder = await drive.mkdir('/c-ru/d');
    await drive.write('/c-ru/d/new.txt', body('n'), { size: 1 });
    expect(await kindOf(drive.remove('/c-ru/d', { ifUnchanged: { version: folder.version, etag: folder.etag } }))).toBe('changed');
    expect(await text((await drive.read('/c-ru/d/new.txt')).body)).toBe('n');
    const untouched = await drive.mkdir('/c-ru/e');
    await drive.remove('/c-ru/e', { ifUnchanged: { version: untouched.version, etag: untouched.etag } });
    expect(await kindOf(drive.stat('/c-ru/e'))).toBe('notFound');
    expect((await drive.list('/c-ru')).map((e) => e.name)).toEqual(['d']);
  });

  it('removes items with everything below, and refuses the root and what is gone', async () => {
    await drive.mkdir('/c-rm');
    await drive.mkdir('/c-rm/sub');
    await drive.write('/c-rm/sub/f.txt', body('x'), { size: 1 });
    await drive.remove('/c-rm/sub');
    expect(await kindOf(drive.stat('/c-rm/sub/f.txt'))).toBe('notFound');
    expect(await drive.list('/c-rm')).toEqual([]);
    expect(await kindOf(drive.remove('/c-rm/sub'))).toBe('notFound');
    expect(await kindOf(drive.remove('/'))).toBe('forbidden');
    expect(await kindOf(drive.setModified('/c-rm/sub', new Date()))).toBe('notFound');
  });

  it('treats names that differ only in case as its capabilities say', async () => {
    await drive.mkdir('/c-case');
    await drive.write('/c-case/Name.txt', body('upper'), { size: 5 });
    if (drive.capabilities.caseInsensitive) {
      const found = await drive.stat('/c-case/NAME.TXT');
      expect(found.name).toBe('Name.txt');
      expect(await kindOf(drive.mkdir('/c-case/name.TXT'))).toBe('exists');
    } else {
      expect(await kindOf(drive.stat('/c-case/NAME.TXT'))).toBe('notFound');
      await drive.write('/c-case/name.txt', body('lower'), { size: 5 });
      expect(await text((await drive.read('/c-case/Name.txt')).body)).toBe('upper');
      expect((await drive.list('/c-case')).length).toBe(2);
    }
  });

  it('reports its quota when it declares one', async () => {
    if (!drive.capabilities.quota || !drive.quota) return;
    const quota = await drive.quota();
    expect(quota.total).toBeGreaterThan(0);
    expect(quota.used).toBeGreaterThanOrEqual(0);
    expect(quota.remaining).toBeLessThanOrEqual(quota.total);
  });
});
