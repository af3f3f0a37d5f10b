import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../src/emulator/server.js';
import { WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET, WEB_APP_REDIRECT_URI } from '../../../src/emulator/directory.js';
import { pkcePair, postForm } from './helpers.js';

/** The sign-in form at the authorize endpoint (prompt=login / select_account), as a browser without JavaScript uses it. */
let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ admin: true });
});
afterAll(async () => {
  await emulator.close();
});

const pkce = pkcePair();
function authorizeUrl(params: Record<string, string> = {}): string {
  const url = new URL(`${emulator.url}/organizations/oauth2/v2.0/authorize`);
  const all = { client_id: WEB_APP_CLIENT_ID, response_type: 'code', redirect_uri: WEB_APP_REDIRECT_URI, scope: 'Files.ReadWrite offline_access openid profile', state: 'st', nonce: 'n-1', code_challenge: pkce.challenge, code_challenge_method: 'S256', prompt: 'select_account', ...params };
  for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
  return url.toString();
}

async function submit(url: string, login: string, passwd: string): Promise<Response> {
  const page = await (await fetch(url)).text();
  const action = /<form method="post" action="([^"]*)"/.exec(page)![1].replace(/&amp;/g, '&');
  return fetch(new URL(action, url), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ login, passwd }).toString() });
}

async function signInAs(upn: string, password: string): Promise<Record<string, unknown>> {
  const res = await submit(authorizeUrl(), upn, password);
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe('st');
  const token = await postForm(`${emulator.url}/organizations/oauth2/v2.0/token`, {
    grant_type: 'authorization_code',
    client_id: WEB_APP_CLIENT_ID,
    client_secret: WEB_APP_CLIENT_SECRET,
    code: back.searchParams.get('code')!,
    redirect_uri: WEB_APP_REDIRECT_URI,
    code_verifier: pkce.verifier,
  });
  expect(token.status).toBe(200);
  return JSON.parse(Buffer.from(token.body.id_token.split('.')[1], 'base64url').toString());
}

describe('the emulator sign-in page', () => {
  it('shows a form (no redirect yet) when the app asks for prompt=select_account or prompt=login', async () => {
    for (const prompt of ['select_account', 'login']) {
      const res = await fetch(authorizeUrl({ prompt }), { redirect: 'manual' });
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('<form method="post"');
      expect(html).toContain('name="passwd"');
      expect(html).toContain('adele@contoso.onmicrosoft.com');
    }
  });

  it('signs in whoever types their own name and password: Adele, then Megan', async () => {
    const adele = await signInAs('adele@contoso.onmicrosoft.com', 'adele-password');
    expect(adele.preferred_username).toBe('adele@contoso.onmicrosoft.com');
    expect(adele.nonce).toBe('n-1');
    const megan = await signInAs('megan@contoso.onmicrosoft.com', 'megan-password');
    expect(megan.preferred_username).toBe('megan@contoso.onmicrosoft.com');
    expect(megan.oid).not.toBe(adele.oid);
  });

  it('refuses a wrong password or an unknown name with the same words, and no code', async () => {
    for (const [login, passwd] of [['adele@contoso.onmicrosoft.com', 'megan-password'], ['nobody@contoso.onmicrosoft.com', 'x']]) {
      const res = await submit(authorizeUrl(), login, passwd);
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('AADSTS50126');
    }
  });

  it('still signs the hinted user in at once without prompt (existing flows)', async () => {
    const res = await fetch(authorizeUrl({ prompt: '', login_hint: 'megan@contoso.onmicrosoft.com' }).replace('&prompt=', '&x='), { redirect: 'manual' });
    expect(res.status).toBe(302);
  });
});
