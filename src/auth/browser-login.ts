import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { OAuthError } from './errors.js';
import { postForm, type IdentityHttpOptions, type TokenResponse } from './identity-http.js';
import type { AuthorityEndpoints } from './endpoints.js';
import { newPkcePair, newState } from './pkce.js';

export interface BrowserLoginOptions {
  endpoints: AuthorityEndpoints;
  clientId: string;
  clientSecret?: string;
  /** A loopback `http://localhost:PORT/path` or `http://127.0.0.1:PORT/path` registered on the app; port 0 picks one. */
  redirectUri: string;
  /** As sent (already qualified with the Graph resource where needed). */
  scopes: string[];
  loginHint?: string;
  /** Shows the URL to the user; default: try `xdg-open`/`open`. */
  openBrowser?: (url: string) => void | Promise<void>;
  print: (line: string) => void;
  /** How long to wait for the browser (default 5 min). */
  timeoutMs?: number;
  http?: IdentityHttpOptions;
}

export interface BrowserLoginResult {
  response: TokenResponse;
  /** The redirect URI actually used (with the port picked when it was 0). */
  redirectUri: string;
}

/**
 * Authorization code flow with PKCE for a desktop app: a one-shot listener on the loopback redirect
 * URI catches the browser's redirect, checks `state`, redeems the code and tells the browser it may
 * close the window.
 */
export async function browserLogin(options: BrowserLoginOptions): Promise<BrowserLoginResult> {
  const target = new URL(options.redirectUri);
  const host = target.hostname;
  if (target.protocol !== 'http:' || !['localhost', '127.0.0.1', '[::1]'].includes(host)) {
    throw new Error(`The interactive login needs a loopback redirect URI such as http://localhost:53682/ (got ${options.redirectUri}). Register it under "Mobile and desktop applications", or use --device-code.`);
  }
  const pkce = newPkcePair();
  const state = newState();
  const timeoutMs = options.timeoutMs ?? 5 * 60_000;
  let settle: { resolve: (r: BrowserLoginResult) => void; reject: (e: Error) => void };
  const done = new Promise<BrowserLoginResult>((resolve, reject) => (settle = { resolve, reject }));
  // The browser may answer while openBrowser() is still running, before anyone awaits `done`.
  done.catch(() => {});
  let redirectUri = '';
  let answered = false;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://loopback');
    if (url.pathname !== target.pathname || answered) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    const error = url.searchParams.get('error');
    if (url.searchParams.get('state') !== state) {
      page(res, 400, 'Sign-in failed', 'The answer did not match this sign-in attempt (state mismatch). Run the login again.');
      return;
    }
    answered = true;
    if (error) {
      const description = (url.searchParams.get('error_description') ?? '').split(/\r?\n/)[0];
      page(res, 400, 'Sign-in failed', description || error);
      const aadsts = /^AADSTS(\d+)/.exec(description)?.[1];
      settle.reject(new OAuthError(400, error, description, aadsts ? Number(aadsts) : undefined));
      return;
    }
    const code = url.searchParams.get('code');
    if (!code) {
      page(res, 400, 'Sign-in failed', 'The redirect carried no authorization code.');
      settle.reject(new Error('The redirect carried no authorization code.'));
      return;
    }
    postForm(
      options.endpoints.token,
      {
        grant_type: 'authorization_code',
        client_id: options.clientId,
        client_secret: options.clientSecret,
        code,
        redirect_uri: redirectUri,
        code_verifier: pkce.verifier,
        scope: options.scopes.join(' '),
      },
      options.http,
    ).then(
      (response) => {
        page(res, 200, 'Signed in', 'onedav is signed in. You can close this window.');
        settle.resolve({ response, redirectUri });
      },
      (err: Error) => {
        page(res, 400, 'Sign-in failed', err.message);
        settle.reject(err);
      },
    );
  };

  const servers = await listenLoopback(host, Number(target.port || 80), onRequest);
  try {
    const port = (servers[0].address() as AddressInfo).port;
    const withPort = new URL(target.toString());
    withPort.port = String(port);
    redirectUri = withPort.toString();
    const authorize = new URL(options.endpoints.authorize);
    const params: Record<string, string | undefined> = {
      client_id: options.clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      response_mode: 'query',
      scope: options.scopes.join(' '),
      state,
      code_challenge: pkce.challenge,
      code_challenge_method: pkce.method,
      login_hint: options.loginHint,
    };
    for (const [key, value] of Object.entries(params)) if (value !== undefined) authorize.searchParams.set(key, value);
    options.print(`Open this address in a browser to sign in (waiting ${Math.round(timeoutMs / 1000)} s):\n\n  ${authorize.toString()}\n`);
    await Promise.resolve((options.openBrowser ?? tryOpenBrowser)(authorize.toString())).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`No answer from the browser within ${Math.round(timeoutMs / 1000)} s. Run the login again, or use --device-code on a machine without a browser.`)), timeoutMs);
    });
    try {
      return await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  }
}

/** `localhost` may resolve to 127.0.0.1 or ::1, so listen on both loopbacks (never on all interfaces). */
async function listenLoopback(host: string, port: number, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server[]> {
  const addresses = host === 'localhost' ? ['127.0.0.1', '::1'] : [host.replace(/^\[|\]$/g, '')];
  const servers: Server[] = [];
  for (const address of addresses) {
    const server = createServer(handler);
    const chosen = servers.length ? (servers[0].address() as AddressInfo).port : port;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(chosen, address, () => resolve());
      });
      servers.push(server);
    } catch (err) {
      if (servers.length === 0) {
        throw new Error(`Cannot listen on ${address}:${chosen} for the sign-in redirect (${(err as Error).message}). Is another login running? Pick another port in redirectUri (and register it).`);
      }
    }
  }
  return servers;
}

function page(res: ServerResponse, status: number, title: string, message: string): void {
  const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1><p>${esc(message)}</p></body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), connection: 'close' });
  res.end(html);
}

/** Best effort: `xdg-open` (Linux) or `open` (macOS); the printed URL is the fallback. */
export function tryOpenBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? undefined : 'xdg-open';
  if (!command) return;
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No opener on this machine: the user has the printed URL.
  }
}
