import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT_ID } from '../../src/emulator/directory.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { EMULATOR_ACCOUNTS, startConfiguredOneDav, type ConfiguredOneDav } from '../helpers/onedav.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { ADELE, LEI } from '../helpers/stack.js';

/**
 * `onedav serve` on emulator accounts: Lei's tenant (fabrikam) lives in 21Vianet, as the emulator's
 * OpenID configuration for it says, so her mount addresses items by id and polls no delta; Adele's
 * (contoso, global) keeps path addressing and delta.
 */
describe('serve wires each mount for its cloud', () => {
  let onedav: ConfiguredOneDav;
  const log = recordingLogger('json', 'info');

  beforeAll(async () => {
    onedav = await startConfiguredOneDav(
      {
        accounts: {
          lei: { cloud: 'emulator', tenant: 'fabrikam.partner.onmschina.cn', clientId: DEMO_CLIENT_ID },
          adele: EMULATOR_ACCOUNTS.adele,
        },
        mounts: [
          { path: '/cn', account: 'lei' },
          // By drive id, so its delta polls count under their own route template.
          { path: '/global', account: 'adele', drive: { type: 'id', id: 'b!contoso-adele' } },
        ],
        cache: { deltaPollSeconds: 3600 },
      },
      { signedIn: { lei: LEI, adele: ADELE }, logger: log },
    );
  });
  afterAll(() => onedav?.close());

  it("gives the fabrikam account's mount id addressing and no delta, and the contoso one both", () => {
    const [cn, global] = onedav.app.mounts;
    expect(cn.drive.api.features).toEqual({ pathAddressing: false, delta: false });
    expect(global.drive.api.features).toEqual({ pathAddressing: true, delta: true });
    expect(log.records().filter((r) => r.mount === '/cn' && String(r.msg).includes('no path addressing'))).toMatchObject([{ cloud: 'china' }]);
    expect(log.records().filter((r) => String(r.msg).includes('no delta feed')).map((r) => r.mount)).toEqual(['/cn']);
  });

  it("serves Lei's drive without one path-addressed or delta request", async () => {
    const emulator = onedav.app.emulator!;
    const driveId = emulator.drive.driveIdOf(LEI);
    await emulator.drive.putFile(driveId, 'Reports/q1.csv', 'a,b\n1,2\n');
    emulator.counters.reset();
    const res = await fetch(`${onedav.app.url}/cn/Reports/`, { method: 'PROPFIND', headers: { Depth: '1' } });
    expect(res.status).toBe(207);
    expect(parseMultistatus(await res.text()).map((r) => r.path)).toEqual(['/cn/Reports/', '/cn/Reports/q1.csv']);
    const put = await fetch(`${onedav.app.url}/cn/Reports/q2.csv`, { method: 'PUT', body: 'c,d\n' });
    expect(put.status).toBe(201);
    expect((await emulator.drive.readFile(driveId, 'Reports/q2.csv')).toString()).toBe('c,d\n');
    const routes = Object.keys(emulator.counters.snapshot().byRoute);
    expect(routes.filter((r) => r.includes(':/{path}:') || r.includes('/me/drive/root/delta'))).toEqual([]);
  });
});
