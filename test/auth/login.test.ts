import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONSUMERS_TENANT_ID, DEMO_CLIENT_ID, WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { ClientConfigError, OAuthError } from '../../src/auth/errors.js';
import { login, type AccountSettings } from '../../src/auth/login.js';
import { TokenRefresher } from '../../src/auth/refresher.js';
import { ManualTimers } from '../../src/auth/timers.js';
import { ManualClock } from '../../src/util/clock.js';
import { AuthFixture, CONTOSO, failure } from './helpers.js';

const fx = new AuthFixture();
const clock = new ManualClock(Date.UTC(2025, 3, 1));
const printed: string[] = [];
const print = (line: string) => printed.push(line);

beforeAll(async () => {
  await fx.start({ clock });
});
afterAll(async () => {
  fx.assertLogFreeOf(await fx.savedTokens());
  const out = printed.join('\n');
  for (const token of await fx.savedTokens()) expect(out.includes(token)).toBe(false);
  await fx.stop();
});
beforeEach(() => {
  fx.emulator.identity.resetStats();
  fx.emulator.state.settings.deviceCodePollIntervalSec = 5;
});

function settings(extra: Partial<AccountSettings> = {}): AccountSettings {
  return { tenant: CONTOSO, clientId: DEMO_CLIENT_ID, redirectUri: 'http://127.0.0.1:0/', flow: 'interactive', scopes: ['Files.ReadWrite.All', 'offline_access', 'User.Read'], ...extra };
}

/** A browser already signed in to Entra ID: follows the authorize redirect to our listener. */
function scriptedBrowser(seen: { listener?: number; page?: string; tampered?: number }, tamperFirst = false) {
  return async (url: string) => {
    const auth = await fetch(url, { redirect: 'manual' });
    expect(auth.status).toBe(302);
    const location = new URL(auth.headers.get('location')!);
    if (tamperFirst) {
      const forged = new URL(location);
      forged.searchParams.set('state', 'forged');
      seen.tampered = (await fetch(forged)).status;
    }
    const back = await fetch(location);
    seen.listener = back.status;
    seen.page = await back.text();
  };
}

describe('interactive login (auth code + PKCE on a loopback listener)', () => {
  it('signs in through a scripted browser and saves the account', async () => {
    const seen: { listener?: number; page?: string } = {};
    const record = await login({ account: 'work', settings: settings(), cloud: fx.cloud, store: fx.store, print, openBrowser: scriptedBrowser(seen), clock });
    expect(seen.listener).toBe(200);
    expect(seen.page).toContain('You can close this window');
    expect(record).toMatchObject({ account: 'work', accountType: 'organizational', cloud: 'emulator', user: { upn: 'adele@contoso.onmicrosoft.com', name: 'Adele Vance' } });
    expect(record.tenantId).toBe(fx.emulator.state.directory.tenants[0].id);
    expect(record.tenantCloud).toMatchObject({ name: 'global', instanceName: 'microsoftonline.com' });
    expect(fx.emulator.identity.stats().grants.authorization_code).toBe(1);
    expect(printed.join('\n')).toContain('/oauth2/v2.0/authorize?');
    expect((await stat(fx.store.pathFor('work'))).mode & 0o777).toBe(0o600);

    const tokens = await TokenRefresher.open(fx.store, 'work', { clock, timers: new ManualTimers(clock) });
    expect(fx.emulator.state.tokens.check(`Bearer ${await tokens.getAccessToken()}`).ok).toBe(true);
    tokens.close();
  });

  it('ignores a redirect with the wrong state and waits for the real one', async () => {
    const seen: { listener?: number; tampered?: number } = {};
    await login({ account: 'work2', settings: settings(), cloud: fx.cloud, store: fx.store, print, openBrowser: scriptedBrowser(seen, true), clock });
    expect(seen.tampered).toBe(400);
    expect(seen.listener).toBe(200);
  });

  it('signs a personal account in through the consumers tenant', async () => {
    const record = await login({ account: 'home', settings: settings({ tenant: 'consumers' }), cloud: fx.cloud, store: fx.store, print, openBrowser: scriptedBrowser({}), clock, loginHint: 'alex@outlook.com' });
    expect(record).toMatchObject({ accountType: 'personal', tenantId: CONSUMERS_TENANT_ID, user: { upn: 'alex@outlook.com' } });
  });

  it('reports an authorize error sent back to the redirect URI', async () => {
    const err = await failure(login({ account: 'bad', settings: settings({ scopes: ['No.Such.Scope', 'offline_access'] }), cloud: fx.cloud, store: fx.store, print, openBrowser: scriptedBrowser({}), clock }));
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).error).toBe('invalid_scope');
    expect(err.message).toContain('AADSTS70011');
  });
});

describe('browser that never comes back', () => {
  it('times out with advice', async () => {
    const err = await failure(login({ account: 'idle', settings: settings(), cloud: fx.cloud, store: fx.store, print, openBrowser: () => {}, browserTimeoutMs: 200, clock }));
    expect(err.message).toContain('No answer from the browser');
    expect(err.message).toContain('--device-code');
  });
});

describe('device code login', () => {
  it('polls through pending and slow_down until the code is approved', async () => {
    let userCode = '';
    let sleeps = 0;
    const record = await login({
      account: 'device',
      settings: settings({ flow: 'deviceCode' }),
      cloud: fx.cloud,
      store: fx.store,
      clock,
      print: (line) => {
        print(line);
        userCode = /enter the code (\S+)/.exec(line)?.[1] ?? userCode;
      },
      sleep: async (ms) => {
        sleeps++;
        // The second wait is cut short, as a too-eager client would: the server must say slow_down.
        clock.advance(sleeps === 2 ? 1000 : ms);
        if (sleeps === 4) {
          const page = await fetch(`${fx.emulator.url}/devicelogin?code=${userCode}&user=megan@contoso.onmicrosoft.com`);
          expect(page.status).toBe(200);
        }
      },
    });
    expect(record.user?.upn).toBe('megan@contoso.onmicrosoft.com');
    const stats = fx.emulator.identity.stats();
    expect(stats.grants.device_code).toBe(1);
    expect(stats.failures.slow_down).toBe(1);
    expect(stats.failures.authorization_pending).toBe(2);
  });

  it('gives up when the code expires', async () => {
    const err = await failure(login({ account: 'late', settings: settings({ flow: 'deviceCode' }), cloud: fx.cloud, store: fx.store, clock, print, sleep: async (ms) => clock.advance(ms) }));
    expect(err.message).toContain('expired');
    expect(fx.emulator.identity.stats().failures.expired_token).toBe(1);
  });
});

describe('public and confidential clients', () => {
  it('never sends a secret from a public client, even when the settings carry one', async () => {
    await login({ account: 'public', settings: settings({ clientSecret: 'a-secret-for-something-else' }), cloud: fx.cloud, store: fx.store, print, openBrowser: scriptedBrowser({}), clock });
    expect(fx.emulator.identity.stats()).toMatchObject({ grants: { authorization_code: 1 }, clientAuthentication: { none: 1, secret: 0 }, failures: {} });
  });

  it('sends the secret from a confidential web app through its Web redirect URI, and records the client type', async () => {
    const web = settings({ clientId: WEB_APP_CLIENT_ID, clientType: 'confidential', clientSecret: WEB_APP_CLIENT_SECRET, redirectUri: 'http://127.0.0.1:0/onedav/callback' });
    const record = await login({ account: 'web', settings: web, cloud: fx.cloud, store: fx.store, print, openBrowser: scriptedBrowser({}), clock });
    expect(record.clientType).toBe('confidential');
    expect(fx.emulator.identity.stats()).toMatchObject({ grants: { authorization_code: 1 }, clientAuthentication: { none: 0, secret: 1 } });
    const tokens = new TokenRefresher({ store: fx.store, record, clientSecret: WEB_APP_CLIENT_SECRET, clock, timers: new ManualTimers(clock) });
    await tokens.refresh();
    expect(fx.emulator.identity.stats()).toMatchObject({ grants: { refresh_token: 1 }, clientAuthentication: { secret: 2 } });
    tokens.close();
    const wrong = new TokenRefresher({ store: fx.store, record: { ...record, account: 'web-wrong' }, clientSecret: 'not-the-secret', clock, timers: new ManualTimers(clock) });
    const err = await failure(wrong.refresh());
    expect(err).toBeInstanceOf(ClientConfigError);
    expect(err.message).toContain('AADSTS7000215');
    expect(err.message).toContain('client secret (ONEDAV_CLIENT_SECRET)');
  });

  it('refuses, before any request, a confidential client without its secret and a device code from one', async () => {
    const web = settings({ clientId: WEB_APP_CLIENT_ID, clientType: 'confidential', redirectUri: 'http://127.0.0.1:0/onedav/callback' });
    const noSecret = await failure(login({ account: 'web2', settings: web, cloud: fx.cloud, store: fx.store, print, openBrowser: scriptedBrowser({}), clock }));
    expect(noSecret.message).toContain('is a confidential client (a "Web" redirect URI) but has no secret');
    const device = await failure(login({ account: 'web3', settings: { ...web, clientSecret: WEB_APP_CLIENT_SECRET }, flow: 'deviceCode', cloud: fx.cloud, store: fx.store, print, clock }));
    expect(device.message).toContain('the device-code flow is for public clients');
    expect(fx.emulator.identity.stats().grants).toMatchObject({ authorization_code: 0, device_code: 0 });
  });
});

describe('client credentials login', () => {
  it('gets an app-only token and records the served user', async () => {
    const record = await login({ account: 'daemon', settings: settings({ clientId: WEB_APP_CLIENT_ID, flow: 'clientCredentials', clientSecret: WEB_APP_CLIENT_SECRET, user: 'megan@contoso.onmicrosoft.com' }), cloud: fx.cloud, store: fx.store, print, clock });
    expect(record).toMatchObject({ accountType: 'app', flow: 'clientCredentials', user: { upn: 'megan@contoso.onmicrosoft.com' } });
    expect(record.refreshToken).toBeUndefined();
    expect(record.tenantId).toBe(fx.emulator.state.directory.tenants[0].id);
  });

  it('fails with AADSTS7000215 for a wrong secret and never echoes it', async () => {
    const err = await failure(login({ account: 'daemon2', settings: settings({ clientId: WEB_APP_CLIENT_ID, flow: 'clientCredentials', clientSecret: 'wrong-secret-value', user: 'megan@contoso.onmicrosoft.com' }), cloud: fx.cloud, store: fx.store, print, clock }));
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).aadsts).toBe(7000215);
    expect(err.message).not.toContain('wrong-secret-value');
  });
});
