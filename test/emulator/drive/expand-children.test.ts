import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { ADELE, ALEX, call, expectStatus, startDrive, tokenFor } from './helpers.js';

let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startDrive();
});
afterAll(async () => emu.close());

describe('GET item with $expand=children, as Graph answers it', () => {
  for (const [who, drive] of [
    [ADELE, 'b!contoso-adele'],
    [ALEX, 'alex'],
  ] as const) {
    it(`carries at most 200 children and no nextLink for the rest (${who})`, async () => {
      const token = tokenFor(emu, who);
      const driveId = drive === 'alex' ? emu.drive.driveIdOf(ALEX) : drive;
      for (let i = 0; i < 250; i++) emu.drive.mkdir(driveId, `Exp/sub-${String(i).padStart(3, '0')}`);
      const folder = await expectStatus(call(emu, 'GET', '/me/drive/root:/Exp?$expand=children($select=id,name)', { token }), 200);
      expect(folder.folder.childCount).toBe(250);
      expect(folder.children).toHaveLength(200);
      expect(folder.children[0].name).toBe('sub-000');
      expect(Object.keys(folder).filter((k) => k.startsWith('children@'))).toEqual([]);
      // The rest only through …/children.
      const listed = await expectStatus(call(emu, 'GET', '/me/drive/root:/Exp:/children?$top=1000', { token }), 200);
      expect(listed.value).toHaveLength(250);
    });
  }

  it('is refused on a file with 422 notSupported', async () => {
    const token = tokenFor(emu, ADELE);
    await emu.drive.putFile('b!contoso-adele', 'ExpFile/a.txt', 'a');
    const res = await call(emu, 'GET', '/me/drive/root:/ExpFile/a.txt?$expand=children', { token });
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.error.code).toBe('notSupported');
    expect(body.error.message).toBe('Children cannot be listed from an item that is not a folder');
    // Without the expansion the file is served as ever.
    await expectStatus(call(emu, 'GET', '/me/drive/root:/ExpFile/a.txt', { token }), 200);
  });
});
