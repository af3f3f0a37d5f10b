import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppRegistration } from '../directory.js';
import { AAD } from './errors.js';
import type { GrantType } from './store.js';
import { redirectUriMatches } from './tenancy.js';

/**
 * Public clients (desktop, CLI, device code) cannot keep a secret and must not present one;
 * confidential clients (web apps, daemons) must present theirs.
 * https://learn.microsoft.com/en-us/entra/identity-platform/msal-client-applications
 */
export type EmulatedClientType = 'public' | 'confidential';

/**
 * The platform of the registered redirect URI a request names decides the client type ("the behavior
 * associated with that redirect URI … web-, native-, or spa-type redirect").
 * https://learn.microsoft.com/en-us/entra/identity-platform/reply-url
 */
export function redirectClientType(app: AppRegistration, uri: string): EmulatedClientType | undefined {
  if (app.publicClientRedirectUris.some((r) => redirectUriMatches(r, uri))) return 'public';
  if (app.webRedirectUris.some((r) => redirectUriMatches(r, uri))) return 'confidential';
  return undefined;
}

/**
 * Where no redirect URI tells (device code, client credentials), "Allow public client flows"
 * (`isFallbackPublicClient`) does. https://learn.microsoft.com/en-us/graph/api/resources/application
 */
export function fallbackClientType(app: AppRegistration): EmulatedClientType {
  return app.isFallbackPublicClient ? 'public' : 'confidential';
}

/** The client type of a sign-in made outside the token endpoint (issueRefreshToken): the app's desktop platform if it has one. */
export function delegatedClientType(app: AppRegistration): EmulatedClientType {
  return app.publicClientRedirectUris.length > 0 ? 'public' : fallbackClientType(app);
}

/**
 * Client authentication at the token endpoint, as Entra ID answers it:
 * - a public client presenting a secret: 401 invalid_client AADSTS700025 (on code redemption:
 *   virtualzone/onedrive-uploader#30; on a device-code refresh: canonical/authd#1881; with an
 *   app-only assertion on an app with public client flows on: pnp/cli-microsoft365#948);
 * - a confidential client without one: 401 invalid_client AADSTS7000218, also for a device code on an app
 *   without public client flows (https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/app-integration/confidential-client-application-authentication-error-aadsts7000218);
 * - a wrong secret: 401 invalid_client AADSTS7000215;
 * - client credentials are a confidential flow: a public client without a secret has none to give (7000218).
 * An empty `client_secret=` counts as absent (docs are silent; it carries no credential either way).
 */
export function authenticateClient(app: AppRegistration, type: EmulatedClientType, secret: string | undefined, grant: GrantType): void {
  const presented = secret !== undefined && secret !== '';
  if (type === 'public') {
    if (presented) throw AAD.publicClientWithSecret();
    if (grant === 'client_credentials') throw AAD.secretMissing();
    return;
  }
  if (!presented) throw AAD.secretMissing();
  if (!app.secrets.some((s) => sameSecret(s, secret))) throw AAD.secretInvalid(app.clientId);
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
