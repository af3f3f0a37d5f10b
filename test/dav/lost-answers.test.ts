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

  it('PUT through an upload session says 201 when the last fragment committed but its answer was lost', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 7);
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'resetAfter' }, times: 1 }] });
    const res = await dav(stack, 'PUT', '/committed.bin', { body });
    expect(res.status).toBe(201);
    expect((await stack.emulator.drive.readFile(drive, 'committed.bin')).equals(body)).toBe(true);
  });
});
