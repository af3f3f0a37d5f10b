import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * Graph did the work but its answer was lost (the emulator's `resetAfter` fault): the Graph
 * client retries, and the retry meets the work already done. The WebDAV answer must still say
 * what happened. Found by the soak (test/soak).
 */
describe('WebDAV answers when a Graph answer is lost after the work was done', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack({ drive: { client: { retry: { baseDelayMs: 5, maxDelayMs: 20 } } } });
    drive = stack.driveIds[0];
  });
  afterAll(() => stack.close());
  afterEach(() => stack.emulator.faults.setPlan(null));

  it('DELETE says 204 when the retried Graph DELETE finds the item already gone', async () => {
    await stack.emulator.drive.putFile(drive, 'doomed.txt', 'bye');
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'DELETE' }, action: { type: 'resetAfter' }, times: 1 }] });
    const res = await dav(stack, 'DELETE', '/doomed.txt');
    expect(stack.emulator.faults.injected.resetAfter).toBeGreaterThanOrEqual(1);
    expect(res.status).toBe(204);
    expect(stack.emulator.drive.stat(drive, 'doomed.txt')).toBeUndefined();
  });

  it('MOVE and COPY with Overwrite say 204 when the retried DELETE of the destination finds it gone (not 409 with the destination deleted)', async () => {
    for (const method of ['MOVE', 'COPY']) {
      await stack.emulator.drive.putFile(drive, `${method}-src.txt`, 'new');
      await stack.emulator.drive.putFile(drive, `${method}-dest.txt`, 'old');
      expect((await dav(stack, 'PROPFIND', `/${method}-dest.txt`, { headers: { Depth: '0' } })).status).toBe(207);
      stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'DELETE' }, action: { type: 'resetAfter' }, times: 1 }] });
      const res = await dav(stack, method, `/${method}-src.txt`, { headers: { Destination: `/${method}-dest.txt`, Overwrite: 'T' } });
      expect(res.status, method).toBe(204);
      expect((await stack.emulator.drive.readFile(drive, `${method}-dest.txt`)).toString()).toBe('new');
    }
  });

  /** How many Graph calls `run` makes from a cold start like each case's. */
  async function stepsOf(run: () => Promise<Response>, expected: number): Promise<number> {
    stack.resetCounters();
    expect((await run()).status).toBe(expected);
    return stack.graphCalls();
  }

  it('MKCOL says 201 when the folder was made but an answer was lost, at every step', async () => {
    const steps = await stepsOf(() => dav(stack, 'MKCOL', '/mk-count'), 201);
    for (let step = 0; step < steps; step++) {
      stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph' }, action: { type: 'resetAfter' }, skip: step, times: 1 }] });
      const res = await dav(stack, 'MKCOL', `/mk-${step}`);
      stack.emulator.faults.setPlan(null);
      expect(res.status, `answer lost at call ${step + 1} of ${steps}`).toBe(201);
      expect(stack.emulator.drive.stat(drive, `mk-${step}`)?.isFolder).toBe(true);
    }
  });

  it('MKCOL still says 502 when the folder was not made (the request failed before the work)', async () => {
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST' }, action: { type: 'reset' } }] });
    const res = await dav(stack, 'MKCOL', '/mk-never');
    expect(res.status).toBe(502);
    expect(stack.emulator.drive.stat(drive, 'mk-never')).toBeUndefined();
  });

  it('COPY says 201 when the copy was made but an answer was lost, at every step', async () => {
    await stack.emulator.drive.putFile(drive, 'lost-copy-src.txt', 'copied bytes');
    stack.emulator.drive.mkdir(drive, 'lost-copy-folder/inner');
    await stack.emulator.drive.putFile(drive, 'lost-copy-folder/inner/x.txt', 'x');
    for (const source of ['lost-copy-src.txt', 'lost-copy-folder']) {
      const steps = await stepsOf(() => dav(stack, 'COPY', `/${source}`, { headers: { Destination: `/count-${source}` } }), 201);
      for (let step = 0; step < steps; step++) {
        const dest = `c${step}-${source}`;
        stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph' }, action: { type: 'resetAfter' }, skip: step, times: 1 }] });
        const res = await dav(stack, 'COPY', `/${source}`, { headers: { Destination: `/${dest}` } });
        stack.emulator.faults.setPlan(null);
        expect(res.status, `${source}: answer lost at call ${step + 1} of ${steps}: ${await res.clone().text()}`).toBe(201);
        if (source === 'lost-copy-src.txt') expect((await stack.emulator.drive.readFile(drive, dest)).toString()).toBe('copied bytes');
        else expect((await stack.emulator.drive.readFile(drive, `${dest}/inner/x.txt`)).toString()).toBe('x');
      }
    }
  });

  it('PUT through an upload session says 201 when the last fragment committed but its answer was lost', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 7);
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'resetAfter' }, times: 1 }] });
    const res = await dav(stack, 'PUT', '/committed.bin', { body });
    expect(res.status).toBe(201);
    expect((await stack.emulator.drive.readFile(drive, 'committed.bin')).equals(body)).toBe(true);
  });
});
