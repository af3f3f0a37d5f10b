import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';
import type { EmulatedClientType } from './client-auth.js';

/** An authorization code waiting to be redeemed. */
export interface AuthCodeRecord {
  hash: string;
  clientId: string;
  redirectUri: string;
  /** Set by the platform of the redirect URI the code was issued to. */
  clientType: EmulatedClientType;
  userId: string;
  tenantId: string;
  scopes: string[];
  codeChallenge?: string;
  codeChallengeMethod?: 'S256' | 'plain';
  nonce?: string;
  expiresAt: number;
  redeemed: boolean;
}

export type DeviceCodeStatus = 'pending' | 'approved' | 'declined' | 'redeemed';

export interface DeviceCodeRecord {
  hash: string;
  userCode: string;
  clientId: string;
  /** The tenant path segment the flow started at: an id, a domain, common, organizations or consumers. */
  tenantSegment: string;
  scopes: string[];
  expiresAt: number;
  intervalSec: number;
  lastPollAt?: number;
  status: DeviceCodeStatus;
  userId?: string;
}

/** One refresh token, kept only as a hash. */
export interface RefreshTokenRecord {
  hash: string;
  clientId: string;
  userId: string;
  tenantId: string;
  scopes: string[];
  issuedAt: number;
  expiresAt: number;
  revokedAt?: number;
  /** The client type of the sign-in that issued it; redeeming it needs the same (absent in older state files: the app's fallback). */
  clientType?: EmulatedClientType;
}

export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials' | 'device_code';

export interface IdentityStats {
  /** Tokens issued, by grant type. */
  grants: Record<GrantType, number>;
  /** Failed token requests, by OAuth error string. */
  failures: Record<string, number>;
  /** Tokens issued, by how the client authenticated: none (public client) or with its secret. */
  clientAuthentication: { none: number; secret: number };
}

interface PersistedState {
  version: 1;
  authCodes: AuthCodeRecord[];
  deviceCodes: DeviceCodeRecord[];
  refreshTokens: RefreshTokenRecord[];
}

export function hashSecret(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Opaque, URL-safe, long: the shape of Entra ID codes and refresh tokens. */
export function newOpaqueToken(prefix: string, bytes = 48): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ23456789';

export function newUserCode(): string {
  const bytes = randomBytes(9);
  return Array.from(bytes, (b) => USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length]).join('');
}

function emptyStats(): IdentityStats {
  return { grants: { authorization_code: 0, refresh_token: 0, client_credentials: 0, device_code: 0 }, failures: {}, clientAuthentication: { none: 0, secret: 0 } };
}

/**
 * Codes and refresh tokens of the identity emulator. Persisted (as hashes) to `identity.json` in the
 * data folder when there is one: every change schedules one coalesced atomic write.
 */
export class IdentityStore {
  readonly authCodes = new Map<string, AuthCodeRecord>();
  readonly deviceCodes = new Map<string, DeviceCodeRecord>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private counts = emptyStats();
  private writing: Promise<void> | null = null;
  private dirty = false;

  constructor(private readonly dataDir: string | undefined) {}

  private get file(): string | undefined {
    return this.dataDir ? join(this.dataDir, 'identity.json') : undefined;
  }

  get stats(): IdentityStats {
    return { grants: { ...this.counts.grants }, failures: { ...this.counts.failures }, clientAuthentication: { ...this.counts.clientAuthentication } };
  }

  resetStats(): void {
    this.counts = emptyStats();
  }

  countGrant(type: GrantType, withSecret: boolean): void {
    this.counts.grants[type]++;
    this.counts.clientAuthentication[withSecret ? 'secret' : 'none']++;
  }

  countFailure(error: string): void {
    this.counts.failures[error] = (this.counts.failures[error] ?? 0) + 1;
  }

  findDeviceCodeByUserCode(userCode: string): DeviceCodeRecord | undefined {
    const wanted = userCode.replace(/[\s-]/g, '').toUpperCase();
    for (const record of this.deviceCodes.values()) if (record.userCode === wanted) return record;
    return undefined;
  }

  /** Drops what expired long ago, so the state file stays small. */
  prune(now: number): void {
    const day = 24 * 3600 * 1000;
    for (const [key, code] of this.authCodes) if (code.expiresAt + day < now) this.authCodes.delete(key);
    for (const [key, code] of this.deviceCodes) if (code.expiresAt + day < now) this.deviceCodes.delete(key);
    for (const [key, rt] of this.refreshTokens) if (rt.expiresAt + day < now) this.refreshTokens.delete(key);
  }

  async load(): Promise<void> {
    if (!this.file) return;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const state = JSON.parse(text) as PersistedState;
    for (const code of state.authCodes ?? []) this.authCodes.set(code.hash, code);
    for (const code of state.deviceCodes ?? []) this.deviceCodes.set(code.hash, code);
    for (const rt of state.refreshTokens ?? []) this.refreshTokens.set(rt.hash, rt);
  }

  /** Schedules a write; callers never wait for it (flush() does). */
  changed(): void {
    if (!this.file) return;
    this.dirty = true;
    if (!this.writing) this.writing = this.writeLoop();
  }

  async flush(): Promise<void> {
    if (!this.file) return;
    if (this.writing) await this.writing;
    if (this.dirty) {
      this.writing = this.writeLoop();
      await this.writing;
    }
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const state: PersistedState = {
          version: 1,
          authCodes: [...this.authCodes.values()],
          deviceCodes: [...this.deviceCodes.values()],
          refreshTokens: [...this.refreshTokens.values()],
        };
        await writeFileAtomic(this.file as string, JSON.stringify(state));
      }
    } finally {
      this.writing = null;
    }
  }
}
