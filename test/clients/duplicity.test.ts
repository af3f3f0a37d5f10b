import { appendFile, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram, run, skipReason } from './tools.js';
import { NAMED_TREE, filesUnder, oneUser, urlPath, writeTree } from './workload.js';

/**
 * duplicity's webdav backend: a full backup, an incremental one, a verify that compares every byte
 * with the source, and a restore into a new folder, on a business drive. The files backed up carry
 * the named tree's names (in duplicity's archives); the target folder has spaces, an accent and
 * CJK, but no `#`: duplicity 0.8 unquotes each listed href before parsing it as a URL
 * (duplicity/backends/webdavbackend.py, taste_href), so a `#` in the target cuts its path short and
 * it finds no backup chain. That is duplicity's, on every WebDAV server.
 */
describe.skipIf(!hasProgram('duplicity'))(`duplicity${skipReason('duplicity')}`, () => {
  let workdir: string;
  let stack: DavStack;
  let target: string;
  const TARGET = 'Backups/Sicherung ü 日本';

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'onedav-duplicity-'));
    await writeTree(join(workdir, 'source'), NAMED_TREE);
    stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])], dav: { users: await oneUser('backup', 'dup pw #1'), anonymous: { enabled: false } } });
    target = `${stack.url.replace('http://', 'webdav://backup@')}/${urlPath(TARGET)}`;
  });
  afterAll(async () => {
    await stack?.close();
    await rm(workdir, { recursive: true, force: true });
  });

  // The password comes from FTP_PASSWORD, as duplicity's manual says for every backend.
  const duplicity = (...args: string[]) =>
    run('duplicity', [...args, '--no-encryption', '--num-retries', '1', '--archive-dir', join(workdir, 'archive')], {
      env: { FTP_PASSWORD: 'dup pw #1', HOME: workdir },
      timeoutMs: 120_000,
    });

  it('backs up in full and incrementally, verifies every byte, and restores into a new folder', async () => {
    const source = join(workdir, 'source');
    const full = await duplicity('full', source, target);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/Errors 0/);

    // A change and a new file for the incremental run.
    const changed = join(source, 'Reise 2024 #1/notes a b #1.txt');
    await appendFile(changed, 'noch eine Zeile\n');
    // duplicity compares whole-second mtimes (a change within the second of the full run goes unseen):
    // the edit is dated a minute later, as an edit after a backup is.
    const later = new Date(Date.now() + 60_000);
    await utimes(changed, later, later);
    await writeFile(join(source, 'Reise 2024 #1/Café ü/neu #4 新しい.txt'), 'added later\n');
    const incremental = await duplicity('incremental', source, target);
    expect(incremental.code, incremental.stderr).toBe(0);
    expect(incremental.stdout).toMatch(/Errors 0/);
    expect(incremental.stdout).toMatch(/NewFiles [1-9]/);
    expect(incremental.stdout).toMatch(/ChangedFiles [1-9]/);
    const stored = stack.emulator.drive.listPaths(stack.driveIds[0]).filter((p) => p.startsWith(`/${TARGET}/duplicity-`));
    expect(stored.filter((p) => p.includes('duplicity-full.'))).not.toHaveLength(0);
    expect(stored.filter((p) => p.includes('duplicity-inc.'))).not.toHaveLength(0);

    const verify = await duplicity('verify', '--compare-data', target, source);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/0 differences found/);

    const restored = join(workdir, 'restored');
    const restore = await duplicity('restore', target, restored);
    expect(restore.code, restore.stderr).toBe(0);
    const files = await filesUnder(source);
    expect(await filesUnder(restored)).toEqual(files);
    for (const name of files) expect((await readFile(join(restored, name))).equals(await readFile(join(source, name))), name).toBe(true);
  }, 240_000);
});
