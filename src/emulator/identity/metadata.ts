import type { RequestContext, SharedState } from '../context.js';
import { CLOUD_FACTS, findTenant, findUser, type EmulatedCloud, type Tenant } from '../directory.js';
import { AAD, escapeHtml, sendHtml, sendIdentityError, sendIdentityJson } from './errors.js';
import { resolveTenantSegment } from './tenancy.js';

/** Azure AD Graph host (`cloud_graph_host_name`) of each cloud, which CLOUD_FACTS doesn't carry. */
const AAD_GRAPH_HOST: Record<EmulatedCloud, string> = {
  global: 'graph.windows.net',
  china: 'graph.chinacloudapi.cn',
  usgov: 'graph.microsoftazure.us',
  usgovdod: 'graph.microsoftazure.us',
};

const CLAIMS_V2 = ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'];

/**
 * `/{tenant}/v2.0/.well-known/openid-configuration` (and the v1 `/{tenant}/.well-known/…`). Endpoints
 * point at this emulator; the cloud fields tell which national cloud the tenant lives in.
 * Multi-tenant segments answer with the `{tenantid}` placeholder and no region, as Entra ID does.
 */
export function handleOpenIdConfiguration(ctx: RequestContext, segment: string, version: 1 | 2, shared: SharedState): void {
  const scope = resolveTenantSegment(shared.directory, segment);
  if (!scope) return sendIdentityError(ctx.req, ctx.res, AAD.tenantNotFound(segment), shared.clock.now(), shared.baseUrl);
  const tenant = scope.kind === 'tenant' || scope.kind === 'consumers' ? scope.tenant : undefined;
  const tid = tenant?.id ?? '{tenantid}';
  const facts = CLOUD_FACTS[tenant?.cloud ?? 'global'];
  const base = `${shared.baseUrl}/${tenant?.id ?? scope.segment}`;
  const v = version === 2 ? '/v2.0' : '';
  const doc: Record<string, unknown> = {
    token_endpoint: `${base}/oauth2${v}/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery${v}/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: version === 2 ? `${shared.baseUrl}/${tid}/v2.0` : `https://sts.windows.net/${tid}/`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `https://${facts.graphHost}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2${v}/authorize`,
    device_authorization_endpoint: `${base}/oauth2${v}/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2${v}/logout`,
    claims_supported: CLAIMS_V2,
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: scope.kind === 'tenant' ? facts.regionScope : null,
    cloud_instance_name: facts.instance,
    cloud_graph_host_name: AAD_GRAPH_HOST[tenant?.cloud ?? 'global'],
    msgraph_host: facts.graphHost,
    rbac_url: 'https://pas.windows.net',
  };
  if (scope.kind === 'tenant' && facts.regionSubScope) doc.tenant_region_sub_scope = facts.regionSubScope;
  if (version === 1) {
    delete doc.device_authorization_endpoint;
    doc.microsoft_multi_refresh_token = true;
    doc.check_session_iframe = `${base}/oauth2/checksession`;
  }
  sendIdentityJson(ctx.res, 200, doc);
}

/** Our tokens are HS256 with a private key: no public keys to publish. */
export function handleKeys(ctx: RequestContext): void {
  sendIdentityJson(ctx.res, 200, { keys: [] });
}

interface Realm {
  login: string;
  domain: string;
  tenant?: Tenant;
  personal: boolean;
}

function realmOf(shared: SharedState, login: string): Realm {
  const at = login.lastIndexOf('@');
  const domain = (at >= 0 ? login.slice(at + 1) : login).toLowerCase();
  const tenant = findTenant(shared.directory, domain);
  const user = findUser(shared.directory, login);
  const personal = tenant?.kind === 'consumers' || user?.tenantId === shared.directory.tenants.find((t) => t.kind === 'consumers')?.id;
  return { login, domain, tenant, personal };
}

function audienceUrn(cloud: EmulatedCloud): string {
  return cloud === 'global' ? 'urn:federation:MicrosoftOnline' : `urn:federation:${CLOUD_FACTS[cloud].instance}`;
}

/**
 * User realm discovery: `/common/userrealm/{login}?api-version=2.1` (or `?user=`), v1.0 shapes with
 * `api-version=1.0`, and the legacy `/getuserrealm.srf?login=`. Organisational domains are
 * `Managed`; consumer domains are `Unknown` to Entra ID but `MicrosoftAccount: 1` when
 * `checkForMicrosoftAccount=true` is asked.
 */
export function handleUserRealm(ctx: RequestContext, login: string | null, legacy: boolean, shared: SharedState): void {
  if (!login) return sendIdentityError(ctx.req, ctx.res, AAD.missingParameter(legacy ? 'login' : 'user'), shared.clock.now(), shared.baseUrl);
  const realm = realmOf(shared, login);
  const org = realm.tenant && realm.tenant.kind === 'organization' ? realm.tenant : undefined;
  const facts = CLOUD_FACTS[org?.cloud ?? 'global'];
  if (legacy) {
    const body: Record<string, unknown> = { State: 4, UserState: 1, Login: realm.login, NameSpaceType: org ? 'Managed' : 'Unknown' };
    if (org) Object.assign(body, { DomainName: realm.domain, FederationBrandName: org.displayName, CloudInstanceName: facts.instance, CloudInstanceIssuerUri: audienceUrn(org.cloud) });
    return sendIdentityJson(ctx.res, 200, body);
  }
  const apiVersion = ctx.url.searchParams.get('api-version') ?? '2.1';
  if (apiVersion === '1.0') {
    return sendIdentityJson(ctx.res, 200, {
      ver: '1.0',
      account_type: org ? 'Managed' : 'Unknown',
      domain_name: realm.domain,
      cloud_instance_name: facts.instance,
      cloud_audience_urn: audienceUrn(org?.cloud ?? 'global'),
    });
  }
  const body: Record<string, unknown> = {
    NameSpaceType: org ? 'Managed' : 'Unknown',
    Login: realm.login,
    DomainName: realm.domain,
    FederationBrandName: org?.displayName ?? null,
    TenantBrandingInfo: null,
    cloud_instance_name: facts.instance,
    cloud_audience_urn: audienceUrn(org?.cloud ?? 'global'),
  };
  if (/^true$/i.test(ctx.url.searchParams.get('checkForMicrosoftAccount') ?? '')) body.MicrosoftAccount = realm.personal ? 1 : 0;
  sendIdentityJson(ctx.res, 200, body);
}

/** `/error?code=N`: where `error_uri` points. */
export function handleErrorLookup(ctx: RequestContext): void {
  const code = ctx.url.searchParams.get('code') ?? '';
  sendHtml(ctx.res, 200, 'Error lookup', `<h1>AADSTS${escapeHtml(code)}</h1><p>See the emulator's identity service for what this error means.</p>`);
}
