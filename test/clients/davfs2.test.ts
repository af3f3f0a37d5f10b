import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram, run } from './tools.js';

/**
 * davfs2 mounting onedav through FUSE (only where the machine can mount: root, /dev/fuse and
 * mount.davfs present). `buf_size 64` works around davfs2 1.6/1.7 returning EINVAL on readdir
 * under Linux ≥ 6.16 (alisarctl/davfs2#22); `delay_upload 0` makes closes upload at once.
 * It runs on each kind of drive (business, SharePoint library, 21Vianet).
 */
function cannotMount(): string {
  if (!hasProgram('mount.davfs')) return 'mount.davfs is not installed; apt-get install davfs2';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'mounting needs root';
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing';
  return '';
}

const reason = cannotMount();

describe.skipIf(reason !== '').each(DRIVE_KINDS)(`davfs2 on a $name drive${reason ? ` (skipped: ${reason})` : ''}`, (kind) => {
  let stack: DavStack;
  let dir: string;
  let mountPoint: string;
  let mounted = false;

  beforeAll(async () => {
    const users = [{ name: 'fs', password: await hashPassword('davfs-pw', { N: 1 << 12, r: 8, p: 1 }) }];
    stack = await startDavStack({ mounts: [mountOf(kind)], dav: { users, anonymous: { enabled: false } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'docs/hello.txt', 'hello davfs\n');
    dir = await mkdtemp(join(tmpdir(), 'onedav-davfs2-'));
    mountPoint = join(dir, 'mnt');
    await mkdir(mountPoint);
    await writeFile(join(dir, 'secrets'), `${stack.url}/ fs davfs-pw\n`, { mode: 0o600 });
    await writeFile(join(dir, 'davfs2.conf'), `buf_size 64\ndelay_upload 0\nuse_locks 1\nsecrets ${join(dir, 'secrets')}\n`);
  });

  afterAll(async () => {
    if (mounted) await run('umount', [mountPoint], { timeoutMs: 60_000 });
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('mounts, lists, reads, writes, renames and deletes through the kernel', async () => {
    const mount = await run('mount.davfs', ['-o', `conf=${join(dir, 'davfs2.conf')}`, `${stack.url}/`, mountPoint], { timeoutMs: 60_000 });
    expect(mount.code, `${mount.stdout}${mount.stderr}`).toBe(0);
    mounted = true;

    expect((await readdir(mountPoint)).filter((n) => n !== 'lost+found')).toEqual(['docs']);
    expect(await readdir(join(mountPoint, 'docs'))).toEqual(['hello.txt']);
    expect(await readFile(join(mountPoint, 'docs', 'hello.txt'), 'utf8')).toBe('hello davfs\n');

    await writeFile(join(mountPoint, 'docs', 'written by davfs.txt'), 'from the kernel\n');
    await mkdir(join(mountPoint, 'docs', 'made'));
    await rename(join(mountPoint, 'docs', 'hello.txt'), join(mountPoint, 'docs', 'made', 'hello.txt'));
    await writeFile(join(mountPoint, 'docs', 'temp.txt'), 'short-lived');
    await unlink(join(mountPoint, 'docs', 'temp.txt'));

    const unmount = await run('umount', [mountPoint], { timeoutMs: 60_000 });
    expect(unmount.code, unmount.stderr).toBe(0);
    mounted = false;

    const drive = stack.driveIds[0];
    expect(stack.emulator.drive.listPaths(drive)).toEqual(['/docs/', '/docs/made/', '/docs/made/hello.txt', '/docs/written by davfs.txt']);
    expect((await stack.emulator.drive.readFile(drive, 'docs/written by davfs.txt')).toString()).toBe('from the kernel\n');
  }, 120_000);
});
