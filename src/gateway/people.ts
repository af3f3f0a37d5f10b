import { createHash } from 'node:crypto';
import { KeyedMutex } from '../util/keyed-mutex.js';
import type { GatewayKv } from './kv.js';

/** One app password: only its scrypt hash is kept (the password itself is shown once, at creation). */
export interface AppPasswordRecord {
  id: string;
  /** What the person called it ("laptop", "phone"). */
  name: string;
  /** `scrypt$N$r$p$salt$hash` (dav/access/passwords.ts). */
  hash: string;
  createdAt: number;
  lastUsedAt?: number;
}

/** A person who signed in on the site. Their tokens live in the sign-in store under `accountOf(oid)`. */
export interface Person {
  /** Entra object id (`oid`): stable across renames. */
  oid: string;
  /** Tenant id (`tid`). */
  tid: string;
  /** User principal name, as the id token's `preferred_username` gave it: the WebDAV user name. */
  upn: string;
  name?: string;
  signedInAt: number;
  /** Last WebDAV request (epoch ms, to the minute). */
  lastSeenAt?: number;
  /** Set when Microsoft refused the person's refresh token: WebDAV answers 401 until they sign in again. */
  signInRequired?: string;
  appPasswords: AppPasswordRecord[];
  /** Hashes of the ids of their browser sessions on the site (revoking a person ends them). */
  sessions: string[];
}

export interface SiteSession {
  oid: string;
  /** Synchronizer token every form of this session carries. */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

/** A sign-in on its way to Microsoft and back; taken (single use) by the callback. */
export interface PendingSignIn {
  verifier: string;
  nonce: string;
  /** Hash of the cookie that binds the sign-in to the browser that started it. */
  browser: string;
  createdAt: number;
}

/** The sign-in store account name of a person's tokens. */
export function accountOf(oid: string): string {
  return `person:${oid}`;
}

export function hashId(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** People, their sessions and sign-ins under way, on a GatewayKv. */
export class People {
  private readonly mutex = new KeyedMutex();
  private pendingSaves = 0;

  constructor(readonly kv: GatewayKv) {}

  get(oid: string): Promise<Person | undefined> {
    return this.kv.get<Person>(`person:${oid}`);
  }

  async byUpn(upn: string): Promise<Person | undefined> {
    const oid = await this.kv.get<string>(`upn:${upn.toLowerCase()}`);
    return oid ? this.get(oid) : undefined;
  }

  async list(): Promise<Person[]> {
    const keys = await this.kv.keys('person:');
    const people = await Promise.all(keys.map((k) => this.kv.get<Person>(k)));
    return people.filter((p): p is Person => !!p).sort((a, b) => a.upn.localeCompare(b.upn));
  }

  /** Read-modify-write of one person, one at a time in this process; `change` returns false to skip the write. */
  update(oid: string, change: (person: Person | undefined) => Person | undefined | false): Promise<Person | undefined> {
    return this.mutex.run(oid, async () => {
      const before = await this.get(oid);
      const after = change(before ? structuredClone(before) : undefined);
      if (after === false) return before;
      if (!after) {
        await this.kv.delete(`person:${oid}`);
        if (before) await this.kv.delete(`upn:${before.upn.toLowerCase()}`);
        return undefined;
      }
      await this.kv.set(`person:${oid}`, after);
      if (before && before.upn.toLowerCase() !== after.upn.toLowerCase()) await this.kv.delete(`upn:${before.upn.toLowerCase()}`);
      await this.kv.set(`upn:${after.upn.toLowerCase()}`, oid);
      return after;
    });
  }

  getSession(idHash: string): Promise<SiteSession | undefined> {
    return this.kv.get<SiteSession>(`session:${idHash}`);
  }

  async saveSession(idHash: string, session: SiteSession, ttlMs: number): Promise<void> {
    await this.kv.set(`session:${idHash}`, session, ttlMs);
    await this.update(session.oid, (p) => p && { ...p, sessions: [...p.sessions.filter((s) => s !== idHash), idHash] });
  }

  async endSession(idHash: string): Promise<void> {
    const session = await this.getSession(idHash);
    await this.kv.delete(`session:${idHash}`);
    if (session) await this.update(session.oid, (p) => p && { ...p, sessions: p.sessions.filter((s) => s !== idHash) });
  }

  /** Ends every session of a person (the record itself is left to the caller). */
  async endSessionsOf(person: Person): Promise<void> {
    for (const id of person.sessions) await this.kv.delete(`session:${id}`);
  }

  async savePending(stateHash: string, pending: PendingSignIn, ttlMs: number): Promise<void> {
    await this.kv.set(`pending:${stateHash}`, pending, ttlMs);
    // Sign-ins nobody finished would pile up in the file store (Redis expires them itself): now and then, drop the expired ones.
    if (++this.pendingSaves % 50 === 0) for (const key of await this.kv.keys('pending:')) await this.kv.get(key);
  }

  takePending(stateHash: string): Promise<PendingSignIn | undefined> {
    return this.kv.take<PendingSignIn>(`pending:${stateHash}`);
  }
}
