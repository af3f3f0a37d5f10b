import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../../util/clock.js';
import { LoginThrottle, type FailedLoginCounter, type LoginThrottleOptions } from './login-throttle.js';
import { hashPassword, parsePasswordHash, verifyPassword } from './passwords.js';
import { parseConfiguredRoot } from '../protocol/paths.js';
import type { MountTable } from '../http/mounts.js';

/** Who is asking: a configured user, or the anonymous visitor. */
export interface Principal {
  name: string;
  anonymous: boolean;
  /** Segments of the folder inside each mount that this principal sees as `/`. */
  root: string[];
  readOnly: boolean;
  /** This principal's own drives (a gateway person: their OneDrive at `/`); the server's mounts when absent. */
  mounts?: MountTable;
  /** Where this principal signs in again when their drive needs it (gateway people). */
  signInPage?: string;
}

/**
 * People whose passwords live outside the config (the gateway's app passwords). Consulted for names
 * that are not configured users; the answer is undefined when the name is not one of them.
 */
export interface PeoplePasswords {
  check(name: string, password: string): Promise<AuthResult | undefined>;
}

export interface DavUser {
  name: string;
  /** scrypt hash (see passwords.ts). */
  password: string;
  root?: string;
  readOnly?: boolean;
}

export interface AnonymousAccess {
  enabled: boolean;
  readOnly: boolean;
}

export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'missing' | 'invalid' | 'malformed' }
  /** The password is right, but the person's Microsoft sign-in is gone; `message` says where to sign in again. */
  | { ok: false; reason: 'signInAgain'; message: string }
  /** Too many failed logins from this address lately (see LoginThrottle). */
  | { ok: false; reason: 'throttled'; retryAfterSeconds: number };

const CACHE_TTL_MS = 10 * 60 * 1000;

/**
 * HTTP Basic authentication against scrypt hashes. scrypt is deliberately slow (tens of ms), and
 * WebDAV clients send credentials with every request, so a successful check is remembered for a
 * while as an HMAC of the credentials under a per-process random key (never the password itself);
 * the remembered value is compared in constant time. Unknown users cost the same scrypt work as
 * known ones, so timing does not reveal which names exist. Failed logins are counted per client
 * address (LoginThrottle): guessing is cut off with 429 after a few tries a minute.
 */
export class BasicAuthenticator {
  private readonly users = new Map<string, DavUser & { rootSegments: string[] }>();
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, { mac: Buffer; until: number }>();
  private dummyHash: Promise<string> | undefined;
  private readonly throttle: FailedLoginCounter;

  constructor(
    users: readonly DavUser[],
    private readonly anonymousAccess: AnonymousAccess,
    private readonly clock: Clock,
    /** Options of the in-memory throttle, or a counter shared by several replicas. */
    throttle: LoginThrottleOptions | FailedLoginCounter = {},
    /** App passwords of gateway people, checked after the configured users under the same throttle. */
    private readonly people?: PeoplePasswords,
  ) {
    this.throttle = 'recordFailure' in throttle ? throttle : new LoginThrottle(clock, throttle);
    for (const user of users) {
      parsePasswordHash(user.password);
      this.users.set(user.name, { ...user, rootSegments: parseConfiguredRoot(user.root ?? '/') });
    }
  }

  get hasUsers(): boolean {
    return this.users.size > 0 || this.people !== undefined;
  }

  get anonymous(): AnonymousAccess {
    return this.anonymousAccess;
  }

  async authenticate(req: IncomingMessage): Promise<AuthResult> {
    const header = req.headers.authorization;
    if (!header) {
      if (this.anonymousAccess.enabled) return { ok: true, principal: { name: 'anonymous', anonymous: true, root: [], readOnly: this.anonymousAccess.readOnly } };
      return { ok: false, reason: 'missing' };
    }
    const address = req.socket.remoteAddress ?? 'unknown';
    const wait = await this.throttle.retryAfterSeconds(address);
    if (wait > 0) return { ok: false, reason: 'throttled', retryAfterSeconds: wait };
    const result = await this.check(header);
    if (!result.ok && result.reason !== 'signInAgain') await this.throttle.recordFailure(address);
    return result;
  }

  private async check(header: string): Promise<AuthResult> {
    const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
    if (!match) return { ok: false, reason: 'malformed' };
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return { ok: false, reason: 'malformed' };
    const name = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const user = this.users.get(name);
    if (!user && this.people) {
      const person = await this.people.check(name, password);
      if (person) return person;
    }
    if (!user) {
      await verifyPassword(password, await this.dummy()).catch(() => false);
      return { ok: false, reason: 'invalid' };
    }
    const mac = createHmac('sha256', this.cacheKey).update(name).update('\0').update(password).digest();
    const cached = this.verified.get(name);
    const now = this.clock.now();
    let good = cached !== undefined && cached.until > now && timingSafeEqual(cached.mac, mac);
    if (!good) {
      good = await verifyPassword(password, user.password);
      if (good) this.verified.set(name, { mac, until: now + CACHE_TTL_MS });
    }
    if (!good) return { ok: false, reason: 'invalid' };
    return { ok: true, principal: { name, anonymous: false, root: user.rootSegments, readOnly: user.readOnly ?? false } };
  }

  private dummy(): Promise<string> {
    const first = this.users.values().next().value;
    if (first) return Promise.resolve(first.password);
    return (this.dummyHash ??= hashPassword(randomBytes(16).toString('hex')));
  }
}

/** `WWW-Authenticate` value for 401 answers (RFC 7617, with the UTF-8 charset parameter). */
export function basicChallenge(realm: string): string {
  return `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"`;
}
