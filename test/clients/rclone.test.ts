import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { hasProgram, run, skipReason } from './tools.js';

/**
 * rclone's webdav backend (vendor "other") copying up, listing, checking byte by byte and copying
 * down, in both download modes: in redirect mode rclone must follow onedav's 302s to the
 * pre-authenticated URLs (this test is the evidence behind `auto` redirecting rclone). Each runs on
 * every kind of drive (business, SharePoint library, 21Vianet).
 */
const MiB = 1024 * 1024;
const FILES: Record<string, Buffer> = {
  'empty.txt': Buffer.alloc(0),
  'small.txt': Buffer.from('hello from rclone\n'),
  'one MiB.bin': randomBytes(MiB),
  'sub/ünïcødé 3MiB.bin': randomBytes(3 * MiB + 17),
  'sub/deeper/five MiB + change.bin': randomBytes(5 * MiB + 4321),
};

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)));
  }
  return out.sort();
}

/**
 * Sizes around every boundary the upload path has: empty, one byte, one fragment unit ± 1, the
 * simple-upload limit ± 1, one default fragment + 1, and a 200 MiB file (20 fragments).
 * ONEDAV_RCLONE_LARGE_MIB scales the large file down on a slow machine; CI runs 200.
 */
const UNIT = 327_680;
const LARGE_MIB = Number(process.env.ONEDAV_RCLONE_LARGE_MIB ?? 200);
const BOUNDARY_SIZES: Record<string, number> = {
  'zero.bin': 0,
  'one.bin': 1,
  'unit-1.bin': UNIT - 1,
  'unit.bin': UNIT,
  'units/unit+1.bin': UNIT + 1,
  'simple/4MiB-1.bin': 4 * MiB - 1,
  'simple/4MiB.bin': 4 * MiB,
  'simple/4MiB+1.bin': 4 * MiB + 1,
  'fragments/10MiB+1.bin': 10 * MiB + 1,
  [`fragments/large/${LARGE_MIB}MiB.bin`]: LARGE_MIB * MiB,
};

/** Writes `size` pseudo-random bytes to `path` a MiB at a time (seeded, so each file differs). */
async function writeGenerated(path: string, size: number, seed: number): Promise<void> {
  const block = randomBytes(MiB);
  const handle = await open(path, 'w');
  try {
    for (let offset = 0, n = 0; offset < size; offset += MiB, n++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - offset)));
      if (chunk.length >= 8) chunk.writeDoubleLE(seed * 1e6 + n, 0); // no two MiB alike
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
}

describe.skipIf(!hasProgram('rclone'))(`rclone${skipReason('rclone')}`, () => {
  let workdir: string;
  let obscured: string;

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'onedav-rclone-'));
    const up = join(workdir, 'up');
    for (const [name, content] of Object.entries(FILES)) {
      await mkdir(join(up, name, '..'), { recursive: true });
      await writeFile(join(up, name), content);
    }
    obscured = (await run('rclone', ['obscure', 'rclone-pw'])).stdout.trim();
  });
  afterAll(() => rm(workdir, { recursive: true, force: true }));

  /** The boundary-size tree, written once for all drive kinds. */
  let boundaryTreeWritten: Promise<string> | undefined;
  const boundaryTree = () =>
    (boundaryTreeWritten ??= (async () => {
      const source = join(workdir, 'sizes');
      let seed = 1;
      for (const [name, size] of Object.entries(BOUNDARY_SIZES)) {
        await mkdir(join(source, name, '..'), { recursive: true });
        await writeGenerated(join(source, name), size, seed++);
      }
      return source;
    })());

  describe.each(DRIVE_KINDS)('on a $name drive', (kind) => {
    describe.each(['redirect', 'proxy'] as const)('in %s mode', (mode) => {
      let stack: DavStack;
      const log = recordingLogger('json', 'info'); // its access lines show which GETs were redirected

      beforeAll(async () => {
        const users = [{ name: 'rc', password: await hashPassword('rclone-pw', { N: 1 << 12, r: 8, p: 1 }) }];
        stack = await startDavStack({ mounts: [mountOf(kind)], dav: { users, anonymous: { enabled: false }, download: { mode }, logger: log } });
      });
      afterAll(() => stack.close());

      const rclone = (...args: string[]) =>
        run('rclone', [...args, '--config', '/dev/null', '--low-level-retries', '1', '--retries', '1'], {
          env: {
            RCLONE_CONFIG_OD_TYPE: 'webdav',
            RCLONE_CONFIG_OD_URL: stack.url,
            RCLONE_CONFIG_OD_VENDOR: 'other',
            RCLONE_CONFIG_OD_USER: 'rc',
            RCLONE_CONFIG_OD_PASS: obscured,
          },
          timeoutMs: 180_000,
        });

      it('copies up, lists, checks every byte and copies down', async () => {
        const up = await rclone('copy', join(workdir, 'up'), 'od:backup');
        expect(up.stderr).not.toMatch(/ERROR/);
        expect(up.code).toBe(0);
        expect(stack.emulator.drive.listPaths(stack.driveIds[0]).filter((p) => !p.endsWith('/'))).toEqual(
          Object.keys(FILES)
            .map((n) => `/backup/${n}`)
            .sort(),
        );

        const lsf = await rclone('lsf', '-R', '--files-only', 'od:backup');
        expect(lsf.code).toBe(0);
        expect(lsf.stdout.trim().split('\n').sort()).toEqual(Object.keys(FILES).sort());

        const check = await rclone('check', '--download', join(workdir, 'up'), 'od:backup');
        expect(check.stderr).toMatch(/0 differences found/);
        expect(check.code).toBe(0);

        const down = join(workdir, `down-${kind.name}-${mode}`);
        const copied = await rclone('copy', 'od:backup', down);
        expect(copied.code).toBe(0);
        expect(await filesUnder(down)).toEqual(Object.keys(FILES).sort());
        for (const [name, content] of Object.entries(FILES)) expect((await readFile(join(down, name))).equals(content), name).toBe(true);

        const gets = log.accessLines().filter((r) => r.method === 'GET');
        const expected = mode === 'redirect' ? 302 : 200;
        // Non-empty files went through redirects (or the proxy); empty ones are answered directly.
        expect(gets.filter((r) => r.status === expected).length).toBeGreaterThanOrEqual(2 * (Object.keys(FILES).length - 1));
      }, 240_000);

      it('deletes and moves through the server', async () => {
        expect((await rclone('moveto', 'od:backup/small.txt', 'od:backup/renamed.txt')).code).toBe(0);
        expect((await rclone('delete', 'od:backup/sub')).code).toBe(0);
        const lsf = await rclone('lsf', '-R', '--files-only', 'od:backup');
        expect(lsf.stdout.trim().split('\n').sort()).toEqual(['empty.txt', 'one MiB.bin', 'renamed.txt']);
      }, 120_000);
    });

    describe(`a tree of boundary sizes up to ${LARGE_MIB} MiB`, () => {
      let stack: DavStack;
      let source: string;

      beforeAll(async () => {
        source = await boundaryTree();
        stack = await startDavStack({ mounts: [mountOf(kind)] });
      }, 120_000);
      afterAll(() => stack.close());

      const rclone = (...args: string[]) =>
        run('rclone', [...args, '--config', '/dev/null', '--low-level-retries', '1', '--retries', '1'], {
          env: { RCLONE_CONFIG_OD_TYPE: 'webdav', RCLONE_CONFIG_OD_URL: stack.url, RCLONE_CONFIG_OD_VENDOR: 'other' },
          timeoutMs: 300_000,
        });
      const timings: string[] = [];
      const timed = async (what: string, args: string[]) => {
        const started = performance.now();
        const result = await rclone(...args);
        timings.push(`${what} ${((performance.now() - started) / 1000).toFixed(1)} s`);
        return result;
      };

      it('copies up, checks every byte clean, and copies down identical', async () => {
        const up = await timed('copy up', ['copy', source, 'od:sizes']);
        expect(up.stderr).not.toMatch(/ERROR/);
        expect(up.code).toBe(0);
        const drive = stack.driveIds[0];
        for (const [name, size] of Object.entries(BOUNDARY_SIZES)) expect(stack.emulator.drive.stat(drive, `sizes/${name}`)?.size, name).toBe(size);
        // Every upload session sent 320 KiB multiples but for its last fragment.
        for (const log of stack.emulator.drive.uploadFragments()) expect(log.fragments.slice(0, -1).every((n) => n % UNIT === 0), log.name).toBe(true);

        const check = await timed('check --download', ['check', '--download', source, 'od:sizes']);
        expect(check.stderr).toMatch(/0 differences found/);
        expect(check.code).toBe(0);

        const down = join(workdir, `sizes-down-${kind.name}`);
        const copied = await timed('copy down', ['copy', 'od:sizes', down]);
        expect(copied.code).toBe(0);
        expect(await filesUnder(down)).toEqual(Object.keys(BOUNDARY_SIZES).sort());
        // Local against local: rclone compares sizes and MD5s.
        const back = await timed('check down (md5)', ['check', source, down]);
        expect(back.stderr).toMatch(/0 differences found/);
        expect(back.code).toBe(0);
        console.log(`[rclone boundary sizes, ${LARGE_MIB} MiB largest, ${kind.name} drive] ${timings.join('; ')}`);
      }, 600_000);
    });
  });
});
