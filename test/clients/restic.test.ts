import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram, run, skipReason } from './tools.js';
import { NAMED_TREE, filesUnder, oneUser, writeTree } from './workload.js';

/**
 * restic with an rclone remote (`-r rclone:remote:path`: restic runs `rclone serve restic` and
 * rclone's webdav backend talks to onedav), configured by environment variables only: init, two
 * backups, `check --read-data` (every pack downloaded and hashed), and a restore compared byte for
 * byte, on a business drive. The repository folder has a space, a `#`, an accent and CJK.
 */
describe.skipIf(!hasProgram('restic') || !hasProgram('rclone'))(`restic through rclone${skipReason('restic')}${skipReason('rclone')}`, () => {
  let workdir: string;
  let stack: DavStack;
  let env: NodeJS.ProcessEnv;
  const REPOSITORY = 'rclone:onedav:Backups/restic #1 ü 日本';

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'onedav-restic-'));
    await writeTree(join(workdir, 'source'), NAMED_TREE);
    stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])], dav: { users: await oneUser('restic', 'restic pw'), anonymous: { enabled: false } } });
    const obscured = (await run('rclone', ['obscure', 'restic pw'])).stdout.trim();
    env = {
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_ONEDAV_TYPE: 'webdav',
      RCLONE_CONFIG_ONEDAV_URL: stack.url,
      RCLONE_CONFIG_ONEDAV_VENDOR: 'other',
      RCLONE_CONFIG_ONEDAV_USER: 'restic',
      RCLONE_CONFIG_ONEDAV_PASS: obscured,
      RESTIC_PASSWORD: 'repository secret',
      RESTIC_CACHE_DIR: join(workdir, 'cache'),
      HOME: workdir,
    };
  });
  afterAll(async () => {
    await stack?.close();
    await rm(workdir, { recursive: true, force: true });
  });

  const restic = (...args: string[]) => run('restic', ['-r', REPOSITORY, ...args], { env, cwd: workdir, timeoutMs: 120_000 });

  it('inits, backs up twice, checks every pack and restores identical bytes', async () => {
    const init = await restic('init');
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/created restic repository/);

    const first = await restic('backup', 'source');
    expect(first.code, first.stderr).toBe(0);
    await writeFile(join(workdir, 'source', 'Reise 2024 #1', 'zweiter Lauf #2 二.txt'), 'second run\n');
    const second = await restic('backup', 'source');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/Added to the repository|Added to the repo/);

    const snapshots = await restic('snapshots', '--json');
    expect((JSON.parse(snapshots.stdout) as unknown[]).length).toBe(2);
    const stored = stack.emulator.drive.listPaths(stack.driveIds[0]);
    expect(stored).toContain('/Backups/restic #1 ü 日本/config');
    expect(stored.some((p) => p.startsWith('/Backups/restic #1 ü 日本/data/') && !p.endsWith('/'))).toBe(true);

    const check = await restic('check', '--read-data');
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/no errors were found/);

    const restore = await restic('restore', 'latest', '--target', join(workdir, 'restored'));
    expect(restore.code, restore.stderr).toBe(0);
    const source = join(workdir, 'source');
    const restored = join(workdir, 'restored', 'source');
    const files = await filesUnder(source);
    expect(await filesUnder(restored)).toEqual(files);
    for (const name of files) expect((await readFile(join(restored, name))).equals(await readFile(join(source, name))), name).toBe(true);
  }, 240_000);
});
