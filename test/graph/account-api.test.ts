import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountApi } from '../../src/graph/account-api.js';
import { GraphClient } from '../../src/graph/client.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { ADELE, withEmulator, type EmulatorTokens } from './emulator-helper.js';

/** The account-level calls `onedav discover` and library mounts make, against the emulator's directory. */
describe('AccountApi', () => {
  let emulator: RunningEmulator;
  let tokens: EmulatorTokens;
  let account: AccountApi;
  const team = 'contoso.sharepoint.com:/sites/team';

  beforeAll(async () => {
    ({ emulator, tokens } = await withEmulator());
    account = new AccountApi(new GraphClient({ baseUrl: `${emulator.url}/v1.0`, tokens }));
  });
  afterAll(() => emulator.close());

  it("finds the user's own drive, among all their drives, with its quota", async () => {
    const own = await account.defaultDrive({ by: 'me' });
    expect(own.id).toBe(emulator.drive.driveIdOf(ADELE));
    expect(own.driveType).toBe('business');
    expect(own.quota?.total).toBeGreaterThan(0);
    expect((await account.drives({ by: 'me' })).map((d) => d.id)).toContain(own.id);
  });

  it('finds the root site, the followed sites and their libraries', async () => {
    expect((await account.rootSite()).id).toMatch(/^contoso\.sharepoint\.com,/);
    const followed = await account.followedSites();
    expect(followed.map((s) => s.displayName)).toContain('Team');
    const libraries = await account.siteDrives(followed.find((s) => s.displayName === 'Team')!.id);
    expect(libraries.map((d) => d.id)).toContain('b!contoso-team-documents');
  });

  it("resolves a library's drive id by name, case-insensitively, and names the libraries there are when none matches", async () => {
    const [library] = await account.siteDrives(team);
    expect(await account.libraryDriveId(team, library.name!.toUpperCase())).toBe(library.id);
    await expect(account.libraryDriveId(team, 'No Such Library')).rejects.toThrow(`has no document library named "No Such Library" (it has: "${library.name}")`);
  });
});
