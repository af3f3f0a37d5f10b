import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../src/emulator/faults.js';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * MOVE and COPY with `Overwrite: T` onto an existing file, with a fault aimed at each Graph call of
 * the operation in turn: afterwards either the work happened (the destination holds the source's
 * bytes; a moved source is gone) or both files are exactly as they were. The destination is never lost.
 */
const ATTEMPTS = 3;
const FAULTS: Array<{ name: string; action: FaultRule['action']; times: number }> = [
  // Past the retry budget: every attempt of that one call is refused.
  { name: '503 on every attempt', action: { type: 'status', status: 503 }, times: ATTEMPTS },
  { name: 'reset on every attempt', action: { type: 'reset' }, times: ATTEMPTS },
  { name: 'answer lost after the work', action: { type: 'resetAfter' }, times: 1 },
  { name: 'a name rule (400)', action: { type: 'status', status: 400, code: 'invalidRequest' }, times: 1 },
];

describe('MOVE and COPY with Overwrite onto an existing file, with a fault at every step', () => {
  let stack: DavStack;
  let drive: string;
  const OLD_MTIME = new Date('2021-03-04T05:06:07Z');

  beforeAll(async () => {
    stack = await startDavStack({ drive: { client: { retry: { maxAttempts: ATTEMPTS, baseDelayMs: 2, maxDelayMs: 5 } } } });
    drive = stack.driveIds[0];
  });
  afterAll(() => stack.close());
  afterEach(() => stack.emulator.faults.setPlan(null));

  async function prepare(folder: string): Promise<void> {
    stack.emulator.drive.mkdir(drive, folder);
    await stack.emulator.drive.putFile(drive, `${folder}/src.txt`, 'new bytes');
    await stack.emulator.drive.putFile(drive, `${folder}/dest.txt`, 'old bytes', { modified: OLD_MTIME });
  }

  const transfer = (method: string, folder: string) => dav(stack, method, `/${folder}/src.txt`, { headers: { Destination: `/${folder}/dest.txt`, Overwrite: 'T' } });

  const namesIn = (folder: string) =>
    stack.emulator.drive
      .listPaths(drive)
      .filter((p) => p.startsWith(`/${folder}/`))
      .map((p) => p.slice(folder.length + 2))
      .filter(Boolean);

  it.each(['MOVE', 'COPY'])('%s replaces the old file when nothing fails, and leaves nothing behind', async (method) => {
    await prepare(`clean-${method}`);
    const res = await transfer(method, `clean-${method}`);
    expect(res.status).toBe(204);
    expect((await stack.emulator.drive.readFile(drive, `clean-${method}/dest.txt`)).toString()).toBe('new bytes');
    expect(namesIn(`clean-${method}`)).toEqual(method === 'MOVE' ? ['dest.txt'] : ['dest.txt', 'src.txt']);
  });

  it.each(['MOVE', 'COPY'])('%s never loses the destination, whichever Graph call fails', async (method) => {
    // How many Graph calls one operation makes, from the same cold start as each case below.
    await prepare(`count-${method}`);
    stack.resetCounters();
    expect((await transfer(method, `count-${method}`)).status).toBe(204);
    const steps = stack.graphCalls();
    expect(steps).toBeGreaterThanOrEqual(2);

    const outcomes: string[] = [];
    for (const fault of FAULTS) {
      for (let step = 0; step < steps; step++) {
        const folder = `${method}-f${FAULTS.indexOf(fault)}-${step}`;
        await prepare(folder);
        const oldId = stack.emulator.drive.stat(drive, `${folder}/dest.txt`)!.id;
        stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph' }, action: fault.action, skip: step, times: fault.times }] });
        const res = await transfer(method, folder);
        stack.emulator.faults.setPlan(null);
        const what = `${method}: ${fault.name} at call ${step + 1} of ${steps}: ${res.status}`;
        const names = namesIn(folder);
        const dest = (await stack.emulator.drive.readFile(drive, `${folder}/dest.txt`).catch(() => Buffer.from('(missing)'))).toString();
        const moved = dest === 'new bytes' && names.includes('src.txt') === (method === 'COPY');
        const kept = stack.emulator.drive.stat(drive, `${folder}/dest.txt`);
        // "As it was" includes its mtime: the renames aside and back would reset it otherwise.
        const untouched = dest === 'old bytes' && names.includes('src.txt') && kept?.id === oldId && kept.modified.getTime() === OLD_MTIME.getTime();
        expect(moved || untouched, `${what}; the folder holds ${names.join(', ')}; dest.txt says ${dest}`).toBe(true);
        if (untouched) expect((await stack.emulator.drive.readFile(drive, `${folder}/src.txt`)).toString(), what).toBe('new bytes');
        if (res.status < 300) expect(moved, what).toBe(true);
        else expect(untouched, `${what} reported a failure, but the move happened`).toBe(true);
        // Anything else left in the folder is the old file set aside when its deletion failed: still whole.
        for (const extra of names.filter((n) => n !== 'src.txt' && n !== 'dest.txt')) {
          expect(extra, what).toMatch(/^\.onedav-aside-[0-9a-f]{12}-dest\.txt$/);
          expect((await stack.emulator.drive.readFile(drive, `${folder}/${extra}`)).toString(), what).toBe('old bytes');
        }
        outcomes.push(`${what} → ${moved ? 'done' : 'as before'}${names.some((n) => n.startsWith('.onedav-aside-')) ? ' (old file kept aside)' : ''}`);
      }
    }
    if (process.env.ONEDAV_TEST_VERBOSE) console.log(outcomes.join("\n"));
    expect(stack.emulator.faults.injected.status + stack.emulator.faults.injected.reset + stack.emulator.faults.injected.resetAfter).toBeGreaterThan(0);
  });

  it('says where the old file is kept when it cannot be put back (the move and then the restore refused)', async () => {
    await prepare('stuck');
    // PATCHes of one MOVE: the plain move (409), setting the old file aside, the move, putting it back.
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'PATCH' }, action: { type: 'status', status: 400, code: 'invalidRequest' }, skip: 2, times: 2 }] });
    const res = await transfer('MOVE', 'stuck');
    const body = await res.text();
    expect(res.status).toBe(502);
    const aside = namesIn('stuck').find((n) => n.startsWith('.onedav-aside-'));
    expect(aside).toMatch(/^\.onedav-aside-[0-9a-f]{12}-dest\.txt$/);
    expect(body).toContain(`"${aside}"`);
    expect(body).toContain('rename it back');
    expect((await stack.emulator.drive.readFile(drive, `stuck/${aside}`)).toString()).toBe('old bytes');
    expect((await stack.emulator.drive.readFile(drive, 'stuck/src.txt')).toString()).toBe('new bytes');
  });

  it('models Graph: a replacing move works on personal OneDrive and answers nameAlreadyExists on business drives', async () => {
    // The business drive (Adele) refuses; see profile.ts moveHonoursReplace.
    await prepare('graph-replace');
    const src = stack.emulator.drive.stat(drive, 'graph-replace/src.txt')!;
    const folder = stack.emulator.drive.stat(drive, 'graph-replace')!;
    const res = await stack.drives[0].api
      .update({ id: src.id }, { name: 'dest.txt', parentId: folder.id }, { conflictBehavior: 'replace' })
      .then(
        () => 'moved',
        (err: { status: number; code: string }) => `${err.status} ${err.code}`,
      );
    expect(res).toBe('409 nameAlreadyExists');
    expect((await stack.emulator.drive.readFile(drive, 'graph-replace/dest.txt')).toString()).toBe('old bytes');
  });
});
