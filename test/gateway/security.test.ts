import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { gatewayProblems } from '../../src/gateway/gateway.js';
import { ADELE, MEGAN, LEI } from '../helpers/stack.js';
import { basic, cookieHeader, cookiesFrom, createAppPassword, microsoftSignIn, postForm, propfind, signInWithFetch, startGatewayStack, startSignIn, type GatewayStack } from './helpers.js';

let stack: GatewayStack;
const secrets: string[] = [];
beforeAll(async () => {
  stack = await startGatewayStack();
  const driveIds = stack.app.emulator!.drive;
  await driveIds.putFile(driveIds.driveIdOf(ADELE), '/adele.txt', Buffer.from('adele'));
});
afterAll(async () => {
  await stack?.close();
});

describe('the sign-in site refuses what it must', () => {
  it('refuses form posts without the session\'s CSRF token, with a wrong one, or from another origin', async () => {
    const session = await signInWithFetch(stack, ADELE, 'adele-password');
    const page = async () => (await fetch(stack.site, { headers: { cookie: cookieHeader(session.cookies) } })).text();
    for (const form of [{ name: 'no token' }, { name: 'wrong token', csrf: 'A'.repeat(43) }] as Array<Record<string, string>>) {
      const res = await postForm(stack, 'passwords', session.cookies, form);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain('id="app-password"');
    }
    const foreign = await postForm(stack, 'passwords', session.cookies, { name: 'cross-site', csrf: session.csrf }, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    // Another person's token does not fit this session either.
    const megan = await signInWithFetch(stack, MEGAN, 'megan-password');
    expect((await postForm(stack, 'passwords', session.cookies, { name: 'megan token', csrf: megan.csrf })).status).toBe(403);
    expect(await page()).toContain('No app passwords yet.');
    // Sign-out is a form too.
    expect((await postForm(stack, 'sign-out', session.cookies, {})).status).toBe(403);
    secrets.push(await createAppPassword(stack, session, 'laptop'));
    expect(await page()).toContain('laptop');
  });

  it('answers with a strict CSP, nosniff, no framing, and a HttpOnly SameSite session cookie on the site path', async () => {
    const res = await fetch(stack.site);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const { authorize, cookies } = await startSignIn(stack);
    const callback = await microsoftSignIn(authorize, ADELE, 'adele-password');
    const done = await fetch(callback, { redirect: 'manual', headers: { cookie: cookieHeader(cookies) } });
    const line = done.headers.getSetCookie().find((l) => l.startsWith('onedav-session='))!;
    expect(line).toContain('HttpOnly');
    expect(line).toContain('SameSite=Lax');
    expect(line).toContain('Path=/.well-known/onedav/account/');
  });

  it('takes each sign-in state once: a replayed callback is refused', async () => {
    const first = await signInWithFetch(stack, ADELE, 'adele-password');
    const replay = await fetch(first.callback, { redirect: 'manual', headers: { cookie: cookieHeader(first.signInCookies) } });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('already used or has expired');
    expect(cookiesFrom(replay)['onedav-session']).toBeUndefined();
  });

  it('refuses an answer started in another browser (no or another sign-in cookie)', async () => {
    const { authorize } = await startSignIn(stack);
    const callback = await microsoftSignIn(authorize, ADELE, 'adele-password');
    const res = await fetch(callback, { redirect: 'manual', headers: { cookie: 'onedav-sign-in=someone-elses' } });
    expect(res.status).toBe(400);
    expect(cookiesFrom(res)['onedav-session']).toBeUndefined();
  });

  it('refuses an id token whose nonce is not this sign-in\'s', async () => {
    const a = await startSignIn(stack);
    const b = await startSignIn(stack);
    // Microsoft answers sign-in B with a token minted for A's nonce (an injected code).
    const tampered = new URL(b.authorize);
    tampered.searchParams.set('nonce', a.authorize.searchParams.get('nonce')!);
    const callback = await microsoftSignIn(tampered, ADELE, 'adele-password');
    const res = await fetch(callback, { redirect: 'manual', headers: { cookie: cookieHeader(b.cookies) } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('nonce mismatch');
    expect(cookiesFrom(res)['onedav-session']).toBeUndefined();
  });

  it('refuses a person from a tenant that is not allowed (Fabrikam), and gives them nothing', async () => {
    const { authorize, cookies } = await startSignIn(stack);
    const callback = await microsoftSignIn(authorize, LEI, 'lei-password');
    const res = await fetch(callback, { redirect: 'manual', headers: { cookie: cookieHeader(cookies) } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('not one this onedav serves');
    expect(cookiesFrom(res)['onedav-session']).toBeUndefined();
    expect(await stack.app.gateway!.people.byUpn(LEI)).toBeUndefined();
    expect(stack.logs.some((l) => l.includes('audit: sign-in refused') && l.includes(LEI))).toBe(true);
  });

  it('throttles guessing of app passwords like Basic logins: 429 after 10 failures, even for the right password', async () => {
    const password = secrets[0];
    expect((await propfind(stack, ADELE, password)).status).toBe(207);
    for (let i = 0; i < 10; i++) expect((await propfind(stack, ADELE, `wrong-${i}`)).status).toBe(401);
    const blocked = await propfind(stack, ADELE, password);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('keeps secrets out of the logs and out of the data folder in clear', async () => {
    const log = stack.logs.join('\n');
    expect(log).toContain('audit: app password created');
    expect(log).toContain('audit: signed in');
    expect(log).toContain('audit: app password first used');
    for (const secret of [...secrets, WEB_APP_CLIENT_SECRET]) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/0\.A[RX][A-Za-z0-9_-]{20}/); // refresh tokens and codes
    expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // access and id tokens
    const people = await stack.app.gateway!.people.list();
    const adele = people.find((p) => p.upn === ADELE)!;
    const tokenFile = join(stack.dataDir, 'accounts', `${encodeURIComponent(`person:${adele.oid}`).replace(/\./g, '%2E')}.json`);
    const saved = JSON.parse(await readFile(tokenFile, 'utf8'));
    expect(saved.refreshToken).toMatch(/^v1:/);
    expect(saved.accessToken).toMatch(/^v1:/);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const dir = join(stack.dataDir, 'gateway');
    for (const file of await readdir(dir)) {
      expect((await stat(join(dir, file))).mode & 0o777).toBe(0o600);
      const text = await readFile(join(dir, file), 'utf8');
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});

describe('the site over plain HTTP', () => {
  const base = { publicUrl: 'https://dav.example.org', tenants: ['contoso.com'], app: { clientId: 'x', clientSecret: 's', cloud: 'global' as const }, scopes: [], behindTls: false, sessionHours: 8, maxAppPasswords: 20 };
  const env = { ONEDAV_STATE_KEY: Buffer.alloc(32, 1).toString('base64') };
  it('refuses to run on plain HTTP beyond loopback unless it sits behind TLS', () => {
    expect(gatewayProblems(base, { host: '0.0.0.0', tls: false }, env).join()).toContain('refuses plain HTTP');
    expect(gatewayProblems({ ...base, behindTls: true }, { host: '0.0.0.0', tls: false }, env)).toEqual([]);
    expect(gatewayProblems(base, { host: '0.0.0.0', tls: true }, env)).toEqual([]);
    expect(gatewayProblems(base, { host: '127.0.0.1', tls: false }, env)).toEqual([]);
    expect(gatewayProblems({ ...base, publicUrl: 'http://dav.example.org' }, { host: '127.0.0.1', tls: false }, env).join()).toContain('plain HTTP');
  });

  it('refuses to run without a key to seal people\'s tokens, or without the client secret', () => {
    expect(gatewayProblems(base, { host: '127.0.0.1', tls: false }, {}).join()).toContain('ONEDAV_STATE_KEY');
    expect(gatewayProblems({ ...base, app: { ...base.app, clientSecret: undefined } }, { host: '127.0.0.1', tls: false }, env).join()).toContain('ONEDAV_GATEWAY_CLIENT_SECRET');
  });
});

void basic;
