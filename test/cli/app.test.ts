import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { startOneDav } from '../../src/cli/app.js';

async function configWith(mounts: unknown[]) {
  return parseConfig({
    emulator: { enabled: true },
    anonymous: { enabled: true, readOnly: false },
    server: { port: 0 },
    dataDir: await mkdtemp(join(tmpdir(), 'onedav-app-')),
    mounts,
  });
}

describe('startOneDav', () => {
  it('serves a site library chosen by name, resolved to its drive once at start', async () => {
    const app = await startOneDav(
      await configWith([
        { path: '/', account: 'emulator' },
        { path: '/team', account: 'emulator', drive: { type: 'site', site: 'contoso.sharepoint.com:/sites/team', library: 'documents' } },
      ]),
    );
    try {
      const put = await fetch(`${app.url}/team/plan.txt`, { method: 'PUT', body: 'team plan' });
      expect(put.status).toBe(201);
      const teamDrive = app.emulator!.drive.driveIdOf('contoso.sharepoint.com,2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d,3b4c5d6e-7f8a-4b9c-8d0e-2f3a4b5c6d7e');
      expect((await app.emulator!.drive.readFile(teamDrive, 'plan.txt')).toString()).toBe('team plan');
      expect(app.mounts[1].client.baseUrl).toBe(`${app.emulator!.url}/v1.0`);
    } finally {
      await app.close();
    }
  });

  it('refuses to start on a library the site does not have, naming the ones it has', async () => {
    const config = await configWith([{ path: '/team', account: 'emulator', drive: { type: 'site', site: 'contoso.sharepoint.com:/sites/team', library: 'Archive' } }]);
    await expect(startOneDav(config)).rejects.toThrow(/mount \/team: site contoso\.sharepoint\.com:\/sites\/team has no document library named "Archive" \(it has: "Documents"\)/);
  });
});
