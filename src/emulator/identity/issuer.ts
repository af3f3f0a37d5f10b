import { createHmac, randomUUID } from 'node:crypto';
import type { SharedState } from '../context.js';
import type { User } from '../directory.js';
import type { EmulatedClientType } from './client-auth.js';
import { hashSecret, newOpaqueToken, type IdentityStore } from './store.js';
import { APP_ROLES, type ParsedScopes } from './tenancy.js';

export interface DelegatedGrant {
  user: User;
  clientId: string;
  scopes: ParsedScopes;
  /** How the client authenticated; its refresh token is bound to the same client type. */
  clientType: EmulatedClientType;
  nonce?: string;
}

/** Mints the tokens of a successful grant and shapes the token response as Entra ID does. */
export class TokenIssuer {
  constructor(
    private readonly shared: SharedState,
    private readonly store: IdentityStore,
  ) {}

  delegated(grant: DelegatedGrant): Record<string, unknown> {
    const { settings, tokens } = this.shared;
    const lifetime = settings.accessTokenLifetimeSec;
    const access = tokens.issue(
      { tenantId: grant.user.tenantId, clientId: grant.clientId, userId: grant.user.id, scopes: grant.scopes.graph, appOnly: false },
      lifetime,
    );
    const body: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: grant.scopes.all.filter((s) => s !== 'offline_access').join(' '),
      expires_in: access.expiresIn,
      ext_expires_in: access.expiresIn,
      access_token: access.token,
    };
    if (grant.scopes.offlineAccess) body.refresh_token = this.newRefreshToken(grant.user, grant.clientId, grant.scopes.all, grant.clientType);
    if (grant.scopes.openid) body.id_token = this.idToken(grant.user, grant.clientId, grant.nonce);
    return body;
  }

  appOnly(tenantId: string, clientId: string): Record<string, unknown> {
    const lifetime = this.shared.settings.accessTokenLifetimeSec;
    const access = this.shared.tokens.issue({ tenantId, clientId, scopes: APP_ROLES, appOnly: true }, lifetime);
    return { token_type: 'Bearer', expires_in: access.expiresIn, ext_expires_in: access.expiresIn, access_token: access.token };
  }

  newRefreshToken(user: User, clientId: string, scopes: string[], clientType: EmulatedClientType): string {
    const token = newOpaqueToken('0.AR', 96);
    const now = this.shared.clock.now();
    this.store.refreshTokens.set(hashSecret(token), {
      hash: hashSecret(token),
      clientId,
      userId: user.id,
      tenantId: user.tenantId,
      scopes,
      clientType,
      issuedAt: now,
      expiresAt: now + this.shared.settings.refreshTokenLifetimeSec * 1000,
    });
    this.store.changed();
    return token;
  }

  /** A v2.0 id token; HS256 with the emulator key (clients read it, they don't verify it). */
  idToken(user: User, clientId: string, nonce?: string): string {
    const now = Math.floor(this.shared.clock.now() / 1000);
    const claims: Record<string, unknown> = {
      aud: clientId,
      iss: `${this.shared.baseUrl}/${user.tenantId}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + 3600,
      name: user.displayName,
      oid: user.id,
      preferred_username: user.userPrincipalName,
      sub: hashSecret(`${user.id}:${clientId}`).slice(0, 43),
      tid: user.tenantId,
      uti: randomUUID(),
      ver: '2.0',
    };
    if (nonce) claims.nonce = nonce;
    const head = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256', kid: 'emulator' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const sig = createHmac('sha256', this.shared.tokens.signingKey).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${sig}`;
  }
}
