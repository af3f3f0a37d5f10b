import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { DRIVE_KINDS, mountOf, type DriveKind } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram, run, skipReason } from './tools.js';

/** cadaver (neon) driven by a script on stdin, credentials from a private ~/.netrc, on each kind of drive. */
describe.skipIf(!hasProgram('cadaver'))(`cadaver${skipReason('cadaver')}`, () => {
  let home: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'onedav-cadaver-'));
    await writeFile(join(home, '.netrc'), 'machine 127.0.0.1 login cad password cadaver-pw\n', { mode: 0o600 });
    await writeFile(join(home, 'local.txt'), 'hello from cadaver\n');
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  async function startWith(mode: 'auto' | 'redirect', kind: DriveKind = DRIVE_KINDS[0]): Promise<DavStack> {
    const users = [{ name: 'cad', password: await hashPassword('cadaver-pw', { N: 1 << 12, r: 8, p: 1 }) }];
    return startDavStack({ mounts: [mountOf(kind)], dav: { users, anonymous: { enabled: false }, download: { mode } } });
  }

  const cadaver = (stack: DavStack, script: string[]) => run('cadaver', [`${stack.url}/`], { cwd: home, env: { HOME: home }, input: `${script.join('\n')}\nquit\n`, timeoutMs: 60_000 });

  it.each(DRIVE_KINDS)('mkcol, put, ls, get, mv, lock, discover, unlock, propset, propget, rm on a $name drive', async (kind) => {
    const stack = await startWith('auto', kind);
    try {
      const { stdout, code } = await cadaver(stack, [
        'mkcol dir',
        'cd dir',
        'put local.txt remote.txt',
        'ls',
        'get remote.txt fetched.txt',
        'mv remote.txt moved.txt',
        'lock moved.txt',
        'discover moved.txt',
        'unlock moved.txt',
        'propset moved.txt color blue',
        'propget moved.txt color',
        'ls',
        'rm moved.txt',
        'ls',
      ]);
      expect(code).toBe(0);
      expect(stdout).not.toMatch(/failed/i);
      expect(stdout).toMatch(/Creating `dir': succeeded/);
      expect(stdout).toMatch(/Uploading local\.txt to `\/dir\/remote\.txt': .*succeeded/);
      expect(stdout).toMatch(/remote\.txt\s+19/);
      expect(stdout).toMatch(/Moving `\/dir\/remote\.txt' to `\/dir\/moved\.txt':\s+succeeded/);
      expect(stdout).toMatch(/Locking `moved\.txt': succeeded/);
      expect(stdout).toMatch(/Lock token <opaquelocktoken:[0-9a-f-]+>/);
      expect(stdout).toMatch(/Scope: exclusive\s+Type: write\s+Timeout: \d+ seconds/);
      expect(stdout).toMatch(/Unlocking `moved\.txt': succeeded/);
      expect(stdout).toMatch(/Value of color is: blue/);
      expect(stdout).toMatch(/Deleting `moved\.txt': succeeded/);
      expect(await readFile(join(home, 'fetched.txt'), 'utf8')).toBe('hello from cadaver\n');
      await rm(join(home, 'fetched.txt'));
      expect(stack.emulator.drive.listPaths(stack.driveIds[0])).toEqual(['/dir/']);
    } finally {
      await stack.close();
    }
  }, 90_000);

  it('does not follow a redirect on GET (why auto mode proxies neon clients)', async () => {
    const stack = await startWith('redirect');
    try {
      const { stdout } = await cadaver(stack, ['put local.txt r.txt', 'get r.txt redirected.txt']);
      expect(stdout).toMatch(/redirect to http:\/\/127\.0\.0\.1:\d+\/dl\//);
      expect(await readFile(join(home, 'redirected.txt'), 'utf8')).toBe('');
    } finally {
      await stack.close();
    }
  }, 90_000);
});
