import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignInRequiredError } from '../auth/errors.js';
import type { AuthResult, PeoplePasswords } from '../dav/access/basic-auth.js';
import { hashPassword, verifyPassword } from '../dav/access/passwords.js';
import type { Clock } from '../util/clock.js';
import type { Audit } from './audit.js';
import type { People, Person } from './people.js';
import type { PersonDrives } from './person-drives.js';

/** A person's use is written back at most this often (a WebDAV client sends credentials with every request). */
const TOUCH_EVERY_MS = 60_000;
const CACHE_TTL_MS = 10 * 60_000;

/**
 * WebDAV Basic auth with `UPN + app password`. The password is checked against the person's scrypt
 * hashes; a success is remembered (as an HMAC, as BasicAuthenticator does) together with the id of
 * the password it matched, and the person's record is read on every request, so a revoked password
 * or a revoked person is refused at once. Unknown names cost one scrypt too.
 */
export class AppPasswordAuth implements PeoplePasswords {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, { mac: Buffer; id: string; until: number }>();
  private dummy: Promise<string> | undefined;

  constructor(
    private readonly people: People,
    private readonly drives: PersonDrives,
    private readonly audit: Audit,
    private readonly clock: Clock,
    private readonly signInPage: string,
  ) {}

  async check(name: string, password: string): Promise<AuthResult | undefined> {
    const person = name.includes('@') ? await this.people.byUpn(name) : undefined;
    if (!person) return undefined;
    const id = await this.match(person, name, password);
    if (!id) return { ok: false, reason: 'invalid' };
    if (person.signInRequired) return this.signInAgain();
    await this.touch(person, id);
    try {
      const mounts = await this.drives.tableFor(person);
      return { ok: true, principal: { name: person.upn, anonymous: false, root: [], readOnly: false, mounts, signInPage: this.signInPage } };
    } catch (err) {
      if (err instanceof SignInRequiredError) return this.signInAgain();
      throw err;
    }
  }

  private signInAgain(): AuthResult {
    return { ok: false, reason: 'signInAgain', message: `Your Microsoft sign-in has expired or was revoked. Sign in again at ${this.signInPage} (your app passwords keep working afterwards).` };
  }

  /** The id of the app password that matches, or undefined. */
  private async match(person: Person, name: string, password: string): Promise<string | undefined> {
    const key = name.toLowerCase();
    const mac = createHmac('sha256', this.cacheKey).update(key).update('\0').update(password).digest();
    const cached = this.verified.get(key);
    const now = this.clock.now();
    if (cached && cached.until > now && timingSafeEqual(cached.mac, mac) && person.appPasswords.some((p) => p.id === cached.id)) return cached.id;
    if (person.appPasswords.length === 0) {
      await verifyPassword(password, await (this.dummy ??= hashPassword(randomBytes(16).toString('hex')))).catch(() => false);
      return undefined;
    }
    for (const candidate of person.appPasswords) {
      if (await verifyPassword(password, candidate.hash).catch(() => false)) {
        this.verified.set(key, { mac, id: candidate.id, until: now + CACHE_TTL_MS });
        return candidate.id;
      }
    }
    return undefined;
  }

  private async touch(person: Person, id: string): Promise<void> {
    const now = this.clock.now();
    const used = person.appPasswords.find((p) => p.id === id);
    const stale = (t: number | undefined) => t === undefined || now - t >= TOUCH_EVERY_MS;
    if (!used || (!stale(used.lastUsedAt) && !stale(person.lastSeenAt))) return;
    const first = used.lastUsedAt === undefined;
    await this.people.update(person.oid, (p) => {
      if (!p) return false;
      const record = p.appPasswords.find((x) => x.id === id);
      if (record) record.lastUsedAt = now;
      p.lastSeenAt = now;
      return p;
    });
    if (first) this.audit.event('app password first used', person, { label: used.name });
  }
}
