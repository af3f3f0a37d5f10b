import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../src/emulator/faults.js';
import { dav, MEGAN, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * MOVE and COPY with `Overwrite: T` where a folder is involved (folder over folder, file over
 * folder, folder over file) and COPY between two mounts over an existing folder, on a business drive.
 * With a fault aimed at each Graph call in turn, afterwards either the work happened (the
 * destination holds the source's tree, the old members are gone) or the destination and the source
 * are exactly as they were. The destination is never lost, and a failure is reported as one.
 */
const ATTEMPTS = 3;
const FAULTS: Array<{ name: string; action: FaultRule['action']; times: number }> = [
  { name: '503 on every attempt', action: { type: 'status', status: 503 }, times: ATTEMPTS },
  { name: 'a name rule (400)', action: { type: 'status', status: 400, code: 'invalidRequest' }, times: 1 },
  { name: 'answer lost after the work', action: { type: 'resetAfter' }, times: 1 },
];

type Tree = Record<string, string>;
const FOLDER_SRC: Tree = { 'a.txt': 'new a', 'sub/': '', 'sub/both.txt': 'new both' };
const FOLDER_DEST: Tree = { 'old.txt': 'old bytes', 'sub/': '', 'sub/both.txt': 'old both', 'sub/deep/': '', 'sub/deep/d.txt': 'old deep' };
const FILE_SRC = 'new file';
const FILE_DEST = 'old file';

interface Case {
  method: 'MOVE' | 'COPY';
  src: 'folder' | 'file';
  dest: 'folder' | 'file';
}
const CASES: Case[] = [
  { method: 'MOVE', src: 'folder', dest: 'folder' },
  { method: 'COPY', src: 'folder', dest: 'folder' },
  { method: 'MOVE', src: 'file', dest: 'folder' },
  { method: 'MOVE', src: 'folder', dest: 'file' },
];

describe('MOVE and COPY with Overwrite where a folder is replaced or replaces', () => {
  let stack: DavStack;
  let drive: string;
  let other: string;

  beforeAll(async () => {
    stack = await startDavStack({
      mounts: [{ prefix: '/a' }, { prefix: '/b', user: MEGAN }],
      drive: { client: { retry: { maxAttempts: ATTEMPTS, baseDelayMs: 2, maxDelayMs: 5 } } },
    });
    [drive, other] = stack.driveIds;
  });
  afterAll(() => stack.close());
  afterEach(() => stack.emulator.faults.setPlan(null));

  async function seed(driveId: string, at: string, content: Tree | string): Promise<void> {
    if (typeof content === 'string') {
      await stack.emulator.drive.putFile(driveId, at, content);
      return;
    }
    stack.emulator.drive.mkdir(driveId, at);
    for (const [rel, bytes] of Object.entries(content)) {
      if (rel.endsWith('/')) stack.emulator.drive.mkdir(driveId, `${at}/${rel.slice(0, -1)}`);
      else await stack.emulator.drive.putFile(driveId, `${at}/${rel}`, bytes);
    }
  }

  /** What is at `at` on the drive: a file's bytes, or a folder's tree (relative paths to bytes, folders end in '/'); null when absent. */
  async function snapshot(driveId: string, at: string): Promise<Tree | string | null> {
    const item = stack.emulator.drive.stat(driveId, at);
    if (!item) return null;
    if (!stack.emulator.drive.listPaths(driveId).includes(`/${at}/`)) return (await stack.emulator.drive.readFile(driveId, at)).toString();
    const tree: Tree = {};
    for (const p of stack.emulator.drive.listPaths(driveId).filter((p) => p.startsWith(`/${at}/`) && p !== `/${at}/`)) {
      const rel = p.slice(at.length + 2);
      tree[rel] = rel.endsWith('/') ? '' : (await stack.emulator.drive.readFile(driveId, p.slice(1))).toString();
    }
    return tree;
  }

  const namesIn = (driveId: string, folder: string) =>
    stack.emulator.drive
      .listPaths(driveId)
      .filter((p) => p.startsWith(`/${folder}/`) && p.slice(folder.length + 2).replace(/\/$/, '') !== '' && !p.slice(folder.length + 2).replace(/\/$/, '').includes('/'))
      .map((p) => p.slice(folder.length + 2).replace(/\/$/, ''));

  const contentOf = (kind: 'folder' | 'file', role: 'src' | 'dest') => (kind === 'folder' ? (role === 'src' ? FOLDER_SRC : FOLDER_DEST) : role === 'src' ? FILE_SRC : FILE_DEST);

  async function prepare(c: Case, folder: string): Promise<void> {
    stack.emulator.drive.mkdir(drive, folder);
    await seed(drive, `${folder}/src`, contentOf(c.src, 'src'));
    await seed(drive, `${folder}/dest`, contentOf(c.dest, 'dest'));
  }

  /** Checks the one invariant; returns whether the work was done. */
  async function check(c: Case, folder: string, status: number, oldId: string, what: string): Promise<{ done: boolean; aside: boolean }> {
    const dest = await snapshot(drive, `${folder}/dest`);
    const src = await snapshot(drive, `${folder}/src`);
    const names = namesIn(drive, folder);
    const done = JSON.stringify(dest) === JSON.stringify(contentOf(c.src, 'src')) && (c.method === 'COPY') === (src !== null);
    const untouched = JSON.stringify(dest) === JSON.stringify(contentOf(c.dest, 'dest')) && stack.emulator.drive.stat(drive, `${folder}/dest`)?.id === oldId && JSON.stringify(src) === JSON.stringify(contentOf(c.src, 'src'));
    expect(done || untouched, `${what}: dest is ${JSON.stringify(dest)}, src is ${JSON.stringify(src)}, the folder holds ${names.join(', ')}`).toBe(true);
    if (status < 300) expect(done, `${what} succeeded but the work is not there`).toBe(true);
    else expect(untouched, `${what} reported a failure, but the destination changed`).toBe(true);
    const extras = names.filter((n) => n !== 'src' && n !== 'dest');
    // Anything else is the old destination, set aside when its deletion failed: still whole.
    for (const extra of extras) {
      expect(extra, what).toMatch(/^\.onedav-aside-[0-9a-f]{12}-dest$/);
      expect(await snapshot(drive, `${folder}/${extra}`), what).toEqual(contentOf(c.dest, 'dest'));
    }
    return { done, aside: extras.length > 0 };
  }

  const transfer = (c: Case, folder: string) => dav(stack, c.method, `/a/${folder}/src`, { headers: { Destination: `/a/${folder}/dest`, Overwrite: 'T' } });

  it('keeps the destination folder and its files when the move itself fails at Graph', async () => {
    const c: Case = { method: 'MOVE', src: 'folder', dest: 'folder' };
    await prepare(c, 'move-fails');
    const srcId = stack.emulator.drive.stat(drive, 'move-fails/src')!.id;
    const oldId = stack.emulator.drive.stat(drive, 'move-fails/dest')!.id;
    // Every move of the source after the first attempt (which meets the existing folder) is refused.
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'PATCH', pathIncludes: srcId }, action: { type: 'status', status: 400, code: 'invalidRequest' }, skip: 1, times: 1 }] });
    const res = await transfer(c, 'move-fails');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await snapshot(drive, 'move-fails/dest')).toEqual(FOLDER_DEST);
    expect(stack.emulator.drive.stat(drive, 'move-fails/dest')!.id).toBe(oldId);
    expect(await snapshot(drive, 'move-fails/src')).toEqual(FOLDER_SRC);
    expect(namesIn(drive, 'move-fails').sort()).toEqual(['dest', 'src']);
  });

  it('keeps the destination folder and its files when the copy fails at Graph', async () => {
    const c: Case = { method: 'COPY', src: 'folder', dest: 'folder' };
    await prepare(c, 'copy-fails');
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST', pathIncludes: '/copy' }, action: { type: 'status', status: 400, code: 'invalidRequest' }, times: 1 }] });
    const res = await transfer(c, 'copy-fails');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await snapshot(drive, 'copy-fails/dest')).toEqual(FOLDER_DEST);
    expect(await snapshot(drive, 'copy-fails/src')).toEqual(FOLDER_SRC);
    expect(namesIn(drive, 'copy-fails').sort()).toEqual(['dest', 'src']);
  });

  it.each(CASES)('$method of a $src over a $dest replaces it, leaving nothing aside, and never loses it, whichever Graph call fails', async (c) => {
    const tag = `${c.method}-${c.src}-${c.dest}`;
    // Nothing failing first: the work is done, the old members are gone, nothing is left aside.
    await prepare(c, `count-${tag}`);
    const cleanId = stack.emulator.drive.stat(drive, `count-${tag}/dest`)!.id;
    stack.resetCounters();
    const clean = await transfer(c, `count-${tag}`);
    const steps = stack.graphCalls();
    expect(clean.status).toBe(204);
    expect((await check(c, `count-${tag}`, clean.status, cleanId, 'clean')).done).toBe(true);
    expect(namesIn(drive, `count-${tag}`).sort()).toEqual(c.method === 'MOVE' ? ['dest'] : ['dest', 'src']);
    expect(steps).toBeGreaterThanOrEqual(2);
    let failed = 0;
    for (const fault of FAULTS) {
      for (let step = 0; step < steps; step++) {
        const folder = `${tag}-f${FAULTS.indexOf(fault)}-${step}`;
        await prepare(c, folder);
        const oldId = stack.emulator.drive.stat(drive, `${folder}/dest`)!.id;
        stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph' }, action: fault.action, skip: step, times: fault.times }] });
        const res = await transfer(c, folder);
        stack.emulator.faults.setPlan(null);
        const outcome = await check(c, folder, res.status, oldId, `${tag}: ${fault.name} at call ${step + 1} of ${steps}: ${res.status}`);
        if (!outcome.done) failed++;
      }
    }
    // Some faults must have made the work fail, or this proves nothing about the failure path.
    expect(failed).toBeGreaterThan(0);
  });

  describe('COPY between two mounts over an existing folder', () => {
    const copyAcross = (folder: string) => dav(stack, 'COPY', `/a/${folder}/src`, { headers: { Destination: `/b/${folder}/dest`, Overwrite: 'T' } });

    async function prepareAcross(folder: string): Promise<void> {
      stack.emulator.drive.mkdir(drive, folder);
      stack.emulator.drive.mkdir(other, folder);
      await seed(drive, `${folder}/src`, FOLDER_SRC);
      await seed(other, `${folder}/dest`, FOLDER_DEST);
    }

    it('replaces the old folder by the source tree, or puts the old folder back when the top-level write fails', async () => {
      await prepareAcross('across-clean');
      const clean = await copyAcross('across-clean');
      expect(clean.status).toBe(204);
      expect(await snapshot(other, 'across-clean/dest')).toEqual(FOLDER_SRC);
      expect(namesIn(other, 'across-clean')).toEqual(['dest']);
      expect(await snapshot(drive, 'across-clean/src')).toEqual(FOLDER_SRC);

      await prepareAcross('across-top');
      const oldId = stack.emulator.drive.stat(other, 'across-top/dest')!.id;
      // The only folder made on a write: the new top folder (POST …/children).
      stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST', pathIncludes: '/children' }, action: { type: 'status', status: 400, code: 'invalidRequest' }, times: 1 }] });
      const res = await copyAcross('across-top');
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(await snapshot(other, 'across-top/dest')).toEqual(FOLDER_DEST);
      expect(stack.emulator.drive.stat(other, 'across-top/dest')!.id).toBe(oldId);
      expect(namesIn(other, 'across-top')).toEqual(['dest']);
    });

    it('keeps the old folder aside, and says so, when members below the top fail', async () => {
      await prepareAcross('across-member');
      // Uploads of the members are refused; the top folder is made.
      stack.emulator.faults.setPlan({ rules: [{ match: { category: ['graph', 'upload'], method: 'PUT' }, action: { type: 'status', status: 400, code: 'invalidRequest' }, times: 100 }] });
      const res = await copyAcross('across-member');
      const body = await res.text();
      expect(res.status).toBe(207);
      const aside = namesIn(other, 'across-member').find((n) => n.startsWith('.onedav-aside-'));
      expect(aside).toMatch(/^\.onedav-aside-[0-9a-f]{12}-dest$/);
      expect(await snapshot(other, `across-member/${aside}`)).toEqual(FOLDER_DEST);
      expect(body).toContain(aside);
    });
  });
});
