import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram, run } from './tools.js';
import { FOLDER, NAMED_TREE, foldersOf, oneUser, urlPath, writeTree } from './workload.js';

/**
 * GNOME's layer (gvfs, what Files uses): `gio` talking to gvfsd-dav over a private D-Bus session,
 * mounting `dav://` with a user name and password typed on stdin, as a person does at Files'
 * "Connect to Server". Copies the named tree in, lists it, reads it back byte for byte, renames,
 * moves and deletes, on each kind of drive.
 */
describe.skipIf(!hasGvfsBackend())(`gvfs (gio)${gvfsBackendReason()}`, () => {
  let workdir: string;
  let bus: ChildProcess;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'onedav-gvfs-'));
    await writeTree(join(workdir, 'up'), NAMED_TREE);
    // A session bus of our own: gvfsd and gvfsd-dav are started on it by D-Bus activation and
    // exit with it. HOME and XDG dirs in the work dir keep gvfs' metadata out of the real home.
    bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      bus.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      bus.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}`)));
    });
    env = {
      DBUS_SESSION_BUS_ADDRESS: address,
      HOME: workdir,
      XDG_RUNTIME_DIR: workdir,
      XDG_DATA_HOME: join(workdir, 'data'),
      XDG_CONFIG_HOME: join(workdir, 'config'),
      XDG_CACHE_HOME: join(workdir, 'cache'),
      // No udisks, MTP, phones… on a server: keep gio from starting their volume monitors.
      GVFS_REMOTE_VOLUME_MONITOR_IGNORE: '1',
      GIO_USE_VFS: 'gvfs',
    };
  }, 30_000);
  afterAll(async () => {
    bus?.kill();
    await rm(workdir, { recursive: true, force: true });
  });

  const gio = (args: string[], input?: string) => run('gio', args, { env, input, timeoutMs: 60_000 });

  describe.each(DRIVE_KINDS)('on a $name drive', (kind) => {
    let stack: DavStack;
    let root: string;
    /** A `dav://` URI of a drive path, escaped as Files escapes it (gio takes URIs, where `#` starts a fragment). */
    const uri = (path = '') => `${root}/${urlPath(path)}`;

    beforeAll(async () => {
      stack = await startDavStack({ mounts: [mountOf(kind)], dav: { users: await oneUser('gnome', 'files pw'), anonymous: { enabled: false } } });
      root = stack.url.replace('http://', 'dav://');
    });
    afterAll(async () => {
      await gio(['mount', '-u', `${root}/`]);
      await stack.close();
    });

    it('mounts with a password, copies a tree in, lists, reads back, renames, moves and deletes', async () => {
      // gio mount asks "User:" then "Password:" on the terminal, as Files' dialog does.
      const mount = await gio(['mount', `${root}/`], 'gnome\nfiles pw\n');
      expect(mount.code, mount.stderr).toBe(0);

      // Folders one level at a time: bookworm's gvfs (1.50) reports MKCOL's 409 (parent missing,
      // RFC 4918 §9.3.1) as a generic error, so `gio mkdir -p` stops at the first missing parent;
      // fixed in gvfs 1.56.1 (GNOME/gvfs 1c9fbc10). Files creates one folder per action anyway.
      for (const folder of foldersOf(Object.keys(NAMED_TREE))) {
        const made = await gio(['mkdir', uri(folder)]);
        expect(made.code, `${folder}: ${made.stderr}`).toBe(0);
      }
      for (const name of Object.keys(NAMED_TREE)) {
        const copied = await gio(['copy', join(workdir, 'up', name), uri(name)]);
        expect(copied.code, `${name}: ${copied.stderr}`).toBe(0);
      }
      const drive = stack.driveIds[0];
      for (const [name, content] of Object.entries(NAMED_TREE)) expect((await stack.emulator.drive.readFile(drive, name)).equals(content), name).toBe(true);

      const listed = await gio(['list', '-l', uri(FOLDER)]);
      expect(listed.code, listed.stderr).toBe(0);
      const rows = listed.stdout.trim().split('\n').map((line) => line.split('\t'));
      expect(rows.map(([name, , type]) => `${name} ${type}`).sort()).toEqual(['Café ü (directory)', 'empty.txt (regular)', 'notes a b #1.txt (regular)', '日本語 フォルダ (directory)']);
      expect(rows.find(([name]) => name === 'notes a b #1.txt')?.[1]).toBe(String(NAMED_TREE[`${FOLDER}/notes a b #1.txt`].length));

      const text = await gio(['cat', uri(`${FOLDER}/notes a b #1.txt`)]);
      expect(text.stdout).toBe(NAMED_TREE[`${FOLDER}/notes a b #1.txt`].toString('utf8'));
      for (const [name, content] of Object.entries(NAMED_TREE)) {
        const local = join(workdir, `down-${kind.name}-${name.replaceAll('/', '_')}`);
        const copied = await gio(['copy', uri(name), local]);
        expect(copied.code, `${name}: ${copied.stderr}`).toBe(0);
        expect((await readFile(local)).equals(content), name).toBe(true);
      }

      // Files' F2 (rename in place) and drag to another folder (move).
      const photo = `${FOLDER}/日本語 フォルダ/写真 #2.bin`;
      const renamed = await gio(['rename', uri(photo), 'Foto été #3.bin']);
      expect(renamed.code, renamed.stderr).toBe(0);
      const moved = await gio(['move', uri(`${FOLDER}/日本語 フォルダ/Foto été #3.bin`), uri(`${FOLDER}/Café ü/Foto été #3.bin`)]);
      expect(moved.code, moved.stderr).toBe(0);
      expect((await stack.emulator.drive.readFile(drive, `${FOLDER}/Café ü/Foto été #3.bin`)).equals(NAMED_TREE[photo])).toBe(true);

      // gio refuses to remove a folder with files in it (so does Files without its own recursion):
      // delete the files, then the folders, deepest first.
      const removed = await gio(['remove', uri(`${FOLDER}/Café ü/été 2024.bin`), uri(`${FOLDER}/Café ü/Foto été #3.bin`), uri(`${FOLDER}/Café ü`), uri(`${FOLDER}/日本語 フォルダ`)]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(stack.emulator.drive.listPaths(drive)).toEqual([`/${FOLDER}/`, `/${FOLDER}/empty.txt`, `/${FOLDER}/notes a b #1.txt`]);

      // The free space Files shows in its status bar and Properties comes from the quota properties.
      const info = await gio(['info', '-f', `${root}/`]);
      expect(info.stdout).toMatch(/filesystem::size: [1-9]\d*/);
      expect(info.stdout).toMatch(/filesystem::free: [1-9]\d*/);
    }, 90_000);
  });
});

function hasGvfsBackend(): boolean {
  return hasProgram('gio') && hasProgram('dbus-daemon') && gvfsDavInstalled();
}

function gvfsBackendReason(): string {
  if (hasGvfsBackend()) return '';
  return ' (skipped: gio, dbus-daemon or gvfsd-dav is not installed; apt-get install libglib2.0-bin dbus-daemon gvfs-backends)';
}

/** gvfs' WebDAV backend, started by gvfsd (not on PATH). */
function gvfsDavInstalled(): boolean {
  try {
    accessSync('/usr/libexec/gvfsd-dav', constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
