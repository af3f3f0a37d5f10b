import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram, run, skipReason } from './tools.js';
import { FOLDER, NAMED_TREE, filesUnder, oneUser, urlPath, writeTree } from './workload.js';

/**
 * KDE's layer (KIO's webdav worker, what Dolphin uses): `kioclient5` headless, copying the named
 * tree in, listing, reading back byte for byte, moving and removing, on each kind of drive.
 */
describe.skipIf(!hasProgram('kioclient5'))(`KIO (kioclient5)${skipReason('kioclient5', 'kde-cli-tools')}`, () => {
  let workdir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'onedav-kio-'));
    await writeTree(join(workdir, 'up'), NAMED_TREE);
    // KIO's HTTP cache hands each cached download to kio_http_cache_cleaner, which finds no
    // session bus here and gives up only after 3 s per file; a desktop has the bus, a script
    // does not need the cache.
    await mkdir(join(workdir, 'config'));
    await writeFile(join(workdir, 'config', 'kio_webdavrc'), 'UseCache=false\n');
    env = {
      QT_QPA_PLATFORM: 'offscreen',
      HOME: workdir,
      XDG_RUNTIME_DIR: workdir, // mkdtemp made it 0700, as Qt wants
      XDG_CONFIG_HOME: join(workdir, 'config'),
      XDG_CACHE_HOME: join(workdir, 'cache'),
      XDG_DATA_HOME: join(workdir, 'data'),
      // No session bus: no kiod5 (kpasswdserver) and no kded5 (cookie jar); KIO works without them.
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(workdir, 'no-bus')}`,
    };
  });
  afterAll(() => rm(workdir, { recursive: true, force: true }));

  describe.each(DRIVE_KINDS)('on a $name drive', (kind) => {
    let stack: DavStack;
    let root: string;
    const url = (path = '') => `${root}/${urlPath(path)}`;
    /**
     * --overwrite: KIO 5.103 sends the URL's password once per operation (KDE/kio
     * src/kioworkers/http/http.cpp, handleAuthenticationHeader: triedCredentials). A copy without
     * it first PROPFINDs the target, and the PUT's own 401 then asks kiod5's kpasswdserver, which
     * only runs in a Plasma session (where Dolphin's password dialog has filled it).
     */
    const kio = (...args: string[]) => run('kioclient5', ['--noninteractive', '--overwrite', ...args], { env, timeoutMs: 60_000 });

    beforeAll(async () => {
      stack = await startDavStack({ mounts: [mountOf(kind)], dav: { users: await oneUser('kde', 'dolphin pw'), anonymous: { enabled: false } } });
      root = stack.url.replace('http://', `webdav://kde:${encodeURIComponent('dolphin pw')}@`);
    });
    afterAll(() => stack.close());

    it('copies a tree in, lists, reads back, moves and removes', async () => {
      const copied = await kio('copy', join(workdir, 'up', FOLDER), `${root}/`);
      expect(copied.code, copied.stderr).toBe(0);
      const drive = stack.driveIds[0];
      for (const [name, content] of Object.entries(NAMED_TREE)) expect((await stack.emulator.drive.readFile(drive, name)).equals(content), name).toBe(true);

      const ls = await kio('ls', `${url(FOLDER)}/`);
      expect(ls.code, ls.stderr).toBe(0);
      expect(ls.stdout.split('\n').filter((n) => n && n !== '.').sort()).toEqual(['Café ü', 'empty.txt', 'notes a b #1.txt', '日本語 フォルダ']);

      const cat = await kio('cat', url(`${FOLDER}/notes a b #1.txt`));
      expect(cat.code, cat.stderr).toBe(0);
      expect(cat.stdout).toBe(NAMED_TREE[`${FOLDER}/notes a b #1.txt`].toString('utf8'));

      const down = join(workdir, `down-${kind.name}`);
      await mkdir(down);
      const back = await kio('copy', url(FOLDER), down);
      expect(back.code, back.stderr).toBe(0);
      expect(await filesUnder(down)).toEqual(Object.keys(NAMED_TREE).sort());
      for (const [name, content] of Object.entries(NAMED_TREE)) expect((await readFile(join(down, name))).equals(content), name).toBe(true);

      // Dolphin's rename (F2) and cut/paste into another folder are both KIO moves.
      const photo = `${FOLDER}/日本語 フォルダ/写真 #2.bin`;
      const renamed = await kio('move', url(photo), url(`${FOLDER}/日本語 フォルダ/Foto été #3.bin`));
      expect(renamed.code, renamed.stderr).toBe(0);
      const moved = await kio('move', url(`${FOLDER}/日本語 フォルダ/Foto été #3.bin`), url(`${FOLDER}/Café ü/`));
      expect(moved.code, moved.stderr).toBe(0);
      expect((await stack.emulator.drive.readFile(drive, `${FOLDER}/Café ü/Foto été #3.bin`)).equals(NAMED_TREE[photo])).toBe(true);

      // Removing a folder with files in it (Dolphin's Shift+Delete).
      const removed = await kio('remove', url(`${FOLDER}/Café ü`), url(`${FOLDER}/empty.txt`));
      expect(removed.code, removed.stderr).toBe(0);
      expect(stack.emulator.drive.listPaths(drive)).toEqual([`/${FOLDER}/`, `/${FOLDER}/notes a b #1.txt`, `/${FOLDER}/日本語 フォルダ/`]);
    }, 90_000);
  });
});
