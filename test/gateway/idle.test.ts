import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../../src/auth/token-store.js';
import { MemoryDrive } from '../../src/drive/memory-drive.js';
import { WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET, findUser } from '../../src/emulator/directory.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { accountOf, type Person } from '../../src/gateway/people.js';
import { PersonDrives } from '../../src/gateway/person-drives.js';
import type { TokenSource } from '../../src/auth/token-source.js';
import { ManualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { ADELE } from '../helpers/stack.js';

/** A person's token is refreshed only while they are active: their drive and refresher close when idle. */
describe('people\'s drives', () => {
  let emulator: RunningEmulator;
  let dir: string;
  beforeAll(async () => {
    emulator = await startEmulator({ admin: true });
    dir = await mkdtemp(join(tmpdir(), 'onedav-idle-'));
  });
  afterAll(async () => {
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('open at the first request, close after the idle time, and ask Microsoft for nothing while closed', async () => {
    const user = findUser(emulator.state.directory, ADELE)!;
    const person: Person = { oid: user.id, tid: user.tenantId, upn: ADELE, signedInAt: 0, appPasswords: [], sessions: [] };
    const store = new TokenStore(dir);
    await store.save({
      version: 1, account: accountOf(person.oid), cloud: 'emulator', loginUrl: emulator.url, graphBaseUrl: `${emulator.url}/v1.0`, graphResource: 'https://graph.microsoft.com',
      tenant: user.tenantId, tenantId: user.tenantId, clientId: WEB_APP_CLIENT_ID, clientType: 'confidential', flow: 'interactive', scopes: ['Files.ReadWrite', 'offline_access'], accountType: 'organizational',
      refreshToken: emulator.identity.issueRefreshToken({ upn: ADELE, clientId: WEB_APP_CLIENT_ID, scopes: ['Files.ReadWrite', 'offline_access'] }),
    });
    const clock = new ManualClock(Date.now());
    const opened: TokenSource[] = [];
    let closed = 0;
    const drives = new PersonDrives({
      signIns: store, clientSecret: WEB_APP_CLIENT_SECRET, downloadMode: 'proxy', logger: silentLogger, clock, idleMs: 10 * 60_000,
      factory: (tokens) => {
        opened.push(tokens);
        return { drive: new MemoryDrive(), close: async () => void closed++ };
      },
      onSignInRequired: async () => {},
    });
    try {
      await drives.tableFor(person);
      await opened[0].getAccessToken(); // the first Graph call of the person's request
      expect(emulator.identity.stats().grants.refresh_token).toBe(1);
      clock.advance(9 * 60_000);
      await drives.tableFor(person); // still active: the same drive
      await drives.sweep();
      expect(drives.openCount).toBe(1);
      clock.advance(10 * 60_000 + 1);
      await drives.sweep();
      expect(drives.openCount).toBe(0);
      expect(closed).toBe(1);
      // Idle for hours: nothing is refreshed behind their back.
      clock.advance(5 * 3600_000);
      await drives.sweep();
      expect(emulator.identity.stats().grants.refresh_token).toBe(1);
      // Back at work: opened again, one refresh.
      await drives.tableFor(person);
      expect(opened.length).toBe(2);
    } finally {
      await drives.close();
    }
  });
});
