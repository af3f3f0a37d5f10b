import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { EMULATOR_ACCOUNTS, startConfiguredOneDav, type ConfiguredOneDav } from '../helpers/onedav.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { ADELE, MEGAN } from '../helpers/stack.js';

/**
 * One server, three drives, built by startOneDav from a config as `onedav serve` would: `/` is
 * Adele's OneDrive (delegated sign-in), `/team` the Team site's document library (same account),
 * `/e5` Megan's OneDrive through an app-only account (client credentials). Files and folders are
 * copied and moved between them; the bytes are checked in the emulator's own store.
 */
describe('several mounts on one server', () => {
  let onedav: ConfiguredOneDav;
  let emulator: RunningEmulator;
  let url: string;
  const log = recordingLogger('json', 'info');
  const drives = { adele: '', team: '', megan: '' };
  const big = randomBytes(5 * 1024 * 1024 + 12_345); // over 4 MiB: the copy goes through an upload session
  const small = randomBytes(40_000);

  beforeAll(async () => {
    onedav = await startConfiguredOneDav(
      {
        accounts: EMULATOR_ACCOUNTS,
        mounts: [
          { path: '/', account: 'adele' },
          { path: '/team', account: 'adele', drive: { type: 'site', site: 'contoso.sharepoint.com:/sites/team' } },
          { path: '/e5', account: 'daemon' },
        ],
      },
      { signedIn: { adele: ADELE }, logger: log },
    );
    emulator = onedav.app.emulator!;
    url = onedav.app.url;
    drives.adele = emulator.drive.driveIdOf(ADELE);
    drives.megan = emulator.drive.driveIdOf(MEGAN);
    drives.team = emulator.state.directory.sites.find((s) => s.path === '/sites/team')!.driveId;
    await emulator.drive.putFile(drives.adele, '/big.bin', big);
    await emulator.drive.putFile(drives.adele, '/Projects/plan.txt', 'the plan');
    await emulator.drive.putFile(drives.adele, '/Projects/deep/data.bin', small);
    await emulator.drive.putFile(drives.team, '/Shared/notes.txt', 'team notes');
    await emulator.drive.putFile(drives.megan, '/Reports/q1.csv', 'a,b\n1,2\n');
  });

  afterAll(() => onedav?.close());

  const request = (method: string, path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { method, headers, redirect: 'manual' });
  const destination = (path: string) => ({ Destination: `${url}${path}` });

  it('serves each mount from its own drive and account', async () => {
    expect(onedav.app.mounts.map((m) => m.prefix)).toEqual(['/', '/team', '/e5']);
    expect([...onedav.app.accounts.keys()].sort()).toEqual(['adele', 'daemon']);
    expect(onedav.app.accounts.get('daemon')!.describe().flow).toBe('clientCredentials');
    const team = parseMultistatus(await (await request('PROPFIND', '/team/Shared/', { Depth: '1' })).text());
    expect(team.map((r) => r.path)).toEqual(['/team/Shared/', '/team/Shared/notes.txt']);
    const e5 = parseMultistatus(await (await request('PROPFIND', '/e5/', { Depth: '1' })).text());
    expect(e5.map((r) => r.path)).toContain('/e5/Reports/');
  });

  it('lists the other mounts as folders in a PROPFIND of /', async () => {
    const res = await request('PROPFIND', '/', { Depth: '1' });
    expect(res.status).toBe(207);
    const listed = parseMultistatus(await res.text());
    const paths = listed.map((r) => r.path);
    expect(paths).toEqual(expect.arrayContaining(['/', '/big.bin', '/Projects/', '/team/', '/e5/']));
    for (const mount of ['/team/', '/e5/']) {
      expect(listed.find((r) => r.path === mount)!.elements['{DAV:}resourcetype'].children.some((c) => c.type === 'element' && c.local === 'collection')).toBe(true);
    }
  });

  it('copies a file across mounts (upload session on the other drive), keeping the source', async () => {
    const res = await request('COPY', '/big.bin', destination('/team/Shared/big.bin'));
    expect(res.status).toBe(201);
    expect((await emulator.drive.readFile(drives.team, '/Shared/big.bin')).equals(big)).toBe(true);
    expect((await emulator.drive.readFile(drives.adele, '/big.bin')).equals(big)).toBe(true);
    const line = log.accessLines().find((r) => r.method === 'COPY' && r.path === '/big.bin');
    expect(line).toMatchObject({ status: 201, destination: '/team/Shared/big.bin', user: 'anonymous' });
    expect(line!.graphCalls as number).toBeGreaterThanOrEqual(3); // read on one drive, session + fragments on the other
  });

  it('copies a folder tree from the app-only mount to the delegated one', async () => {
    const res = await request('COPY', '/e5/Reports/', destination('/team/Reports/'));
    expect(res.status).toBe(201);
    expect((await emulator.drive.readFile(drives.team, '/Reports/q1.csv')).toString()).toBe('a,b\n1,2\n');
    expect(emulator.drive.stat(drives.megan, '/Reports/q1.csv')).toBeDefined();
  });

  it('moves a file from the team library to the app-only mount', async () => {
    const res = await request('MOVE', '/team/Shared/notes.txt', destination('/e5/notes.txt'));
    expect(res.status).toBe(201);
    expect((await emulator.drive.readFile(drives.megan, '/notes.txt')).toString()).toBe('team notes');
    expect(emulator.drive.stat(drives.team, '/Shared/notes.txt')).toBeUndefined();
    expect((await request('GET', '/team/Shared/notes.txt')).status).toBe(404);
  });

  it('moves a folder tree from / to the app-only mount, and the source is gone', async () => {
    const res = await request('MOVE', '/Projects/', destination('/e5/Projects/'));
    expect(res.status).toBe(201);
    expect((await emulator.drive.readFile(drives.megan, '/Projects/plan.txt')).toString()).toBe('the plan');
    expect((await emulator.drive.readFile(drives.megan, '/Projects/deep/data.bin')).equals(small)).toBe(true);
    expect(emulator.drive.listPaths(drives.adele).some((p) => p.startsWith('/Projects'))).toBe(false);
    expect(emulator.drive.listPaths(drives.megan).filter((p) => p.startsWith('/Projects'))).toEqual(['/Projects/', '/Projects/deep/', '/Projects/deep/data.bin', '/Projects/plan.txt']);
    const listed = parseMultistatus(await (await request('PROPFIND', '/e5/Projects/', { Depth: '1' })).text()).map((r) => r.path);
    expect(listed.sort()).toEqual(['/e5/Projects/', '/e5/Projects/deep/', '/e5/Projects/plan.txt']);
  });
});
