import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

/**
 * An error of the Microsoft identity platform: an OAuth `error` string plus the AADSTS number that
 * Entra ID puts in `error_codes` and at the head of `error_description`.
 */
export class IdentityError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** `2016-01-09 02:02:12Z`, the timestamp format of Entra ID error bodies. */
export function aadTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

export interface ErrorIds {
  traceId: string;
  correlationId: string;
  timestamp: string;
}

/** Trace id is ours; the correlation id echoes the client's `client-request-id`, as Entra ID does. */
export function errorIds(req: IncomingMessage, nowMs: number): ErrorIds {
  const given = req.headers['client-request-id'];
  const correlationId = typeof given === 'string' && /^[0-9a-f-]{36}$/i.test(given) ? given : randomUUID();
  return { traceId: randomUUID(), correlationId, timestamp: aadTimestamp(nowMs) };
}

export function describe(err: IdentityError, ids: ErrorIds): string {
  return `AADSTS${err.code}: ${err.message}\r\nTrace ID: ${ids.traceId}\r\nCorrelation ID: ${ids.correlationId}\r\nTimestamp: ${ids.timestamp}`;
}

/** The JSON error body of the token and device-code endpoints, shaped as Entra ID sends it. */
function identityErrorBody(err: IdentityError, ids: ErrorIds, baseUrl: string): Record<string, unknown> {
  return {
    error: err.error,
    error_description: describe(err, ids),
    error_codes: [err.code],
    timestamp: ids.timestamp,
    trace_id: ids.traceId,
    correlation_id: ids.correlationId,
    error_uri: `${baseUrl}/error?code=${err.code}`,
  };
}

export function sendIdentityJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store, no-cache',
    pragma: 'no-cache',
    ...headers,
  });
  res.end(text);
}

export function sendIdentityError(req: IncomingMessage, res: ServerResponse, err: IdentityError, nowMs: number, baseUrl: string): void {
  const ids = errorIds(req, nowMs);
  const headers: Record<string, string> = { 'x-ms-request-id': ids.traceId };
  if (err.status === 401) headers['www-authenticate'] = 'Basic realm="emulator"';
  sendIdentityJson(res, err.status, identityErrorBody(err, ids, baseUrl), headers);
}

export function sendHtml(res: ServerResponse, status: number, title: string, bodyHtml: string): void {
  const text = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${bodyHtml}</body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** The "Sorry, but we're having trouble signing you in" page Entra ID shows when it cannot redirect. */
export function sendErrorPage(req: IncomingMessage, res: ServerResponse, err: IdentityError, nowMs: number): void {
  const ids = errorIds(req, nowMs);
  sendHtml(
    res,
    err.status,
    'Sign in to your account',
    `<h1>Sorry, but we’re having trouble signing you in.</h1><p id="error">AADSTS${err.code}: ${escapeHtml(err.message)}</p>` +
      `<p>Request Id: ${ids.traceId}<br>Correlation Id: ${ids.correlationId}<br>Timestamp: ${ids.timestamp}</p>`,
  );
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** The AADSTS errors the emulator answers with. Messages follow Entra ID's wording. */
export const AAD = {
  missingParameter: (name: string) => new IdentityError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`),
  malformed: () => new IdentityError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid.'),
  postOnly: (method: string) => new IdentityError(400, 'invalid_request', 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${method} request.`),
  tenantNotFound: (tenant: string) =>
    new IdentityError(
      400,
      'invalid_tenant',
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
  appNotFound: (clientId: string, tenant: string) =>
    new IdentityError(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  notMultiTenant: (clientId: string, name: string) =>
    new IdentityError(
      400,
      'invalid_request',
      50194,
      `Application '${clientId}'(${name}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.`,
    ),
  notForConsumers: () =>
    new IdentityError(
      400,
      'unauthorized_client',
      700016,
      'The client does not exist or is not enabled for consumers. If you are the application developer, configure a new application through the App Registrations in the Azure Portal.',
    ),
  redirectMismatch: (uri: string, clientId: string) =>
    new IdentityError(
      400,
      'invalid_request',
      50011,
      `The redirect URI '${uri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.`,
    ),
  unsupportedResponseType: (type: string) => new IdentityError(400, 'unsupported_response_type', 70005, `response_type '${type}' is not supported for this application.`),
  invalidScope: (scope: string) =>
    new IdentityError(400, 'invalid_scope', 70011, `The provided value for the input parameter 'scope' isn't valid. The scope ${scope} isn't valid.`),
  challengeSize: () => new IdentityError(400, 'invalid_request', 501491, 'Invalid size of Code_Challenge parameter.'),
  userNotFound: (hint: string, tenant: string) =>
    new IdentityError(
      400,
      'invalid_request',
      50034,
      `The user account ${hint} does not exist in the ${tenant} directory. To sign into this application, the account must be added to the directory.`,
    ),
  userNotInTenant: (upn: string, tenant: string) =>
    new IdentityError(
      400,
      'invalid_request',
      50020,
      `User account '${upn}' from identity provider does not exist in tenant '${tenant}' and cannot access the application in that tenant. The account needs to be added as an external user in the tenant first.`,
    ),
  unsupportedGrant: (grant: string) => new IdentityError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant}'.`),
  // https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes (InvalidClientPublicClientWithCredential); 401 as in virtualzone/onedrive-uploader#30.
  publicClientWithSecret: () => new IdentityError(401, 'invalid_client', 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."),
  secretMissing: () => new IdentityError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
  secretInvalid: (clientId: string) =>
    new IdentityError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
    ),
  noTenantForApp: () =>
    new IdentityError(400, 'invalid_request', 50059, 'No tenant-identifying information found in either the request or implied by any provided credentials.'),
  needsDefaultScope: (scope: string) =>
    new IdentityError(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  resourceNotFound: (resource: string, tenant: string) =>
    new IdentityError(
      400,
      'invalid_resource',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  grantMalformed: () => new IdentityError(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed.'),
  codeRedeemed: () =>
    new IdentityError(400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.'),
  codeExpired: () =>
    new IdentityError(
      400,
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    ),
  codeRedirectMismatch: () =>
    new IdentityError(400, 'invalid_grant', 50011, 'The redirect URI specified in the request does not match the redirect URI used when requesting the authorization code.'),
  pkceMismatch: () => new IdentityError(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.'),
  refreshRevoked: (issued: string, validFrom: string) =>
    new IdentityError(
      400,
      'invalid_grant',
      50173,
      `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${validFrom}'.`,
    ),
  refreshExpired: (issued: string, inactive: string) =>
    new IdentityError(400, 'invalid_grant', 700082, `The refresh token has expired due to inactivity. The token was issued on ${issued} and was inactive for ${inactive}.`),
  authorizationPending: () =>
    new IdentityError(400, 'authorization_pending', 70016, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.'),
  // Entra ID documents slow_down (RFC 8628) without its own AADSTS number; the pending one is reused.
  slowDown: (interval: number) => new IdentityError(400, 'slow_down', 70016, `Polling too fast: wait at least ${interval} seconds between token requests.`),
  deviceCodeExpired: () => new IdentityError(400, 'expired_token', 70019, 'Verification code expired.'),
  // No AADSTS number is documented for a declined device code; the generic invalid-grant one is used.
  deviceCodeDeclined: () => new IdentityError(400, 'authorization_declined', 70000, 'The end user declined the authorization request.'),
  badUserCode: () => new IdentityError(400, 'bad_verification_code', 70018, 'Invalid verification code due to User typing in wrong user code for device code flow.'),
};
