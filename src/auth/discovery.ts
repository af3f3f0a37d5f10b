import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { NATIONAL_CLOUDS, cloudFromDiscovery, isLoopbackUrl, type CloudName } from './clouds.js';
import { endpointsOf } from './endpoints.js';
import { getJson, type IdentityHttpOptions } from './identity-http.js';

/** The tenant id every personal Microsoft account signs in through. */
export const CONSUMERS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';

export interface OpenIdFacts {
  issuer: string;
  /** From the issuer; absent for the multi-tenant `{tenantid}` placeholder. */
  tenantId?: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  deviceAuthorizationEndpoint?: string;
  cloudInstanceName?: string;
  msgraphHost?: string;
  regionScope?: string;
  regionSubScope?: string;
}

/** Reads `{loginUrl}/{tenant}/v2.0/.well-known/openid-configuration`. */
export async function fetchOpenIdConfiguration(loginUrl: string, tenant: string, http?: IdentityHttpOptions): Promise<OpenIdFacts> {
  const doc = await getJson(`${endpointsOf(loginUrl, tenant).authority}/v2.0/.well-known/openid-configuration`, http);
  const str = (key: string) => (typeof doc[key] === 'string' ? (doc[key] as string) : undefined);
  const issuer = str('issuer') ?? '';
  const tid = /\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\//i.exec(`${issuer}/`)?.[1]?.toLowerCase();
  return {
    issuer,
    tenantId: tid,
    authorizationEndpoint: str('authorization_endpoint') ?? '',
    tokenEndpoint: str('token_endpoint') ?? '',
    deviceAuthorizationEndpoint: str('device_authorization_endpoint'),
    cloudInstanceName: str('cloud_instance_name'),
    msgraphHost: str('msgraph_host'),
    regionScope: str('tenant_region_scope'),
    regionSubScope: str('tenant_region_sub_scope'),
  };
}

export interface UserRealm {
  /** `Managed`, `Federated` or `Unknown`. */
  namespaceType: string;
  domain: string;
  brandName?: string;
  cloudInstanceName?: string;
  /** Whether a personal Microsoft account exists for the login. */
  microsoftAccount: boolean;
}

/** Reads `{loginUrl}/common/userrealm/{login}?api-version=2.1&checkForMicrosoftAccount=true`. */
export async function fetchUserRealm(loginUrl: string, login: string, http?: IdentityHttpOptions): Promise<UserRealm> {
  const url = `${loginUrl.replace(/\/+$/, '')}/common/userrealm/${encodeURIComponent(login)}?api-version=2.1&checkForMicrosoftAccount=true`;
  const doc = await getJson(url, http);
  return {
    namespaceType: String(doc.NameSpaceType ?? 'Unknown'),
    domain: String(doc.DomainName ?? login.split('@').pop()),
    brandName: typeof doc.FederationBrandName === 'string' ? doc.FederationBrandName : undefined,
    cloudInstanceName: typeof doc.cloud_instance_name === 'string' ? doc.cloud_instance_name : undefined,
    microsoftAccount: doc.MicrosoftAccount === 1 || doc.MicrosoftAccount === '1' || doc.MicrosoftAccount === true,
  };
}

export interface Discovery {
  /** What was asked: an email or a domain. */
  input: string;
  domain: string;
  accountType: 'personal' | 'organizational';
  /** Display name of the organisation (user realm's FederationBrandName). */
  organization?: string;
  /** Tenant path segment to sign in with: the tenant id, or `consumers`. */
  tenant: string;
  tenantId: string;
  /** The national cloud the tenant lives in. */
  cloud: Exclude<CloudName, 'emulator'>;
  cloudDisplayName: string;
  cloudInstanceName: string;
  regionScope?: string;
  regionSubScope?: string;
  /** Login host root that answered (the emulator's URL when pointed at it). */
  loginUrl: string;
  authority: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  deviceAuthorizationEndpoint?: string;
  /** Graph host of the cloud (`graph.microsoft.us`). */
  graphHost: string;
  /** Where Graph requests go: the cloud's Graph, or the emulator's `/v1.0`. */
  graphBaseUrl: string;
  /** Epoch ms. */
  discoveredAt: number;
}

export class DiscoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

export interface DiscoverOptions {
  /** Login host to ask (default the global cloud's); the emulator's URL in tests and demos. */
  loginUrl?: string;
  http?: IdentityHttpOptions;
  now?: () => number;
}

/**
 * From an email or a domain to everything needed to sign in: is it a work/school tenant or a
 * personal account, which tenant, which national cloud, which endpoints and which Graph host.
 * User realm first (it knows personal accounts), then the tenant's OpenID configuration.
 */
export async function discover(input: string, options: DiscoverOptions = {}): Promise<Discovery> {
  const trimmed = input.trim().toLowerCase();
  if (!/^([^@\s]+@)?[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(trimmed)) throw new DiscoveryError(`"${input}" is neither an email address nor a domain name.`);
  const domain = trimmed.includes('@') ? trimmed.slice(trimmed.lastIndexOf('@') + 1) : trimmed;
  const login = trimmed.includes('@') ? trimmed : `anyone@${domain}`;
  let loginUrl = (options.loginUrl ?? NATIONAL_CLOUDS.global.loginUrl).replace(/\/+$/, '');
  const realm = await fetchUserRealm(loginUrl, login, options.http);
  let accountType: Discovery['accountType'];
  let tenant: string;
  if (realm.namespaceType === 'Managed' || realm.namespaceType === 'Federated') {
    accountType = 'organizational';
    tenant = domain;
  } else if (realm.microsoftAccount) {
    accountType = 'personal';
    tenant = 'consumers';
  } else {
    throw new DiscoveryError(
      `No Microsoft Entra tenant or personal Microsoft account is known for "${domain}". Check the spelling; for a national cloud, pass --authority with its login host (e.g. https://login.microsoftonline.us).`,
    );
  }
  let facts = await fetchOpenIdConfiguration(loginUrl, tenant, options.http);
  const cloud = cloudFromDiscovery({ cloudInstanceName: facts.cloudInstanceName ?? realm.cloudInstanceName, msgraphHost: facts.msgraphHost }) ?? 'global';
  const home = NATIONAL_CLOUDS[cloud];
  if (!isLoopbackUrl(loginUrl) && home.loginUrl !== loginUrl && !loginUrl.includes(home.instanceName)) {
    // The tenant lives in another cloud: its own login host has the endpoints to use.
    loginUrl = home.loginUrl;
    facts = await fetchOpenIdConfiguration(loginUrl, tenant, options.http);
  }
  const tenantId = facts.tenantId ?? (accountType === 'personal' ? CONSUMERS_TENANT_ID : '');
  if (!tenantId) throw new DiscoveryError(`The OpenID configuration of "${domain}" names no tenant id (issuer ${facts.issuer}).`);
  const graphHost = facts.msgraphHost ?? new URL(home.graphUrl).host;
  return {
    input,
    domain,
    accountType,
    organization: accountType === 'organizational' ? realm.brandName : undefined,
    tenant: accountType === 'personal' ? 'consumers' : tenantId,
    tenantId,
    cloud,
    cloudDisplayName: home.displayName,
    cloudInstanceName: facts.cloudInstanceName ?? home.instanceName,
    regionScope: facts.regionScope ?? undefined,
    regionSubScope: facts.regionSubScope,
    loginUrl,
    authority: endpointsOf(loginUrl, accountType === 'personal' ? 'consumers' : tenantId).authority,
    authorizationEndpoint: facts.authorizationEndpoint,
    tokenEndpoint: facts.tokenEndpoint,
    deviceAuthorizationEndpoint: facts.deviceAuthorizationEndpoint,
    graphHost,
    graphBaseUrl: isLoopbackUrl(loginUrl) ? `${loginUrl}/v1.0` : `https://${graphHost}/v1.0`,
    discoveredAt: (options.now ?? Date.now)(),
  };
}

/** Static discovery results, one file per domain under `<dataDir>/discovery/`. */
export class DiscoveryCache {
  constructor(readonly dataDir: string) {}

  private file(domain: string): string {
    return join(this.dataDir, 'discovery', `${encodeURIComponent(domain.toLowerCase())}.json`);
  }

  async get(domain: string, loginUrl: string): Promise<Discovery | undefined> {
    try {
      const cached = JSON.parse(await readFile(this.file(domain), 'utf8')) as Discovery;
      return cached.loginUrl === loginUrl.replace(/\/+$/, '') || cached.authority.startsWith(loginUrl) ? cached : undefined;
    } catch {
      return undefined;
    }
  }

  async put(result: Discovery): Promise<void> {
    await writeFileAtomic(this.file(result.domain), `${JSON.stringify(result, null, 2)}\n`);
  }
}
