import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOneDav } from '../../src/cli/app.js';
import { runLogin, type CliIo } from '../../src/cli/login.js';
import { preflight } from '../../src/cli/preflight.js';
import { loadConfig } from '../../src/config.js';
import { DEMO_CLIENT_ID, WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';

// Public clients never send a secret (Entra: AADSTS700025), confidential ones always do (AADSTS7000218):
// one ONEDAV_CLIENT_SECRET in the environment serves the confidential accounts and breaks none of the public ones.
const ENV = { ONEDAV_CLIENT_SECRET: WEB_APP_CLIENT_SECRET };
const MEGAN = 'megan@contoso.onmicrosoft.com';

let emulator: RunningEmulator;
let dir: string;
let configFile: string;

function io(extra: Partial<CliIo> = {}): CliIo & { text: () => string } {
  const lines: string[] = [];
  return { out: (t) => void lines.push(t), err: (t) => void lines.push(t), env: ENV, text: () => lines.join(''), ...extra };
}

/** A browser already signed in to Entra ID: follows the authorize redirect to the login listener. */
async function browser(url: string): Promise<void> {
  const auth = await fetch(url, { redirect: 'manual' });
  expect(auth.status).toBe(302);
  expect((await fetch(auth.headers.get('location')!)).status).toBe(200);
}

const login = (account: string, extra: Partial<CliIo> = {}) => runLogin(['--config', configFile, '--account', account, '--authority', emulator.url], io({ openBrowser: browser, ...extra }));
const stats = () => emulator.identity.stats();

beforeAll(async () => {
  emulator = await startEmulator({ settings: { deviceCodePollIntervalSec: 0 } });
  dir = await mkdtemp(join(tmpdir(), 'onedav-client-'));
  configFile = join(dir, 'config.json');
  const tenant = 'contoso.onmicrosoft.com';
  await writeFile(
    configFile,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      server: { port: 0 },
      anonymous: { enabled: true },
      accounts: {
        desk: { cloud: 'emulator', tenant, clientId: DEMO_CLIENT_ID, redirectUri: 'http://127.0.0.1:0/' },
        device: { cloud: 'emulator', tenant, clientId: DEMO_CLIENT_ID, flow: 'deviceCode' },
        web: { cloud: 'emulator', tenant, clientId: WEB_APP_CLIENT_ID, clientType: 'confidential', redirectUri: 'http://127.0.0.1:0/onedav/callback' },
        daemon: { cloud: 'emulator', tenant, clientId: WEB_APP_CLIENT_ID, flow: 'clientCredentials', user: MEGAN },
      },
      mounts: [
        { path: '/desk', account: 'desk' },
        { path: '/web', account: 'web' },
        { path: '/daemon', account: 'daemon' },
      ],
    }),
  );
});
afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => emulator.identity.resetStats());

describe('client secrets with ONEDAV_CLIENT_SECRET in the environment', () => {
  it('signs a public desktop account in through the browser without sending the secret', async () => {
    expect(await login('desk')).toBe(0);
    expect(stats()).toMatchObject({ grants: { authorization_code: 1 }, clientAuthentication: { none: 1, secret: 0 }, failures: {} });
  });

  it('signs a public account in with a device code without sending the secret', async () => {
    const out = io({
      out: (t) => {
        const code = /enter the code (\S+)/.exec(t)?.[1];
        if (code) emulator.identity.approveDeviceCode(code);
      },
    });
    expect(await runLogin(['--config', configFile, '--account', 'device', '--authority', emulator.url], out)).toBe(0);
    expect(stats()).toMatchObject({ grants: { device_code: 1 }, clientAuthentication: { none: 1, secret: 0 } });
  });

  it('signs the confidential web account in with its secret, through its Web redirect URI', async () => {
    expect(await login('web')).toBe(0);
    expect(stats()).toMatchObject({ grants: { authorization_code: 1 }, clientAuthentication: { none: 0, secret: 1 }, failures: {} });
  });

  it('still signs an app in with client credentials', async () => {
    expect(await login('daemon')).toBe(0);
    expect(stats()).toMatchObject({ grants: { client_credentials: 1 }, clientAuthentication: { secret: 1 } });
  });

  it('serves them all and refreshes each the way its client type must: the public one without the secret', async () => {
    const app = await startOneDav(await loadConfig(configFile, ENV));
    try {
      emulator.identity.resetStats();
      await app.accounts.get('desk')!.refresh();
      expect(stats()).toMatchObject({ grants: { refresh_token: 1 }, clientAuthentication: { none: 1, secret: 0 }, failures: {} });
      await app.accounts.get('web')!.refresh();
      await app.accounts.get('daemon')!.refresh();
      expect(stats()).toMatchObject({ grants: { refresh_token: 2, client_credentials: 1 }, clientAuthentication: { none: 1, secret: 2 }, failures: {} });
      for (const mount of ['desk', 'web', 'daemon']) expect((await fetch(`${app.url}/${mount}/`, { method: 'PROPFIND', headers: { depth: '1' } })).status).toBe(207);
    } finally {
      await app.close();
    }
  });
});

describe('check-config on client types', () => {
  it('says which accounts send a secret, wants one for the confidential ones, and flags an account-named secret a public client cannot use', async () => {
    const config = await loadConfig(configFile, { ONEDAV_CLIENT_SECRET_DESK: 'not-for-a-public-client' });
    const result = await preflight(config, { env: { ONEDAV_CLIENT_SECRET_DESK: 'not-for-a-public-client' } });
    expect(result.notes).toContain('account "desk": public client (Mobile and desktop registration): signs in without a client secret');
    expect(result.notes.some((n) => n.startsWith('account "web": confidential web app: sends its client secret'))).toBe(true);
    expect(result.problems).toContain('accounts.web: a confidential client (clientType "confidential", a "Web" redirect URI) needs a secret: set ONEDAV_CLIENT_SECRET_WEB');
    expect(result.problems).toContain('accounts.daemon: client credentials need a secret: set ONEDAV_CLIENT_SECRET_DAEMON');
    expect(result.warnings.join('\n')).toContain('ONEDAV_CLIENT_SECRET_DESK is set but account "desk" is a public client');
    expect(config.accounts.desk.clientSecret).toBeUndefined();
  });
});
