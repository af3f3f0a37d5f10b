import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../util/clock.js';

/** Who a Graph request acts for, read from its access token. */
export interface TokenPrincipal {
  tenantId: string;
  clientId: string;
  /** Delegated tokens carry the signed-in user; app-only (client credentials) tokens don't. */
  userId?: string;
  /** Delegated scopes (`scp`) or application roles (`roles`). */
  scopes: string[];
  appOnly: boolean;
}

export type TokenCheck = { ok: true; principal: TokenPrincipal } | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'invalid-signature' };

/**
 * Issues and checks access tokens. They are JWT-shaped (header.payload.signature, HS256 with a
 * per-emulator key) so a client that peeks at `exp` sees what it would see from Entra ID; the client
 * must still treat them as opaque. Expiry follows the injected clock.
 */
export class AccessTokenAuthority {
  private readonly key: Buffer;

  constructor(
    private readonly clock: Clock,
    key?: Buffer,
  ) {
    this.key = key ?? randomBytes(32);
  }

  get signingKey(): Buffer {
    return this.key;
  }

  issue(principal: TokenPrincipal, lifetimeSeconds: number, audience = 'https://graph.microsoft.com'): { token: string; expiresIn: number } {
    const nowSec = Math.floor(this.clock.now() / 1000);
    const payload: Record<string, unknown> = {
      aud: audience,
      iss: `https://sts.windows.net/${principal.tenantId}/`,
      iat: nowSec,
      nbf: nowSec,
      exp: nowSec + lifetimeSeconds,
      tid: principal.tenantId,
      appid: principal.clientId,
      uti: randomUUID(),
      ver: '1.0',
    };
    if (principal.userId) payload.oid = principal.userId;
    if (principal.appOnly) payload.roles = principal.scopes;
    else payload.scp = principal.scopes.join(' ');
    const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));
    const body = b64url(JSON.stringify(payload));
    const sig = this.sign(`${head}.${body}`);
    return { token: `${head}.${body}.${sig}`, expiresIn: lifetimeSeconds };
  }

  /** Checks an `Authorization` header value. */
  check(authorization: string | undefined): TokenCheck {
    if (!authorization) return { ok: false, reason: 'missing' };
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) return { ok: false, reason: 'malformed' };
    const parts = match[1].split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    const expected = Buffer.from(this.sign(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'invalid-signature' };
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (typeof payload.exp !== 'number' || payload.exp * 1000 <= this.clock.now()) return { ok: false, reason: 'expired' };
    const appOnly = Array.isArray(payload.roles);
    return {
      ok: true,
      principal: {
        tenantId: String(payload.tid),
        clientId: String(payload.appid),
        userId: typeof payload.oid === 'string' ? payload.oid : undefined,
        scopes: appOnly ? (payload.roles as string[]) : String(payload.scp ?? '').split(' ').filter(Boolean),
        appOnly,
      },
    };
  }

  private sign(data: string): string {
    return createHmac('sha256', this.key).update(data).digest('base64url');
  }
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
