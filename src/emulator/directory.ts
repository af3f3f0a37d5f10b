/**
 * Who exists in the emulated Microsoft cloud: tenants (each in one national cloud),
 * their users, registered apps and SharePoint sites. Identity and drive handlers both read it;
 * the drive store creates one drive per user and one document library per site.
 */
export type EmulatedCloud = 'global' | 'china' | 'usgov' | 'usgovdod';

export interface CloudFacts {
  /** `cloud_instance_name` in the OpenID configuration. */
  instance: string;
  /** `msgraph_host` in the OpenID configuration. */
  graphHost: string;
  /** Login host the real cloud uses (reported, never called). */
  loginHost: string;
  /** `tenant_region_scope`. */
  regionScope: string;
  /** `tenant_region_sub_scope` where the cloud has one. */
  regionSubScope?: string;
}

export const CLOUD_FACTS: Record<EmulatedCloud, CloudFacts> = {
  global: { instance: 'microsoftonline.com', graphHost: 'graph.microsoft.com', loginHost: 'login.microsoftonline.com', regionScope: 'WW' },
  china: { instance: 'partner.microsoftonline.cn', graphHost: 'microsoftgraph.chinacloudapi.cn', loginHost: 'login.chinacloudapi.cn', regionScope: 'AS' },
  usgov: { instance: 'microsoftonline.us', graphHost: 'graph.microsoft.us', loginHost: 'login.microsoftonline.us', regionScope: 'NA', regionSubScope: 'GCC' },
  usgovdod: { instance: 'microsoftonline.us', graphHost: 'dod-graph.microsoft.us', loginHost: 'login.microsoftonline.us', regionScope: 'NA', regionSubScope: 'DOD' },
};

/** The tenant id Microsoft uses for all personal (MSA) accounts. */
export const CONSUMERS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';

export interface Tenant {
  id: string;
  /** Verified domains; the first is the initial `*.onmicrosoft.*` domain. */
  domains: string[];
  displayName: string;
  cloud: EmulatedCloud;
  kind: 'organization' | 'consumers';
  /** SharePoint host of the tenant, e.g. contoso.sharepoint.com (none for consumers). */
  sharepointHost?: string;
}

export interface User {
  id: string;
  tenantId: string;
  userPrincipalName: string;
  displayName: string;
  mail: string;
  password: string;
  /** Drive id of the user's OneDrive. */
  driveId: string;
  /** Bytes the user's drive may hold. */
  quotaTotal: number;
}

export interface AppRegistration {
  clientId: string;
  displayName: string;
  /** Client secrets ("Certificates & secrets", `passwordCredentials`); public-client-only apps have none. */
  secrets: string[];
  /**
   * "Mobile and desktop applications" redirect URIs (`publicClient.redirectUris`): a code issued to one is
   * redeemed by a public client, with no secret. `http://localhost` / `http://127.0.0.1` ones match any port.
   * https://learn.microsoft.com/en-us/graph/api/resources/publicclientapplication
   */
  publicClientRedirectUris: string[];
  /**
   * "Web" redirect URIs (`web.redirectUris`): a code issued to one is redeemed by a confidential client,
   * with its secret. Loopback ones match any port too.
   * https://learn.microsoft.com/en-us/graph/api/resources/webapplication
   */
  webRedirectUris: string[];
  /** Tenant the app lives in; multi-tenant apps may be used from any tenant. */
  tenantId: string;
  multiTenant: boolean;
  allowPersonalAccounts: boolean;
  /**
   * "Allow public client flows" (`isFallbackPublicClient`): the client type where no redirect URI tells
   * (device code, client credentials): public when true, confidential (secret required) when false.
   * https://learn.microsoft.com/en-us/graph/api/resources/application
   */
  isFallbackPublicClient: boolean;
}

export interface Site {
  id: string;
  tenantId: string;
  /** Server-relative path: '' for the root site, '/sites/team' for others. */
  path: string;
  displayName: string;
  driveId: string;
}

export interface Directory {
  tenants: Tenant[];
  users: User[];
  apps: AppRegistration[];
  sites: Site[];
}

const GiB = 1024 ** 3;

/** The tenants, users and apps every emulator starts with. Passwords are for the emulator only. */
export function defaultDirectory(): Directory {
  const contoso = 'b9b27a3c-3c1f-4b2e-9f63-2f0d1c5a7e01';
  const fabrikam = 'c4d1e7a2-8b3f-4e6a-a1d9-5e2b7c9f0a02';
  const tailspin = 'd2e8f4b6-1c7a-4d3e-b5f2-9a6c8e1d0b03';
  const wingtip = 'e7f3a9c1-5d2b-4e8f-a6c4-1b9d7e2f0c04';
  return {
    tenants: [
      { id: contoso, domains: ['contoso.onmicrosoft.com', 'contoso.com'], displayName: 'Contoso', cloud: 'global', kind: 'organization', sharepointHost: 'contoso.sharepoint.com' },
      { id: CONSUMERS_TENANT_ID, domains: ['outlook.com', 'hotmail.com', 'live.com'], displayName: 'Microsoft Accounts', cloud: 'global', kind: 'consumers' },
      { id: fabrikam, domains: ['fabrikam.partner.onmschina.cn'], displayName: 'Fabrikam China', cloud: 'china', kind: 'organization', sharepointHost: 'fabrikam.sharepoint.cn' },
      { id: tailspin, domains: ['tailspin.onmicrosoft.us'], displayName: 'Tailspin Gov', cloud: 'usgov', kind: 'organization', sharepointHost: 'tailspin.sharepoint.us' },
      { id: wingtip, domains: ['wingtip.onmicrosoft.us'], displayName: 'Wingtip DoD', cloud: 'usgovdod', kind: 'organization', sharepointHost: 'wingtip.sharepoint-mil.us' },
    ],
    users: [
      { id: '4f2c9a1e-7b3d-4c5e-8a6f-0d1b2c3e4f51', tenantId: contoso, userPrincipalName: 'adele@contoso.onmicrosoft.com', displayName: 'Adele Vance', mail: 'adele@contoso.com', password: 'adele-password', driveId: 'b!contoso-adele', quotaTotal: 1024 * GiB },
      { id: '5a3d0b2f-8c4e-4d6f-9b7a-1e2c3d4f5a62', tenantId: contoso, userPrincipalName: 'megan@contoso.onmicrosoft.com', displayName: 'Megan Bowen', mail: 'megan@contoso.com', password: 'megan-password', driveId: 'b!contoso-megan', quotaTotal: 1024 * GiB },
      { id: '00000000-0000-0000-1a2b-3c4d5e6f7a80', tenantId: CONSUMERS_TENANT_ID, userPrincipalName: 'alex@outlook.com', displayName: 'Alex Wilber', mail: 'alex@outlook.com', password: 'alex-password', driveId: '1a2b3c4d5e6f7a80', quotaTotal: 5 * GiB },
      { id: '6b4e1c3a-9d5f-4e7a-8c2b-2f3d4e5a6b73', tenantId: fabrikam, userPrincipalName: 'lei@fabrikam.partner.onmschina.cn', displayName: 'Lei Wang', mail: 'lei@fabrikam.partner.onmschina.cn', password: 'lei-password', driveId: 'b!fabrikam-lei', quotaTotal: 1024 * GiB },
      { id: '7c5f2d4b-0e6a-4f8b-9d3c-3a4e5f6b7c84', tenantId: tailspin, userPrincipalName: 'sam@tailspin.onmicrosoft.us', displayName: 'Sam Gov', mail: 'sam@tailspin.onmicrosoft.us', password: 'sam-password', driveId: 'b!tailspin-sam', quotaTotal: 1024 * GiB },
      { id: '8d6a3e5c-1f7b-4a9c-8e4d-4b5f6a7c8d95', tenantId: wingtip, userPrincipalName: 'pat@wingtip.onmicrosoft.us', displayName: 'Pat DoD', mail: 'pat@wingtip.onmicrosoft.us', password: 'pat-password', driveId: 'b!wingtip-pat', quotaTotal: 1024 * GiB },
    ],
    apps: [
      {
        // A desktop/CLI registration, as docs/register-app.md tells users to make: never a secret.
        clientId: DEMO_CLIENT_ID,
        displayName: 'onedav (emulator demo app)',
        secrets: [],
        publicClientRedirectUris: ['http://localhost', 'http://127.0.0.1'],
        webRedirectUris: [],
        tenantId: contoso,
        multiTenant: true,
        allowPersonalAccounts: true,
        isFallbackPublicClient: true,
      },
      {
        // A confidential web app: a secret, a Web redirect URI, application permissions; work accounts only.
        clientId: WEB_APP_CLIENT_ID,
        displayName: 'onedav (emulator confidential web app)',
        secrets: [WEB_APP_CLIENT_SECRET],
        publicClientRedirectUris: [],
        // The gateway's sign-in site (docs/register-app.md, "onedav as a gateway") is registered beside the older path.
        webRedirectUris: [WEB_APP_REDIRECT_URI, 'http://localhost/onedav/callback', GATEWAY_REDIRECT_URI, 'http://localhost/.well-known/onedav/account/callback'],
        tenantId: contoso,
        multiTenant: true,
        allowPersonalAccounts: false,
        isFallbackPublicClient: false,
      },
    ],
    sites: [
      { id: `contoso.sharepoint.com,1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f1,0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f`, tenantId: contoso, path: '', displayName: 'Communication site', driveId: 'b!contoso-root-documents' },
      { id: `contoso.sharepoint.com,2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d,3b4c5d6e-7f8a-4b9c-8d0e-2f3a4b5c6d7e`, tenantId: contoso, path: '/sites/team', displayName: 'Team', driveId: 'b!contoso-team-documents' },
      { id: `fabrikam.sharepoint.cn,4c5d6e7f-8a9b-4c0d-9e1f-3a4b5c6d7e8f,5d6e7f8a-9b0c-4d1e-8f2a-4b5c6d7e8f9a`, tenantId: fabrikam, path: '', displayName: 'Fabrikam', driveId: 'b!fabrikam-root-documents' },
      { id: `tailspin.sharepoint.us,6e7f8a9b-0c1d-4e2f-9a3b-5c6d7e8f9a0b,7f8a9b0c-1d2e-4f3a-8b4c-6d7e8f9a0b1c`, tenantId: tailspin, path: '', displayName: 'Tailspin', driveId: 'b!tailspin-root-documents' },
      { id: `wingtip.sharepoint-mil.us,8a9b0c1d-2e3f-4a4b-9c5d-7e8f9a0b1c2d,9b0c1d2e-3f4a-4b5c-8d6e-8f9a0b1c2d3e`, tenantId: wingtip, path: '', displayName: 'Wingtip', driveId: 'b!wingtip-root-documents' },
    ],
  };
}

/** The public-client demo app every emulator knows; `npm start` signs in with it (no secret). */
export const DEMO_CLIENT_ID = '3c1d5e7f-2a4b-4c6d-8e0f-0a1b2c3d4e5f';
/** The confidential web app (work accounts): client credentials, or a Web redirect redeemed with its secret. */
export const WEB_APP_CLIENT_ID = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b';
export const WEB_APP_CLIENT_SECRET = 'emulator-web-app-secret';
/** Its Web redirect URI on loopback (any port, as for every loopback registration). */
export const WEB_APP_REDIRECT_URI = 'http://127.0.0.1/onedav/callback';
export const DEMO_USER = 'adele@contoso.onmicrosoft.com';
/** The gateway site's callback on loopback (any port). */
export const GATEWAY_REDIRECT_URI = 'http://127.0.0.1/.well-known/onedav/account/callback';

export function findTenant(dir: Directory, idOrDomain: string): Tenant | undefined {
  const key = idOrDomain.toLowerCase();
  return dir.tenants.find((t) => t.id === key || t.domains.includes(key));
}

export function findUser(dir: Directory, idOrUpn: string): User | undefined {
  const key = idOrUpn.toLowerCase();
  return dir.users.find((u) => u.id === key || u.userPrincipalName.toLowerCase() === key || u.mail.toLowerCase() === key);
}
