import { createHash } from 'node:crypto';
import type { RequestContext, SharedState } from '../context.js';
import type { AppRegistration } from '../directory.js';
import { authenticateClient, delegatedClientType, fallbackClientType } from './client-auth.js';
import { AAD, aadTimestamp, sendIdentityError, sendIdentityJson, IdentityError } from './errors.js';
import type { TokenIssuer } from './issuer.js';
import { hashSecret, type GrantType, type IdentityStore } from './store.js';
import { checkUserFits, findApp, graphResources, parseDelegatedScopes, readPostedForm, type TenantScope } from './tenancy.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** `POST /{tenant}/oauth2/v2.0/token`: the four grants onedav uses, with Entra ID's errors. */
export async function handleToken(ctx: RequestContext, segment: string, shared: SharedState, store: IdentityStore, issuer: TokenIssuer): Promise<void> {
  const now = shared.clock.now();
  try {
    const { form, scope } = await readPostedForm(ctx, segment, shared.directory);
    const grantType = form.get('grant_type');
    if (!grantType) throw AAD.missingParameter('grant_type');
    const client = clientCredentialsOf(ctx, form);
    if (!client.clientId) throw AAD.missingParameter('client_id');
    const app = findApp(shared.directory, client.clientId, scope);
    const kind = grantKind(grantType);
    // Each grant authenticates the client once it knows the client type (the code's redirect platform, the refresh token's, or the app's fallback).
    const secret = client.secret;
    const body =
      kind === 'authorization_code'
        ? redeemCode(form, app, secret, scope, shared, store, issuer)
        : kind === 'refresh_token'
          ? redeemRefreshToken(form, app, secret, scope, shared, store, issuer)
          : kind === 'client_credentials'
            ? clientCredentials(form, app, secret, scope, shared, issuer)
            : redeemDeviceCode(form, app, secret, shared, store, issuer);
    store.countGrant(kind, !!secret);
    sendIdentityJson(ctx.res, 200, body);
  } catch (err) {
    if (!(err instanceof IdentityError)) throw err;
    store.countFailure(err.error);
    sendIdentityError(ctx.req, ctx.res, err, now, shared.baseUrl);
  }
}

function grantKind(grantType: string): GrantType {
  if (grantType === 'authorization_code' || grantType === 'refresh_token' || grantType === 'client_credentials') return grantType;
  if (grantType === DEVICE_CODE_GRANT) return 'device_code';
  throw AAD.unsupportedGrant(grantType);
}

/** client_secret_post and client_secret_basic, both of which Entra ID accepts. */
function clientCredentialsOf(ctx: RequestContext, form: URLSearchParams): { clientId?: string; secret?: string } {
  const header = ctx.req.headers.authorization;
  const basic = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw AAD.malformed();
    return { clientId: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  }
  return { clientId: form.get('client_id') ?? undefined, secret: form.get('client_secret') ?? undefined };
}

function userOf(shared: SharedState, userId: string) {
  const user = shared.directory.users.find((u) => u.id === userId);
  if (!user) throw AAD.grantMalformed();
  return user;
}

function redeemCode(form: URLSearchParams, app: AppRegistration, secret: string | undefined, scope: TenantScope, shared: SharedState, store: IdentityStore, issuer: TokenIssuer) {
  const code = form.get('code');
  if (!code) throw AAD.missingParameter('code');
  const record = store.authCodes.get(hashSecret(code));
  if (!record) throw AAD.malformed();
  // Checked before the code is burnt: a client turned away for its secret may retry with the same code (docs are silent).
  authenticateClient(app, record.clientId === app.clientId ? record.clientType : fallbackClientType(app), secret, 'authorization_code');
  if (record.redeemed) throw AAD.codeRedeemed();
  // Single use: any attempt past this point burns the code, successful or not.
  record.redeemed = true;
  store.changed();
  if (record.expiresAt <= shared.clock.now()) throw AAD.codeExpired();
  if (record.clientId !== app.clientId) throw AAD.grantMalformed();
  const redirectUri = form.get('redirect_uri');
  if (!redirectUri) throw AAD.missingParameter('redirect_uri');
  if (redirectUri !== record.redirectUri) throw AAD.codeRedirectMismatch();
  if (record.codeChallenge) {
    const verifier = form.get('code_verifier');
    if (!verifier) throw AAD.missingParameter('code_verifier');
    const derived = record.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
    if (derived !== record.codeChallenge) throw AAD.pkceMismatch();
  }
  const user = userOf(shared, record.userId);
  checkUserFits(shared.directory, scope, app, user);
  const requested = form.get('scope');
  const scopes = parseDelegatedScopes(requested ?? record.scopes.join(' '), shared.baseUrl);
  return issuer.delegated({ user, clientId: app.clientId, scopes, clientType: record.clientType, nonce: record.nonce });
}

function redeemRefreshToken(form: URLSearchParams, app: AppRegistration, secret: string | undefined, scope: TenantScope, shared: SharedState, store: IdentityStore, issuer: TokenIssuer) {
  const token = form.get('refresh_token');
  if (!token) throw AAD.missingParameter('refresh_token');
  const record = store.refreshTokens.get(hashSecret(token));
  if (!record) throw AAD.malformed();
  // A refresh is redeemed by the client type that signed in: a public client's refresh with a secret is AADSTS700025 (canonical/authd#1881).
  const clientType = record.clientType ?? delegatedClientType(app);
  authenticateClient(app, clientType, secret, 'refresh_token');
  const now = shared.clock.now();
  if (record.revokedAt !== undefined) throw AAD.refreshRevoked(aadTimestamp(record.issuedAt), aadTimestamp(record.revokedAt));
  if (record.expiresAt <= now) {
    const days = Math.round(shared.settings.refreshTokenLifetimeSec / 86400);
    throw AAD.refreshExpired(aadTimestamp(record.issuedAt), `${days}.00:00:00`);
  }
  if (record.clientId !== app.clientId) throw AAD.grantMalformed();
  if (scope.kind === 'tenant' && scope.tenant.id !== record.tenantId) throw AAD.grantMalformed();
  const user = userOf(shared, record.userId);
  const scopes = parseDelegatedScopes(form.get('scope') ?? record.scopes.join(' '), shared.baseUrl);
  // Refresh tokens are long-lived offline grants: a refresh always yields a successor.
  if (!scopes.offlineAccess) {
    scopes.all.push('offline_access');
    scopes.offlineAccess = true;
  }
  // Entra keeps the used token valid; the setting models a revocation it may do at any time (https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens).
  if (shared.settings.revokeRefreshTokenOnRotation) record.revokedAt = now;
  store.changed();
  return issuer.delegated({ user, clientId: app.clientId, scopes, clientType });
}

function clientCredentials(form: URLSearchParams, app: AppRegistration, secret: string | undefined, scope: TenantScope, shared: SharedState, issuer: TokenIssuer) {
  authenticateClient(app, fallbackClientType(app), secret, 'client_credentials');
  if (scope.kind !== 'tenant') throw AAD.noTenantForApp();
  const requested = form.get('scope');
  if (!requested) throw AAD.missingParameter('scope');
  const items = requested.split(/\s+/).filter(Boolean);
  for (const item of items) {
    if (!item.endsWith('/.default')) throw AAD.needsDefaultScope(item);
    const resource = item.slice(0, -'/.default'.length);
    if (!graphResources(shared.baseUrl).some((r) => r.toLowerCase() === resource.toLowerCase())) throw AAD.resourceNotFound(resource, scope.tenant.id);
  }
  return issuer.appOnly(scope.tenant.id, app.clientId);
}

function redeemDeviceCode(form: URLSearchParams, app: AppRegistration, secret: string | undefined, shared: SharedState, store: IdentityStore, issuer: TokenIssuer) {
  const code = form.get('device_code') ?? form.get('code');
  if (!code) throw AAD.missingParameter('device_code');
  const record = store.deviceCodes.get(hashSecret(code));
  if (!record) throw AAD.malformed();
  if (record.clientId !== app.clientId) throw AAD.grantMalformed();
  // No redirect URI here: "Allow public client flows" decides the client type.
  const clientType = fallbackClientType(app);
  authenticateClient(app, clientType, secret, 'device_code');
  const now = shared.clock.now();
  if (record.status === 'redeemed') throw AAD.codeRedeemed();
  if (record.expiresAt <= now) throw AAD.deviceCodeExpired();
  if (record.status === 'declined') throw AAD.deviceCodeDeclined();
  if (record.status === 'pending') {
    const last = record.lastPollAt;
    record.lastPollAt = now;
    if (last !== undefined && now - last < record.intervalSec * 1000) throw AAD.slowDown(record.intervalSec);
    throw AAD.authorizationPending();
  }
  record.status = 'redeemed';
  store.changed();
  const user = userOf(shared, record.userId as string);
  const scopes = parseDelegatedScopes(record.scopes.join(' '), shared.baseUrl);
  return issuer.delegated({ user, clientId: app.clientId, scopes, clientType });
}
