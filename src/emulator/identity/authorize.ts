import { randomUUID } from 'node:crypto';
import type { RequestContext, SharedState } from '../context.js';
import type { AppRegistration } from '../directory.js';
import { AAD, IdentityError, describe, errorIds, sendErrorPage } from './errors.js';
import { hashSecret, newOpaqueToken, type IdentityStore } from './store.js';
import { findApp, parseDelegatedScopes, pickUser, resolveTenantSegment } from './tenancy.js';
import { readForm } from '../request-io.js';
import { checkCredentials, sendSignInPage, wantsSignInForm } from './sign-in-page.js';
import { redirectClientType, type EmulatedClientType } from './client-auth.js';

/** Authorization codes live 10 minutes, as Entra ID's do. */
const AUTH_CODE_LIFETIME_MS = 10 * 60 * 1000;

/**
 * `GET /{tenant}/oauth2/v2.0/authorize`. Without `prompt`, the browser is taken to have a session:
 * the user named by `login_hint` (or the tenant's first user) signs in and consents at once, and the
 * browser is sent back to the redirect URI with a code. With `prompt=login` or `prompt=select_account`
 * the sign-in form is shown (sign-in-page.ts); it posts the user's name and password back here
 * (`POST` with the same query), and the code is issued for that user. Problems found before the redirect URI is trusted (tenant, app,
 * redirect URI, unknown user) show an error page; the rest go back to the app as `error=`.
 */
export async function handleAuthorize(ctx: RequestContext, segment: string, shared: SharedState, store: IdentityStore): Promise<void> {
  const q = ctx.url.searchParams;
  const now = shared.clock.now();
  const scope = resolveTenantSegment(shared.directory, segment);
  let redirectUri: string;
  let clientType: EmulatedClientType;
  let app: AppRegistration;
  try {
    if (!scope) throw AAD.tenantNotFound(segment);
    const clientId = q.get('client_id');
    if (!clientId) throw AAD.missingParameter('client_id');
    app = findApp(shared.directory, clientId, scope);
    const requested = q.get('redirect_uri') ?? [...app.publicClientRedirectUris, ...app.webRedirectUris][0];
    const type = requested ? redirectClientType(app, requested) : undefined;
    if (!requested || !type) throw AAD.redirectMismatch(requested ?? '', app.clientId);
    redirectUri = requested;
    clientType = type;
  } catch (err) {
    if (err instanceof IdentityError) return sendErrorPage(ctx.req, ctx.res, err, now);
    throw err;
  }

  const state = q.get('state') ?? undefined;
  try {
    const responseType = q.get('response_type');
    if (!responseType) throw AAD.missingParameter('response_type');
    if (responseType !== 'code') throw AAD.unsupportedResponseType(responseType);
    const mode = q.get('response_mode') ?? 'query';
    if (mode !== 'query') throw AAD.malformed();
    const scopes = parseDelegatedScopes(q.get('scope') ?? '', shared.baseUrl);
    const challenge = q.get('code_challenge') ?? undefined;
    const method = q.get('code_challenge_method') ?? (challenge ? 'plain' : undefined);
    if (challenge !== undefined) {
      if (method !== 'S256' && method !== 'plain') throw AAD.malformed();
      if (challenge.length < 43 || challenge.length > 128) throw AAD.challengeSize();
    }
    let hint = q.get('login_hint') ?? undefined;
    if (ctx.method === 'POST') {
      const form = await readForm(ctx.req);
      const checked = checkCredentials(shared.directory, form.get('login') ?? '', form.get('passwd') ?? '');
      if ('error' in checked) return sendSignInPage(ctx.res, shared.directory, scope!, ctx.url.search.slice(1), { login: form.get('login') ?? '', error: checked.error });
      hint = checked.user.userPrincipalName;
    } else if (wantsSignInForm(q.get('prompt'))) {
      return sendSignInPage(ctx.res, shared.directory, scope!, ctx.url.search.slice(1), { login: hint });
    }
    let user;
    try {
      user = pickUser(shared.directory, scope!, app, hint);
    } catch (err) {
      // A real sign-in page would stop here and tell the user; it never redirects.
      if (err instanceof IdentityError) return sendErrorPage(ctx.req, ctx.res, err, now);
      throw err;
    }
    const code = newOpaqueToken('0.AX', 64);
    store.authCodes.set(hashSecret(code), {
      hash: hashSecret(code),
      clientId: app.clientId,
      redirectUri,
      clientType,
      userId: user.id,
      tenantId: user.tenantId,
      scopes: scopes.all,
      codeChallenge: challenge,
      codeChallengeMethod: challenge ? (method as 'S256' | 'plain') : undefined,
      nonce: q.get('nonce') ?? undefined,
      expiresAt: now + AUTH_CODE_LIFETIME_MS,
      redeemed: false,
    });
    store.changed();
    redirect(ctx, redirectUri, { code, state, session_state: randomUUID() });
  } catch (err) {
    if (!(err instanceof IdentityError)) throw err;
    const ids = errorIds(ctx.req, now);
    redirect(ctx, redirectUri, {
      error: err.error,
      error_description: describe(err, ids),
      error_uri: `${shared.baseUrl}/error?code=${err.code}`,
      state,
    });
  }
}

function redirect(ctx: RequestContext, redirectUri: string, params: Record<string, string | undefined>): void {
  const target = new URL(redirectUri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) target.searchParams.set(key, value);
  ctx.res.writeHead(302, { location: target.toString(), 'cache-control': 'no-store', 'content-length': 0 });
  ctx.res.end();
}
