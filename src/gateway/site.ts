import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cloud } from '../auth/clouds.js';
import { OAuthError, TransientAuthError } from '../auth/errors.js';
import { newPkcePair, newState } from '../auth/pkce.js';
import type { SignInStore, StoredAccount } from '../auth/token-store.js';
import { hashPassword } from '../dav/access/passwords.js';
import { pageHeaders } from '../dav/http/security-headers.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { newAppPassword, newId } from './app-passwords.js';
import type { Audit } from './audit.js';
import { authorizeUrl, checkIdToken, IdTokenRejected, redeemCode, type OidcSettings } from './oidc.js';
import { accountPage, errorPage, signedOutPage, SITE_STYLE, type PageLinks } from './pages.js';
import { accountOf, hashId, type People, type Person, type SiteSession } from './people.js';
import type { PersonDrives } from './person-drives.js';

/**
 * The sign-in site lives under `/.well-known/onedav/account/`: `/.well-known/onedav/` is already
 * onedav's reserved prefix (RFC 8615 site-wide metadata; see dav/http/monitoring.ts), so no name in
 * anyone's drive is taken from them beyond what the monitoring endpoints took already.
 */
export const SITE_PREFIX = '/.well-known/onedav/account/';
export const CALLBACK_PATH = `${SITE_PREFIX}callback`;

const SESSION_COOKIE = 'onedav-session';
const SIGN_IN_COOKIE = 'onedav-sign-in';
/** A sign-in must come back within this long (Entra's codes live 10 minutes). */
const SIGN_IN_TTL_MS = 10 * 60_000;
const MAX_FORM_BYTES = 16 * 1024;

/**
 * Strict by default: no script at all, only our one style (by hash), forms only to ourselves, never
 * framed (clickjacking on the "create password" and "revoke" buttons), no referrer to other sites (the callback URL
 * carries a code).
 */
const SECURITY_HEADERS: Record<string, string> = {
  ...pageHeaders(SITE_STYLE, { formAction: "'self'" }),
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export interface GatewaySiteOptions {
  people: People;
  drives: PersonDrives;
  signIns: SignInStore;
  audit: Audit;
  oidc: OidcSettings;
  cloud: Cloud;
  /** Resolved once (domains → tenant ids), on first use. */
  allowedTenants: () => Promise<ReadonlySet<string>>;
  issuerTemplate: () => Promise<string>;
  /** `https://dav.example.org`, no trailing slash. */
  publicUrl: string;
  /** Cookies get `Secure` (the public URL is HTTPS). */
  secureCookies: boolean;
  sessionMs: number;
  maxAppPasswords: number;
  clock: Clock;
  logger: Logger;
}

type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

export class GatewaySite {
  private readonly links: PageLinks = { base: SITE_PREFIX };
  private readonly origin: string;

  constructor(private readonly o: GatewaySiteOptions) {
    this.origin = new URL(o.publicUrl).origin;
  }

  owns(url: string | undefined): boolean {
    const path = (url ?? '').split('?')[0];
    return path === SITE_PREFIX.slice(0, -1) || path.startsWith(SITE_PREFIX);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const method = (req.method ?? 'GET').toUpperCase();
    const sub = url.pathname.slice(SITE_PREFIX.length);
    if (url.pathname === SITE_PREFIX.slice(0, -1)) return this.redirect(res, SITE_PREFIX);
    const routes: Record<string, Partial<Record<string, Route>>> = {
      '': { GET: (q, s) => this.home(q, s), HEAD: (q, s) => this.home(q, s) },
      'sign-in': { GET: (q, s) => this.startSignIn(q, s) },
      callback: { GET: (q, s, u) => this.callback(q, s, u) },
      passwords: { POST: (q, s) => this.createPassword(q, s) },
      'passwords/revoke': { POST: (q, s) => this.revokePassword(q, s) },
      'sign-out': { POST: (q, s) => this.signOut(q, s) },
    };
    const route = Object.hasOwn(routes, sub) ? routes[sub] : undefined;
    try {
      if (!route) return this.html(res, 404, errorPage(this.links, 'Not found', 'There is no such page on this site.'));
      const handler = route[method];
      if (!handler) {
        req.resume();
        return this.html(res, 405, errorPage(this.links, 'Not allowed', `${method} is not used here.`), { Allow: Object.keys(route).join(', ') });
      }
      await handler(req, res, url);
    } catch (err) {
      this.o.logger.error('sign-in site request failed', { method, path: url.pathname, error: err as Error });
      if (!res.headersSent) this.html(res, 500, errorPage(this.links, 'Something went wrong', 'The server could not finish this request; try again in a moment.'));
      else res.destroy();
    }
  }

  private async home(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const signedIn = await this.session(req);
    if (!signedIn) return this.html(res, 200, signedOutPage(this.links));
    return this.html(res, 200, accountPage(this.links, { person: signedIn.person, webdavUrl: `${this.o.publicUrl}/`, csrf: signedIn.session.csrf }));
  }

  /** Off to Microsoft, with a fresh state (single use, bound to this browser by a cookie), nonce and PKCE verifier. */
  private async startSignIn(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    const state = newState();
    const nonce = randomBytes(16).toString('base64url');
    const browser = randomBytes(24).toString('base64url');
    const pkce = newPkcePair();
    await this.o.people.savePending(hashId(state), { verifier: pkce.verifier, nonce, browser: hashId(browser), createdAt: this.o.clock.now() }, SIGN_IN_TTL_MS);
    res.setHeader('Set-Cookie', this.cookie(SIGN_IN_COOKIE, browser, SIGN_IN_TTL_MS));
    this.redirect(res, authorizeUrl(this.o.oidc, { state, nonce, challenge: pkce.challenge }), 302);
  }

  private async callback(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const q = url.searchParams;
    const state = q.get('state');
    const refuse = (status: number, message: string) => this.html(res, status, signedOutPage(this.links, message), { 'Set-Cookie': this.cookie(SIGN_IN_COOKIE, '', 0) });
    // Taken, not read: a state works once, however the answer is replayed.
    const pending = state ? await this.o.people.takePending(hashId(state)) : undefined;
    if (!pending) return refuse(400, 'This sign-in answer was already used or has expired. Sign in again.');
    const browser = cookiesOf(req)[SIGN_IN_COOKIE];
    if (!browser || !sameText(hashId(browser), pending.browser)) return refuse(400, 'This sign-in was started in another browser. Sign in again here.');
    const error = q.get('error');
    if (error) return refuse(400, `Microsoft did not sign you in: ${(q.get('error_description') ?? error).split(/\r?\n/)[0]}`);
    const code = q.get('code');
    if (!code) return refuse(400, 'Microsoft sent no authorization code. Sign in again.');

    let tokens;
    try {
      tokens = await redeemCode(this.o.oidc, code, pending.verifier);
    } catch (err) {
      if (err instanceof OAuthError || err instanceof TransientAuthError) {
        this.o.logger.warn('sign-in code redemption failed', { error: err.message });
        return refuse(502, `Microsoft refused the sign-in: ${err.message}`);
      }
      throw err;
    }
    const now = this.o.clock.now();
    let who;
    try {
      who = checkIdToken(tokens.id_token, { clientId: this.o.oidc.clientId, nonce: pending.nonce, issuerTemplate: await this.o.issuerTemplate(), allowedTenants: await this.o.allowedTenants(), nowMs: now });
    } catch (err) {
      if (!(err instanceof IdTokenRejected)) throw err;
      const claims = JSON.parse(Buffer.from((tokens.id_token ?? '..').split('.')[1] ?? '', 'base64url').toString() || '{}') as Record<string, unknown>;
      this.o.audit.event('sign-in refused', { upn: String(claims.preferred_username ?? ''), tid: String(claims.tid ?? '') }, { reason: err.message });
      return refuse(403, err.message);
    }
    if (!tokens.refresh_token) return refuse(502, 'Microsoft gave no refresh token (is offline_access among the app’s permissions?).');

    const record: StoredAccount = {
      version: 1,
      account: accountOf(who.oid),
      cloud: this.o.cloud.name,
      loginUrl: this.o.cloud.loginUrl,
      graphBaseUrl: this.o.cloud.graphBaseUrl,
      graphResource: this.o.cloud.graphResource,
      tenant: who.tid,
      tenantId: who.tid,
      clientId: this.o.oidc.clientId,
      clientType: 'confidential',
      flow: 'interactive',
      scopes: this.o.oidc.scopes,
      accountType: 'organizational',
      user: { upn: who.upn, name: who.name, id: who.oid },
      refreshToken: tokens.refresh_token,
      accessToken: tokens.access_token,
      expiresAt: now + tokens.expires_in * 1000,
      obtainedAt: now,
    };
    await this.o.signIns.save(record);
    const person = await this.o.people.update(who.oid, (p) => ({
      oid: who.oid,
      tid: who.tid,
      upn: who.upn,
      name: who.name,
      signedInAt: now,
      lastSeenAt: p?.lastSeenAt,
      appPasswords: p?.appPasswords ?? [],
      sessions: p?.sessions ?? [],
    }));
    await this.o.drives.forget(who.oid);
    // A new session id at every sign-in (no fixation); the browser's old one ends.
    const old = cookiesOf(req)[SESSION_COOKIE];
    if (old) await this.o.people.endSession(hashId(old));
    const id = randomBytes(32).toString('base64url');
    const session: SiteSession = { oid: who.oid, csrf: randomBytes(32).toString('base64url'), createdAt: now, expiresAt: now + this.o.sessionMs };
    await this.o.people.saveSession(hashId(id), session, this.o.sessionMs);
    this.o.audit.event('signed in', person ?? who);
    res.setHeader('Set-Cookie', [this.cookie(SESSION_COOKIE, id, this.o.sessionMs), this.cookie(SIGN_IN_COOKIE, '', 0)]);
    this.redirect(res, SITE_PREFIX);
  }

  private async createPassword(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const posted = await this.postedForm(req, res);
    if (!posted) return;
    const { form, person } = posted;
    const name = (form.get('name') ?? '').trim().slice(0, 60);
    const view = { person, webdavUrl: `${this.o.publicUrl}/`, csrf: posted.session.csrf };
    if (!name) return this.html(res, 400, accountPage(this.links, { ...view, message: 'Give the app password a name, such as the device it is for.' }));
    if (person.appPasswords.length >= this.o.maxAppPasswords) {
      return this.html(res, 400, accountPage(this.links, { ...view, message: `You have ${person.appPasswords.length} app passwords, the most allowed: revoke one you no longer use first.` }));
    }
    const password = newAppPassword();
    const record = { id: newId(), name, hash: await hashPassword(password), createdAt: this.o.clock.now() };
    const updated = await this.o.people.update(person.oid, (p) => p && { ...p, appPasswords: [...p.appPasswords, record] });
    if (!updated) return this.redirect(res, SITE_PREFIX);
    this.o.audit.event('app password created', updated, { label: name, labelId: record.id });
    this.html(res, 200, accountPage(this.links, { ...view, person: updated, created: { name, password } }));
  }

  private async revokePassword(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const posted = await this.postedForm(req, res);
    if (!posted) return;
    const id = posted.form.get('id') ?? '';
    const gone = posted.person.appPasswords.find((p) => p.id === id);
    if (gone) {
      const updated = await this.o.people.update(posted.person.oid, (p) => p && { ...p, appPasswords: p.appPasswords.filter((x) => x.id !== id) });
      this.o.audit.event('app password revoked', updated ?? posted.person, { label: gone.name, labelId: gone.id });
    }
    this.redirect(res, SITE_PREFIX);
  }

  private async signOut(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const posted = await this.postedForm(req, res);
    if (!posted) return;
    await this.o.people.endSession(posted.sessionHash);
    this.o.audit.event('signed out', posted.person);
    this.html(res, 200, signedOutPage(this.links, 'You are signed out of this site. Your app passwords keep working until you revoke them.'), { 'Set-Cookie': this.cookie(SESSION_COOKIE, '', 0) });
  }

  /**
   * A form post from a signed-in browser: same origin (Origin header, where sent), a session, and the
   * session's synchronizer token in the form. Answers the refusal itself and returns undefined.
   */
  private async postedForm(req: IncomingMessage, res: ServerResponse): Promise<{ form: URLSearchParams; person: Person; session: SiteSession; sessionHash: string } | undefined> {
    const origin = req.headers.origin;
    if ((origin && origin !== this.origin) || req.headers['sec-fetch-site'] === 'cross-site') {
      req.resume();
      this.html(res, 403, errorPage(this.links, 'Refused', 'This form was sent from another site.'));
      return undefined;
    }
    const form = await readForm(req);
    if (!form) {
      this.html(res, 413, errorPage(this.links, 'Refused', 'That form was too large.'));
      return undefined;
    }
    const signedIn = await this.session(req);
    if (!signedIn) {
      this.html(res, 403, signedOutPage(this.links, 'Your session has ended. Sign in again.'));
      return undefined;
    }
    const token = form.get('csrf') ?? '';
    if (!sameText(token, signedIn.session.csrf)) {
      this.html(res, 403, errorPage(this.links, 'Refused', 'This form has expired or did not come from this page. Go back, reload the page and try again.'));
      return undefined;
    }
    return { form, ...signedIn };
  }

  private async session(req: IncomingMessage): Promise<{ person: Person; session: SiteSession; sessionHash: string } | undefined> {
    const id = cookiesOf(req)[SESSION_COOKIE];
    if (!id) return undefined;
    const sessionHash = hashId(id);
    const session = await this.o.people.getSession(sessionHash);
    if (!session || session.expiresAt <= this.o.clock.now()) return undefined;
    const person = await this.o.people.get(session.oid);
    if (!person || !person.sessions.includes(sessionHash)) return undefined;
    return { person, session, sessionHash };
  }

  private cookie(name: string, value: string, maxAgeMs: number): string {
    // Only the site's own path: WebDAV requests (and files served from the drive) never carry it.
    const parts = [`${name}=${value}`, `Path=${SITE_PREFIX}`, 'HttpOnly', 'SameSite=Lax', `Max-Age=${Math.floor(maxAgeMs / 1000)}`];
    if (this.o.secureCookies) parts.push('Secure');
    return parts.join('; ');
  }

  private html(res: ServerResponse, status: number, body: string, headers: Record<string, string | string[]> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  private redirect(res: ServerResponse, location: string, status = 303): void {
    res.writeHead(status, { ...SECURITY_HEADERS, Location: location, 'Content-Length': 0 });
    res.end();
  }
}

function cookiesOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      const name = part.slice(0, eq).trim();
      if (!(name in out)) out[name] = part.slice(eq + 1).trim();
    }
  }
  return out;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
