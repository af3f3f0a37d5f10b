import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOneDav, type RunningOneDav } from '../../src/cli/app.js';
import { parseConfig } from '../../src/config.js';
import { WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/logger.js';

export const SITE = '/.well-known/onedav/account/';
export const STATE_KEY = Buffer.alloc(32, 7).toString('base64');

export interface GatewayStack {
  app: RunningOneDav;
  /** `http://127.0.0.1:port` */
  url: string;
  site: string;
  clock: ManualClock;
  dataDir: string;
  /** Every log line written so far (JSON). */
  logs: string[];
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * onedav in gateway mode on loopback, with the built-in emulator as Microsoft (its confidential web
 * app, which has the site's callback registered); only Contoso's people are allowed.
 */
export async function startGatewayStack(gateway: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<GatewayStack> {
  process.env.ONEDAV_STATE_KEY = STATE_KEY;
  const dataDir = await mkdtemp(join(tmpdir(), 'onedav-gateway-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', format: 'json', write: (line) => logs.push(line) });
  const clock = new ManualClock(Date.now());
  const config = parseConfig({
    server: { port },
    dataDir,
    emulator: { enabled: true },
    gateway: {
      publicUrl: url,
      tenants: ['contoso.onmicrosoft.com'],
      authority: 'organizations',
      app: { clientId: WEB_APP_CLIENT_ID, clientSecret: WEB_APP_CLIENT_SECRET, cloud: 'emulator' },
      ...gateway,
    },
    ...top,
  });
  const app = await startOneDav(config, { logger, emulatorAdmin: true, emulatorClock: clock });
  return {
    app,
    url,
    site: `${url}${SITE}`,
    clock,
    dataDir,
    logs,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export function propfind(stack: GatewayStack, user: string, password: string, path = '/'): Promise<Response> {
  return fetch(`${stack.url}${path}`, { method: 'PROPFIND', headers: { authorization: basic(user, password), depth: '1' } });
}

/** Cookie header value from a response's Set-Cookie lines (name=value only). */
export function cookiesFrom(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function cookieHeader(cookies: Record<string, string>): string {
  return Object.entries(cookies)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
}

/** The first half of a sign-in, as a browser: the site's redirect to Microsoft and its browser cookie. */
export async function startSignIn(stack: GatewayStack): Promise<{ authorize: URL; cookies: Record<string, string> }> {
  const res = await fetch(`${stack.site}sign-in`, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`sign-in answered ${res.status}`);
  return { authorize: new URL(res.headers.get('location')!), cookies: cookiesFrom(res) };
}

/** Posts the emulator's sign-in form; returns the callback URL Microsoft sends the browser to. */
export async function microsoftSignIn(authorize: URL, upn: string, password: string): Promise<URL> {
  const res = await fetch(authorize, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ login: upn, passwd: password }).toString() });
  if (res.status !== 302) throw new Error(`the emulator answered ${res.status}: ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/** A whole sign-in without a browser: the session cookies and the csrf token of the account page. */
export async function signInWithFetch(stack: GatewayStack, upn: string, password: string): Promise<{ cookies: Record<string, string>; csrf: string; callback: URL; signInCookies: Record<string, string> }> {
  const { authorize, cookies: signInCookies } = await startSignIn(stack);
  const callback = await microsoftSignIn(authorize, upn, password);
  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: cookieHeader(signInCookies) } });
  if (done.status !== 303) throw new Error(`callback answered ${done.status}: ${await done.text()}`);
  const cookies = cookiesFrom(done);
  const page = await (await fetch(stack.site, { headers: { cookie: cookieHeader(cookies) } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error('the account page has no csrf token');
  return { cookies, csrf, callback, signInCookies };
}

export async function postForm(stack: GatewayStack, path: string, cookies: Record<string, string>, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.site}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(cookies), ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

export async function createAppPassword(stack: GatewayStack, session: { cookies: Record<string, string>; csrf: string }, name: string): Promise<string> {
  const res = await postForm(stack, 'passwords', session.cookies, { csrf: session.csrf, name });
  const html = await res.text();
  const password = /id="app-password">([^<]+)</.exec(html)?.[1];
  if (res.status !== 200 || !password) throw new Error(`creating an app password answered ${res.status}`);
  return password;
}
