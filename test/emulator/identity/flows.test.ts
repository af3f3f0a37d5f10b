import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../src/emulator/server.js';
import { DEMO_CLIENT_ID, WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET, WEB_APP_REDIRECT_URI } from '../../../src/emulator/directory.js';
import { ManualClock } from '../../../src/util/clock.js';
import { authorize, expectAadError, pkcePair, postForm } from './helpers.js';

const TENANT = 'contoso.onmicrosoft.com';
const REDIRECT = 'http://127.0.0.1:49152/';

let emulator: RunningEmulator;
let clock: ManualClock;
beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2025, 0, 1));
  emulator = await startEmulator({ clock, admin: true });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  Object.assign(emulator.state.settings, { revokeRefreshTokenOnRotation: false, deviceCodePollIntervalSec: 5 });
});

function authorizeUrl(params: Record<string, string>, tenant = TENANT): string {
  const url = new URL(`${emulator.url}/${tenant}/oauth2/v2.0/authorize`);
  for (const [k, v] of Object.entries({ client_id: DEMO_CLIENT_ID, response_type: 'code', redirect_uri: REDIRECT, scope: 'Files.ReadWrite.All offline_access openid', state: 's1', ...params })) {
    url.searchParams.set(k, v);
  }
  return url.toString();
}

async function codeFor(params: Record<string, string> = {}, tenant = TENANT): Promise<string> {
  const res = await authorize(authorizeUrl(params, tenant));
  expect(res.status).toBe(302);
  const code = res.location!.searchParams.get('code');
  expect(code).toBeTruthy();
  return code!;
}

const tokenUrl = (tenant = TENANT) => `${emulator.url}/${tenant}/oauth2/v2.0/token`;

describe('authorize endpoint', () => {
  it('signs the hinted user in and redirects back with code and state', async () => {
    const res = await authorize(authorizeUrl({ login_hint: 'megan@contoso.onmicrosoft.com', state: 'xyz' }));
    expect(res.status).toBe(302);
    expect(res.location!.origin + res.location!.pathname).toBe(REDIRECT);
    expect(res.location!.searchParams.get('state')).toBe('xyz');
    const token = await postForm(tokenUrl(), { grant_type: 'authorization_code', client_id: DEMO_CLIENT_ID, code: res.location!.searchParams.get('code')!, redirect_uri: REDIRECT });
    const idClaims = JSON.parse(Buffer.from(token.body.id_token.split('.')[1], 'base64url').toString());
    expect(idClaims.preferred_username).toBe('megan@contoso.onmicrosoft.com');
  });

  it('matches loopback registrations on any port, but not other hosts', async () => {
    expect((await authorize(authorizeUrl({ redirect_uri: 'http://localhost:61234/' }))).status).toBe(302);
    const bad = await authorize(authorizeUrl({ redirect_uri: 'https://evil.example/cb' }));
    expect(bad.status).toBe(400);
    expect(bad.location).toBeUndefined();
    expect(bad.text).toContain('AADSTS50011');
  });

  it('shows an error page for an unknown app (it cannot trust the redirect URI)', async () => {
    const res = await authorize(authorizeUrl({ client_id: '11111111-2222-3333-4444-555555555555' }));
    expect(res.status).toBe(400);
    expect(res.text).toContain('AADSTS700016');
  });

  it('redirects scope errors back to the app with error and state', async () => {
    const res = await authorize(authorizeUrl({ scope: 'Nope.Whatever', state: 'k' }));
    expect(res.status).toBe(302);
    expect(res.location!.searchParams.get('error')).toBe('invalid_scope');
    expect(res.location!.searchParams.get('error_description')).toMatch(/^AADSTS70011: /);
    expect(res.location!.searchParams.get('state')).toBe('k');
  });
});

describe('authorization_code grant', () => {
  it('issues tokens shaped like Entra ID, with refresh and id tokens when asked', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await codeFor({ code_challenge: challenge, code_challenge_method: 'S256' });
    const { status, body } = await postForm(tokenUrl(), { grant_type: 'authorization_code', client_id: DEMO_CLIENT_ID, code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600 });
    expect(body.scope).toContain('Files.ReadWrite.All');
    expect(typeof body.refresh_token).toBe('string');
    expect(typeof body.id_token).toBe('string');
    const check = emulator.state.tokens.check(`Bearer ${body.access_token}`);
    expect(check.ok && check.principal.scopes).toContain('Files.ReadWrite.All');
  });

  it('leaves out the refresh token without offline_access', async () => {
    const code = await codeFor({ scope: 'Files.Read' });
    const { body } = await postForm(tokenUrl(), { grant_type: 'authorization_code', client_id: DEMO_CLIENT_ID, code, redirect_uri: REDIRECT });
    expect(body.access_token).toBeTruthy();
    expect(body.refresh_token).toBeUndefined();
    expect(body.id_token).toBeUndefined();
  });

  it('rejects a PKCE mismatch with AADSTS501481', async () => {
    const { challenge } = pkcePair();
    const code = await codeFor({ code_challenge: challenge, code_challenge_method: 'S256' });
    const { status, body } = await postForm(tokenUrl(), { grant_type: 'authorization_code', client_id: DEMO_CLIENT_ID, code, redirect_uri: REDIRECT, code_verifier: pkcePair().verifier });
    expect(status).toBe(400);
    expectAadError(body, 'invalid_grant', 501481);
  });

  it('redeems a code once only (AADSTS54005) and not after 10 minutes (AADSTS70008)', async () => {
    const code = await codeFor();
    const form = { grant_type: 'authorization_code', client_id: DEMO_CLIENT_ID, code, redirect_uri: REDIRECT };
    expect((await postForm(tokenUrl(), form)).status).toBe(200);
    expectAadError((await postForm(tokenUrl(), form)).body, 'invalid_grant', 54005);
    const late = await codeFor();
    clock.advance(11 * 60 * 1000);
    expectAadError((await postForm(tokenUrl(), { ...form, code: late })).body, 'invalid_grant', 70008);
  });

  it('binds the code to its redirect URI', async () => {
    const code = await codeFor();
    const { body } = await postForm(tokenUrl(), { grant_type: 'authorization_code', client_id: DEMO_CLIENT_ID, code, redirect_uri: 'http://127.0.0.1:1/' });
    expectAadError(body, 'invalid_grant', 50011);
  });

  it('echoes client-request-id as the correlation id', async () => {
    const id = '0f0e0d0c-0b0a-4909-8807-060504030201';
    const { body } = await postForm(tokenUrl(), { grant_type: 'authorization_code', client_id: DEMO_CLIENT_ID, code: 'garbage', redirect_uri: REDIRECT }, { 'client-request-id': id });
    expectAadError(body, 'invalid_request', 9002313);
    expect(body.correlation_id).toBe(id);
  });
});

describe('refresh_token grant', () => {
  async function refreshToken(): Promise<string> {
    return emulator.identity.issueRefreshToken({ upn: 'adele@contoso.onmicrosoft.com' });
  }
  const refresh = (token: string) => postForm(tokenUrl(), { grant_type: 'refresh_token', client_id: DEMO_CLIENT_ID, refresh_token: token, scope: 'Files.ReadWrite.All offline_access' });

  it('rotates: returns a new refresh token and the old one stays valid', async () => {
    const first = await refreshToken();
    const a = await refresh(first);
    expect(a.status).toBe(200);
    expect(a.body.refresh_token).not.toBe(first);
    expect((await refresh(first)).status).toBe(200);
    expect((await refresh(a.body.refresh_token)).status).toBe(200);
  });

  it('revokes the old one on rotation when the setting says so', async () => {
    emulator.state.settings.revokeRefreshTokenOnRotation = true;
    const first = await refreshToken();
    const a = await refresh(first);
    expect(a.status).toBe(200);
    expectAadError((await refresh(first)).body, 'invalid_grant', 50173);
    expect((await refresh(a.body.refresh_token)).status).toBe(200);
  });

  it('answers revoked (50173), expired (700082) and unknown (9002313) refresh tokens', async () => {
    const revoked = await refreshToken();
    expect(emulator.identity.revokeRefreshTokens({ token: revoked })).toBe(1);
    expectAadError((await refresh(revoked)).body, 'invalid_grant', 50173);
    const old = await refreshToken();
    clock.advance(emulator.state.settings.refreshTokenLifetimeSec * 1000 + 1000);
    expectAadError((await refresh(old)).body, 'invalid_grant', 700082);
    expectAadError((await refresh('0.ARnotatoken')).body, 'invalid_request', 9002313);
  });

  it('counts grants by type', async () => {
    emulator.identity.resetStats();
    const rt = await refreshToken();
    await refresh(rt);
    await refresh(rt);
    await refresh('bogus');
    const stats = emulator.identity.stats();
    expect(stats.grants.refresh_token).toBe(2);
    expect(stats.failures.invalid_request).toBe(1);
  });
});

describe('client_credentials grant', () => {
  const cc = (form: Record<string, string>, tenant = TENANT, headers: Record<string, string> = {}) =>
    postForm(tokenUrl(tenant), { grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default', ...form }, headers);

  it('gives an app-only token with roles for the right secret', async () => {
    const { status, body } = await cc({ client_id: WEB_APP_CLIENT_ID, client_secret: WEB_APP_CLIENT_SECRET });
    expect(status).toBe(200);
    expect(body.refresh_token).toBeUndefined();
    const check = emulator.state.tokens.check(`Bearer ${body.access_token}`);
    expect(check.ok && check.principal.appOnly).toBe(true);
    expect(check.ok && check.principal.scopes).toContain('Files.ReadWrite.All');
  });

  it('accepts the secret through HTTP Basic too', async () => {
    const basic = Buffer.from(`${WEB_APP_CLIENT_ID}:${WEB_APP_CLIENT_SECRET}`).toString('base64');
    expect((await cc({}, TENANT, { authorization: `Basic ${basic}` })).status).toBe(200);
  });

  it('rejects a wrong secret (401, AADSTS7000215) and a missing one (AADSTS7000218)', async () => {
    const bad = await cc({ client_id: WEB_APP_CLIENT_ID, client_secret: 'wrong' });
    expect(bad.status).toBe(401);
    expectAadError(bad.body, 'invalid_client', 7000215);
    expectAadError((await cc({ client_id: WEB_APP_CLIENT_ID })).body, 'invalid_client', 7000218);
  });

  it('wants a /.default scope (AADSTS1002012) and a real tenant (AADSTS50059)', async () => {
    expectAadError((await cc({ client_id: WEB_APP_CLIENT_ID, client_secret: WEB_APP_CLIENT_SECRET, scope: 'Files.Read.All' })).body, 'invalid_scope', 1002012);
    expectAadError((await cc({ client_id: WEB_APP_CLIENT_ID, client_secret: WEB_APP_CLIENT_SECRET }, 'common')).body, 'invalid_request', 50059);
  });
});

describe('public and confidential clients', () => {
  const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
  const WEB_REDIRECT = WEB_APP_REDIRECT_URI.replace('127.0.0.1', '127.0.0.1:50123');
  const webCode = () => codeFor({ client_id: WEB_APP_CLIENT_ID, redirect_uri: WEB_REDIRECT });
  const startDevice = async (clientId: string) => (await postForm(`${emulator.url}/${TENANT}/oauth2/v2.0/devicecode`, { client_id: clientId, scope: 'Files.ReadWrite.All offline_access' })).body;

  it('refuses a secret from the public app when it redeems a loopback code (401, AADSTS700025), and the code still works without it', async () => {
    const code = await codeFor();
    const form = { grant_type: 'authorization_code', client_id: DEMO_CLIENT_ID, code, redirect_uri: REDIRECT };
    const refused = await postForm(tokenUrl(), { ...form, client_secret: 'any-secret' });
    expect(refused.status).toBe(401);
    expectAadError(refused.body, 'invalid_client', 700025);
    expect(refused.body.error_description).toContain("Client is public so neither 'client_assertion' nor 'client_secret' should be presented.");
    expect((await postForm(tokenUrl(), form)).status).toBe(200);
  });

  it('refuses a secret on the public app\'s refresh, in the body or as HTTP Basic', async () => {
    const rt = emulator.identity.issueRefreshToken({ upn: 'adele@contoso.onmicrosoft.com' });
    const form = { grant_type: 'refresh_token', client_id: DEMO_CLIENT_ID, refresh_token: rt, scope: 'Files.ReadWrite.All offline_access' };
    const body = await postForm(tokenUrl(), { ...form, client_secret: 'any-secret' });
    expect(body.status).toBe(401);
    expectAadError(body.body, 'invalid_client', 700025);
    const basic = Buffer.from(`${DEMO_CLIENT_ID}:any-secret`).toString('base64');
    expectAadError((await postForm(tokenUrl(), form, { authorization: `Basic ${basic}` })).body, 'invalid_client', 700025);
    expect((await postForm(tokenUrl(), form)).status).toBe(200);
  });

  it('refuses a secret on the public app\'s device-code redemption', async () => {
    const dc = await startDevice(DEMO_CLIENT_ID);
    emulator.identity.approveDeviceCode(dc.user_code);
    const form = { grant_type: DEVICE_GRANT, client_id: DEMO_CLIENT_ID, device_code: dc.device_code };
    expectAadError((await postForm(tokenUrl(), { ...form, client_secret: 'any-secret' })).body, 'invalid_client', 700025);
    clock.advance(5000);
    expect((await postForm(tokenUrl(), form)).status).toBe(200);
  });

  it('gives the public app no client credentials: 700025 with a secret, 7000218 without', async () => {
    const cc = { grant_type: 'client_credentials', client_id: DEMO_CLIENT_ID, scope: 'https://graph.microsoft.com/.default' };
    expectAadError((await postForm(tokenUrl(), { ...cc, client_secret: 'any-secret' })).body, 'invalid_client', 700025);
    expectAadError((await postForm(tokenUrl(), cc)).body, 'invalid_client', 7000218);
  });

  it('makes the confidential app redeem its Web-redirect code with its secret: 7000218 without, 7000215 wrong, then tokens', async () => {
    const code = await webCode();
    const form = { grant_type: 'authorization_code', client_id: WEB_APP_CLIENT_ID, code, redirect_uri: WEB_REDIRECT };
    const missing = await postForm(tokenUrl(), form);
    expect(missing.status).toBe(401);
    expectAadError(missing.body, 'invalid_client', 7000218);
    expectAadError((await postForm(tokenUrl(), { ...form, client_secret: 'wrong' })).body, 'invalid_client', 7000215);
    const ok = await postForm(tokenUrl(), { ...form, client_secret: WEB_APP_CLIENT_SECRET });
    expect(ok.status).toBe(200);
    const refresh = { grant_type: 'refresh_token', client_id: WEB_APP_CLIENT_ID, refresh_token: ok.body.refresh_token, scope: 'Files.ReadWrite.All offline_access' };
    expectAadError((await postForm(tokenUrl(), refresh)).body, 'invalid_client', 7000218);
    expect((await postForm(tokenUrl(), { ...refresh, client_secret: WEB_APP_CLIENT_SECRET })).status).toBe(200);
  });

  it('does not take the public app\'s desktop redirect for the confidential app, nor the reverse (AADSTS50011)', async () => {
    expect((await authorize(authorizeUrl({ client_id: WEB_APP_CLIENT_ID }))).text).toContain('AADSTS50011');
    expect((await authorize(authorizeUrl({ redirect_uri: WEB_REDIRECT }))).text).toContain('AADSTS50011');
  });

  it('answers a device code of the app without public client flows with AADSTS7000218', async () => {
    const dc = await startDevice(WEB_APP_CLIENT_ID);
    emulator.identity.approveDeviceCode(dc.user_code);
    expectAadError((await postForm(tokenUrl(), { grant_type: DEVICE_GRANT, client_id: WEB_APP_CLIENT_ID, device_code: dc.device_code })).body, 'invalid_client', 7000218);
  });

  it('counts issued tokens by how the client authenticated', async () => {
    emulator.identity.resetStats();
    const rt = emulator.identity.issueRefreshToken({ upn: 'adele@contoso.onmicrosoft.com' });
    await postForm(tokenUrl(), { grant_type: 'refresh_token', client_id: DEMO_CLIENT_ID, refresh_token: rt, scope: 'Files.Read offline_access' });
    await postForm(tokenUrl(), { grant_type: 'client_credentials', client_id: WEB_APP_CLIENT_ID, client_secret: WEB_APP_CLIENT_SECRET, scope: 'https://graph.microsoft.com/.default' });
    await postForm(tokenUrl(), { grant_type: 'refresh_token', client_id: DEMO_CLIENT_ID, refresh_token: rt, client_secret: 'x', scope: 'Files.Read offline_access' });
    expect(emulator.identity.stats()).toMatchObject({ clientAuthentication: { none: 1, secret: 1 }, failures: { invalid_client: 1 } });
  });
});

describe('device code flow', () => {
  const start = async (tenant = TENANT) => (await postForm(`${emulator.url}/${tenant}/oauth2/v2.0/devicecode`, { client_id: DEMO_CLIENT_ID, scope: 'Files.ReadWrite.All offline_access' })).body;
  const poll = (deviceCode: string, tenant = TENANT) => postForm(tokenUrl(tenant), { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: DEMO_CLIENT_ID, device_code: deviceCode });

  it('answers pending, slow_down, then tokens once approved on the devicelogin page', async () => {
    const dc = await start();
    expect(dc).toMatchObject({ verification_uri: `${emulator.url}/devicelogin`, expires_in: 900, interval: 5 });
    expect(dc.message).toContain(dc.user_code);
    expectAadError((await poll(dc.device_code)).body, 'authorization_pending', 70016);
    clock.advance(1000);
    expect((await poll(dc.device_code)).body.error).toBe('slow_down');
    clock.advance(5000);
    expect((await poll(dc.device_code)).body.error).toBe('authorization_pending');
    const page = await fetch(`${emulator.url}/devicelogin?code=${dc.user_code}&user=megan@contoso.onmicrosoft.com`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('megan@contoso.onmicrosoft.com');
    clock.advance(5000);
    const done = await poll(dc.device_code);
    expect(done.status).toBe(200);
    expect(done.body.refresh_token).toBeTruthy();
    expectAadError((await poll(dc.device_code)).body, 'invalid_grant', 54005);
  });

  it('expires after deviceCodeLifetimeSec', async () => {
    const dc = await start();
    clock.advance(901 * 1000);
    expectAadError((await poll(dc.device_code)).body, 'expired_token', 70019);
  });

  it('reports a declined code', async () => {
    const dc = await start();
    const res = await fetch(`${emulator.url}/_emulator/identity/device-codes/decline`, { method: 'POST', body: JSON.stringify({ userCode: dc.user_code }) });
    expect(res.status).toBe(200);
    expect((await poll(dc.device_code)).body.error).toBe('authorization_declined');
  });

  it('approves through the in-process API', async () => {
    const dc = await start('consumers');
    emulator.identity.approveDeviceCode(dc.user_code);
    const done = await poll(dc.device_code, 'consumers');
    expect(done.status).toBe(200);
    const check = emulator.state.tokens.check(`Bearer ${done.body.access_token}`);
    expect(check.ok && check.principal.userId).toBe('00000000-0000-0000-1a2b-3c4d5e6f7a80');
  });
});

describe('admin API', () => {
  const admin = (path: string, body?: unknown) =>
    fetch(`${emulator.url}/_emulator/identity/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));

  it('issues and revokes refresh tokens and reports grant counts over HTTP', async () => {
    await admin('stats/reset', {});
    const issued = await admin('refresh-tokens', { upn: 'megan@contoso.onmicrosoft.com' });
    expect(issued.status).toBe(200);
    const form = { grant_type: 'refresh_token', client_id: DEMO_CLIENT_ID, refresh_token: issued.body.refresh_token, scope: 'Files.Read offline_access' };
    expect((await postForm(tokenUrl(), form)).status).toBe(200);
    expect((await admin('revoke', { upn: 'megan@contoso.onmicrosoft.com' })).body.revoked).toBeGreaterThanOrEqual(1);
    expectAadError((await postForm(tokenUrl(), form)).body, 'invalid_grant', 50173);
    const stats = await admin('stats');
    expect(stats.body.grants.refresh_token).toBe(1);
    expect(stats.body.failures.invalid_grant).toBe(1);
  });

  it('approves a device code over HTTP and refuses unknown codes', async () => {
    const dc = (await postForm(`${emulator.url}/${TENANT}/oauth2/v2.0/devicecode`, { client_id: DEMO_CLIENT_ID, scope: 'Files.Read' })).body;
    expect((await admin('device-codes/approve', { userCode: dc.user_code, user: 'adele@contoso.onmicrosoft.com' })).status).toBe(200);
    expect((await admin('device-codes/approve', { userCode: 'NOPENOPE1' })).status).toBe(400);
    const done = await postForm(tokenUrl(), { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: DEMO_CLIENT_ID, device_code: dc.device_code });
    expect(done.status).toBe(200);
  });
});

describe('persistence', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onedav-identity-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps refresh tokens (and their revocation) across a restart', async () => {
    const first = await startEmulator({ dataDir: dir });
    const kept = first.identity.issueRefreshToken({ upn: 'adele@contoso.onmicrosoft.com' });
    const revoked = first.identity.issueRefreshToken({ upn: 'adele@contoso.onmicrosoft.com' });
    first.identity.revokeRefreshTokens({ token: revoked });
    await first.close();
    const second = await startEmulator({ dataDir: dir });
    try {
      const form = { grant_type: 'refresh_token', client_id: DEMO_CLIENT_ID, scope: 'Files.ReadWrite.All offline_access' };
      expect((await postForm(`${second.url}/${TENANT}/oauth2/v2.0/token`, { ...form, refresh_token: kept })).status).toBe(200);
      expect((await postForm(`${second.url}/${TENANT}/oauth2/v2.0/token`, { ...form, refresh_token: revoked })).body.error_codes).toEqual([50173]);
    } finally {
      await second.close();
    }
  });
});
