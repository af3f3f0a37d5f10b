import type { RequestContext, SharedState } from '../context.js';
import { findUser } from '../directory.js';
import { readForm } from '../request-io.js';
import { AAD, IdentityError, escapeHtml, sendErrorPage, sendHtml, sendIdentityError, sendIdentityJson } from './errors.js';
import { hashSecret, newOpaqueToken, newUserCode, type DeviceCodeRecord, type IdentityStore } from './store.js';
import { checkUserFits, findApp, parseDelegatedScopes, pickUser, readPostedForm, resolveTenantSegment } from './tenancy.js';

/** `POST /{tenant}/oauth2/v2.0/devicecode`: starts a device-code flow. */
export async function handleDeviceCode(ctx: RequestContext, segment: string, shared: SharedState, store: IdentityStore): Promise<void> {
  const now = shared.clock.now();
  try {
    const { form, scope } = await readPostedForm(ctx, segment, shared.directory);
    const clientId = form.get('client_id');
    if (!clientId) throw AAD.missingParameter('client_id');
    const app = findApp(shared.directory, clientId, scope);
    const scopes = parseDelegatedScopes(form.get('scope') ?? '', shared.baseUrl);
    const deviceCode = newOpaqueToken('DAQABAAEAAAD', 96);
    const userCode = newUserCode();
    const { deviceCodeLifetimeSec, deviceCodePollIntervalSec } = shared.settings;
    store.deviceCodes.set(hashSecret(deviceCode), {
      hash: hashSecret(deviceCode),
      userCode,
      clientId: app.clientId,
      tenantSegment: segment,
      scopes: scopes.all,
      expiresAt: now + deviceCodeLifetimeSec * 1000,
      intervalSec: deviceCodePollIntervalSec,
      status: 'pending',
    });
    store.changed();
    const verificationUri = `${shared.baseUrl}/devicelogin`;
    sendIdentityJson(ctx.res, 200, {
      user_code: userCode,
      device_code: deviceCode,
      verification_uri: verificationUri,
      expires_in: deviceCodeLifetimeSec,
      interval: deviceCodePollIntervalSec,
      message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
    });
  } catch (err) {
    if (!(err instanceof IdentityError)) throw err;
    sendIdentityError(ctx.req, ctx.res, err, now, shared.baseUrl);
  }
}

/**
 * Approves (or declines) a pending device code for a user: what the person at the browser does.
 * The user defaults to the tenant's first user, like the authorize endpoint.
 */
export function decideDeviceCode(shared: SharedState, store: IdentityStore, userCode: string, decision: 'approve' | 'decline', upn?: string): DeviceCodeRecord {
  const record = store.findDeviceCodeByUserCode(userCode);
  if (!record || record.status === 'redeemed') throw AAD.badUserCode();
  if (record.expiresAt <= shared.clock.now()) throw AAD.deviceCodeExpired();
  if (decision === 'decline') {
    record.status = 'declined';
  } else {
    const scope = resolveTenantSegment(shared.directory, record.tenantSegment);
    if (!scope) throw AAD.tenantNotFound(record.tenantSegment);
    const app = findApp(shared.directory, record.clientId, scope);
    let user;
    if (upn) {
      user = findUser(shared.directory, upn);
      if (!user) throw AAD.userNotFound(upn, record.tenantSegment);
      checkUserFits(shared.directory, scope, app, user);
    } else {
      user = pickUser(shared.directory, scope, app, undefined);
    }
    record.status = 'approved';
    record.userId = user.id;
  }
  store.changed();
  return record;
}

/**
 * The emulator's "Enter code" page. `GET /devicelogin` shows a form; `GET /devicelogin?code=X[&user=UPN][&decline=1]`
 * or the form's POST decides at once.
 */
export async function handleDeviceLogin(ctx: RequestContext, shared: SharedState, store: IdentityStore): Promise<void> {
  const now = shared.clock.now();
  const params = ctx.method === 'POST' ? await readForm(ctx.req) : ctx.url.searchParams;
  const code = params.get('code');
  if (!code) {
    return sendHtml(
      ctx.res,
      200,
      'Enter code',
      `<h1>Enter code</h1><form method="post" action="/devicelogin"><label>Code <input name="code" autofocus></label>` +
        `<label>Account <input name="user" placeholder="user@contoso.onmicrosoft.com"></label><button type="submit">Next</button></form>`,
    );
  }
  try {
    const declined = params.get('decline') === '1' || params.get('decline') === 'true';
    const record = decideDeviceCode(shared, store, code, declined ? 'decline' : 'approve', params.get('user') ?? undefined);
    const who = record.userId ? shared.directory.users.find((u) => u.id === record.userId)?.userPrincipalName : undefined;
    sendHtml(
      ctx.res,
      200,
      declined ? 'Sign-in declined' : 'Signed in',
      declined
        ? '<h1>You declined the sign-in.</h1><p>You can close this window.</p>'
        : `<h1>You have signed in${who ? ` as ${escapeHtml(who)}` : ''}.</h1><p>You can close this window and return to the application.</p>`,
    );
  } catch (err) {
    if (!(err instanceof IdentityError)) throw err;
    sendErrorPage(ctx.req, ctx.res, err, now);
  }
}
