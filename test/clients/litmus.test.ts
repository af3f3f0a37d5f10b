import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { startDavServer, type DavServerOptions } from '../../src/dav/server.js';
import { MemoryDrive } from '../../src/drive/index.js';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack } from '../helpers/stack.js';
import { expectEveryLitmusTestPassed, SUITES } from './litmus-results.js';
import { hasProgram, run, skipReason } from './tools.js';

/**
 * The litmus WebDAV compliance suite (basic, copymove, props, locks, http) against onedav on the
 * emulator, authenticated with Basic, in the default `auto` download mode (litmus is neon-based,
 * so it is proxied). Every test must pass, without warnings, on each kind of drive (business,
 * SharePoint library, 21Vianet, and an in-memory drive).
 */
/** The three Graph drive kinds, and an in-memory drive (case-sensitive): proof that the seam is neutral. */
const KINDS: Array<{ name: string; start(users: DavServerOptions['users']): Promise<{ url: string; close(): Promise<void> }> }> = [
  ...DRIVE_KINDS.map((kind) => ({
    name: kind.name,
    start: (users: DavServerOptions['users']) => startDavStack({ mounts: [mountOf(kind)], dav: { users, anonymous: { enabled: false }, download: { mode: 'auto' } } }),
  })),
  {
    name: 'memory',
    async start(users: DavServerOptions['users']) {
      const dataDir = await mkdtemp(join(tmpdir(), 'onedav-litmus-data-'));
      const server = await startDavServer({ port: 0, dataDir, users, anonymous: { enabled: false }, download: { mode: 'auto' }, mounts: [{ prefix: '/', drive: new MemoryDrive() }] });
      return {
        url: server.url,
        async close() {
          await server.close();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];

describe.skipIf(!hasProgram('litmus')).each(KINDS)(`litmus on a $name drive${skipReason('litmus')}`, (kind) => {
  let stack: { url: string; close(): Promise<void> };
  let workdir: string;

  beforeAll(async () => {
    const users = [{ name: 'litmus', password: await hashPassword('litmus-pw', { N: 1 << 12, r: 8, p: 1 }) }];
    stack = await kind.start(users);
    workdir = await mkdtemp(join(tmpdir(), 'onedav-litmus-'));
  });
  afterAll(async () => {
    await stack.close();
    await rm(workdir, { recursive: true, force: true });
  });

  it('passes every test of basic, copymove, props, locks and http', async () => {
    const result = await run('litmus', [`${stack.url}/`, 'litmus', 'litmus-pw'], { cwd: workdir, env: { TESTS: SUITES.join(' ') }, timeoutMs: 240_000 });
    const passed = expectEveryLitmusTestPassed(result);
    console.log(`[litmus on a ${kind.name} drive] ${passed} passed`);
  }, 300_000);
});
