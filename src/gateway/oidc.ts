import { endpointsOf, scopesForRequest } from '../auth/endpoints.js';
import { fetchOpenIdConfiguration } from '../auth/discovery.js';
import { postForm, type IdentityHttpOptions, type TokenResponse } from '../auth/identity-http.js';
import { readIdTokenClaims } from '../auth/jwt.js';
import type { Cloud } from '../auth/clouds.js';

/**
 * The site's side of the OpenID Connect authorization code flow with PKCE, as a confidential web app
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow): the authorize URL
 * with state, nonce, code_challenge and `prompt=select_account`; the code redeemed with the client
 * secret and the verifier; the id token checked before anyone is signed in.
 */
export interface OidcSettings {
  cloud: Cloud;
  /** Tenant segment of the authority (a tenant, or `organizations`). */
  authority: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** Delegated Graph permissions (short names); `openid profile` are added. */
  scopes: string[];
  http?: IdentityHttpOptions;
}

export function requestScopes(settings: OidcSettings): string[] {
  const wanted = [...settings.scopes];
  for (const s of ['openid', 'profile', 'offline_access']) if (!wanted.includes(s)) wanted.push(s);
  return scopesForRequest(wanted, settings.cloud.graphResource);
}

export function authorizeUrl(settings: OidcSettings, p: { state: string; nonce: string; challenge: string }): string {
  const url = new URL(endpointsOf(settings.cloud.loginUrl, settings.authority).authorize);
  const params: Record<string, string> = {
    client_id: settings.clientId,
    response_type: 'code',
    redirect_uri: settings.redirectUri,
    response_mode: 'query',
    scope: requestScopes(settings).join(' '),
    state: p.state,
    nonce: p.nonce,
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    // An office PC or a shared browser may hold someone else's session: let the person choose (docs: "prompt").
    prompt: 'select_account',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

export function redeemCode(settings: OidcSettings, code: string, verifier: string): Promise<TokenResponse> {
  return postForm(
    endpointsOf(settings.cloud.loginUrl, settings.authority).token,
    {
      grant_type: 'authorization_code',
      client_id: settings.clientId,
      client_secret: settings.clientSecret,
      code,
      redirect_uri: settings.redirectUri,
      code_verifier: verifier,
      scope: requestScopes(settings).join(' '),
    },
    settings.http,
  );
}

export interface SignedInIdentity {
  oid: string;
  tid: string;
  upn: string;
  name?: string;
}

export class IdTokenRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdTokenRejected';
  }
}

/**
 * Checks the id token as OpenID Connect Core 3.1.3.7 asks: `aud` is our client id, `iss` is the
 * issuer of the token's own tenant (the authority's metadata with `{tenantid}` filled in, as
 * https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference says multi-tenant
 * apps must), `tid` is an allowed tenant, `nonce` is the one this sign-in sent, and it has not
 * expired. The signature is not checked: the token came straight from the token endpoint over TLS,
 * which Core 3.1.3.7 (6) accepts in place of it.
 */
export function checkIdToken(idToken: string | undefined, expected: { clientId: string; nonce: string; issuerTemplate: string; allowedTenants: ReadonlySet<string>; nowMs: number }): SignedInIdentity {
  const claims = readIdTokenClaims(idToken);
  if (!claims) throw new IdTokenRejected('Microsoft sent no readable id token.');
  const str = (k: string) => (typeof claims[k] === 'string' ? (claims[k] as string) : undefined);
  const tid = str('tid')?.toLowerCase();
  if (str('aud') !== expected.clientId) throw new IdTokenRejected('The id token was made for another app.');
  if (!tid || !expected.allowedTenants.has(tid)) throw new IdTokenRejected('Your organisation is not one this onedav serves. Ask your administrator which account to use.');
  if (str('iss') !== expected.issuerTemplate.replace('{tenantid}', tid)) throw new IdTokenRejected('The id token does not come from your organisation’s issuer.');
  if (str('nonce') !== expected.nonce) throw new IdTokenRejected('The sign-in answer does not belong to this sign-in (nonce mismatch). Start again.');
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= expected.nowMs) throw new IdTokenRejected('The id token has expired. Start again.');
  const oid = str('oid');
  const upn = str('preferred_username') ?? str('upn');
  if (!oid || !upn) throw new IdTokenRejected('The id token does not say who signed in (no oid or preferred_username).');
  return { oid: oid.toLowerCase(), tid, upn, name: str('name') };
}

/** Tenant ids of the allowed tenants: GUIDs as they are, domains through their OpenID configuration. */
export async function resolveTenantIds(cloud: Cloud, tenants: readonly string[], http?: IdentityHttpOptions): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const t of tenants) {
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(t)) {
      ids.add(t.toLowerCase());
      continue;
    }
    const facts = await fetchOpenIdConfiguration(cloud.loginUrl, t, http);
    if (!facts.tenantId) throw new Error(`gateway.tenants: "${t}" has no tenant id in its OpenID configuration`);
    ids.add(facts.tenantId);
  }
  return ids;
}

/** The v2.0 issuer of the authority, `{tenantid}` left in for multi-tenant authorities. */
export async function issuerTemplateOf(cloud: Cloud, authority: string, http?: IdentityHttpOptions): Promise<string> {
  const facts = await fetchOpenIdConfiguration(cloud.loginUrl, authority, http);
  if (!facts.issuer) throw new Error(`The OpenID configuration of ${authority} names no issuer`);
  // A single-tenant authority's issuer names its tenant: put the placeholder back so one check fits both.
  return facts.tenantId ? facts.issuer.replace(facts.tenantId, '{tenantid}') : facts.issuer;
}
