import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

/** Another client changes the drive while a request is under way (found by the fuzzer). */
describe('races with other clients', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
  });
  afterAll(() => stack.close());
  afterEach(() => stack.emulator.faults.setPlan(null));

  it('a folder that takes the name while a large PUT uploads: 405 (as if it had been there), not 502', async () => {
    // The fragment is held up in the emulator; meanwhile someone creates a folder with that name.
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'latency', ms: 300 }, times: 1 }] });
    const upload = dav(stack, 'PUT', '/taken', { body: Buffer.alloc(5 * 1024 * 1024, 1) });
    for (let i = 0; i < 100 && stack.emulator.drive.openUploadSessions() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    stack.emulator.drive.mkdir(drive, 'taken');
    const res = await upload;
    expect(res.status).toBe(405);
    expect(stack.emulator.drive.stat(drive, 'taken')?.isFolder).toBe(true);
    // The refused commit kept the session on OneDrive's side; onedav cancelled it.
    expect(stack.emulator.drive.openUploadSessions()).toBe(0);
  });
});
