import { systemClock, type Clock } from '../util/clock.js';
import { browserLogin } from './browser-login.js';
import { clientTypeOf, secretToSend, type ClientType } from './client-type.js';
import { cloudFromDiscovery, type Cloud } from './clouds.js';
import { deviceCodeLogin } from './device-login.js';
import { CONSUMERS_TENANT_ID, fetchOpenIdConfiguration } from './discovery.js';
import { endpointsOf, scopesForRequest } from './endpoints.js';
import { postForm, type IdentityHttpOptions, type TokenResponse } from './identity-http.js';
import { readIdTokenClaims } from './jwt.js';
import type { SignInFlow, SignInStore, StoredAccount } from './token-store.js';

/** The account settings login needs; the shape of `accounts.<name>` in the config. */
export interface AccountSettings {
  tenant: string;
  clientId: string;
  /** Sent only by a confidential client (see client-type.ts). */
  clientSecret?: string;
  /** Unset: confidential for client credentials, public otherwise. */
  clientType?: ClientType;
  redirectUri: string;
  flow: SignInFlow;
  scopes: string[];
  /** With client credentials: the user whose drive is served. */
  user?: string;
}

export const DEFAULT_SCOPES = ['Files.ReadWrite.All', 'offline_access', 'User.Read'];

export interface LoginOptions {
  account: string;
  settings: AccountSettings;
  cloud: Cloud;
  store: SignInStore;
  /** Overrides `settings.flow` (e.g. `--device-code`). */
  flow?: SignInFlow;
  print: (line: string) => void;
  openBrowser?: (url: string) => void | Promise<void>;
  loginHint?: string;
  browserTimeoutMs?: number;
  /** Device-code polling waits through this (tests move a ManualClock). */
  sleep?: (ms: number) => Promise<void>;
  clock?: Clock;
  http?: IdentityHttpOptions;
}

/**
 * Signs an account in with its configured flow and saves the result (mode 0600). Delegated flows
 * also ask for `openid profile` so the id token says who signed in; app-only accounts record the
 * user from the config.
 */
export async function login(options: LoginOptions): Promise<StoredAccount> {
  const { settings, cloud } = options;
  const clock = options.clock ?? systemClock;
  const flow = options.flow ?? settings.flow;
  const clientType = clientTypeOf({ flow, clientType: settings.clientType });
  const clientSecret = secretToSend({ flow, clientType, clientSecret: settings.clientSecret });
  checkClient(options.account, flow, clientType, clientSecret);
  const endpoints = endpointsOf(cloud.loginUrl, settings.tenant);
  const scopes = flow === 'clientCredentials' ? [] : withIdentityScopes(settings.scopes.length ? settings.scopes : DEFAULT_SCOPES);
  const requestScopes = scopesForRequest(scopes, cloud.graphResource);
  let response: TokenResponse;
  if (flow === 'interactive') {
    response = (
      await browserLogin({
        endpoints,
        clientId: settings.clientId,
        clientSecret,
        redirectUri: settings.redirectUri,
        scopes: requestScopes,
        loginHint: options.loginHint,
        openBrowser: options.openBrowser,
        print: options.print,
        timeoutMs: options.browserTimeoutMs,
        http: options.http,
      })
    ).response;
  } else if (flow === 'deviceCode') {
    response = await deviceCodeLogin({ endpoints, clientId: settings.clientId, scopes: requestScopes, print: options.print, clock, sleep: options.sleep, http: options.http });
  } else {
    if (!settings.user) throw new Error(`Account "${options.account}" uses client credentials: set accounts.${options.account}.user to the user whose drive to serve.`);
    response = await postForm(endpoints.token, { grant_type: 'client_credentials', client_id: settings.clientId, client_secret: clientSecret, scope: `${cloud.graphResource}/.default` }, options.http);
  }
  const now = clock.now();
  const record: StoredAccount = {
    version: 1,
    account: options.account,
    cloud: cloud.name,
    loginUrl: cloud.loginUrl,
    graphBaseUrl: cloud.graphBaseUrl,
    graphResource: cloud.graphResource,
    tenant: settings.tenant,
    clientId: settings.clientId,
    clientType,
    flow,
    scopes,
    accountType: 'app',
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    expiresAt: now + response.expires_in * 1000,
    obtainedAt: now,
  };
  if (flow === 'clientCredentials') {
    const facts = await fetchOpenIdConfiguration(cloud.loginUrl, settings.tenant, options.http);
    record.tenantId = facts.tenantId;
    record.tenant = facts.tenantId ?? settings.tenant;
    record.user = { upn: settings.user as string };
  } else {
    if (!response.refresh_token) throw new Error('The sign-in gave no refresh token: keep "offline_access" in the scopes so onedav can stay signed in.');
    const claims = readIdTokenClaims(response.id_token) ?? {};
    const tid = typeof claims.tid === 'string' ? claims.tid : undefined;
    record.tenantId = tid;
    record.tenant = tid ?? settings.tenant;
    record.accountType = tid === CONSUMERS_TENANT_ID ? 'personal' : 'organizational';
    if (typeof claims.preferred_username === 'string') {
      record.user = { upn: claims.preferred_username, name: typeof claims.name === 'string' ? claims.name : undefined, id: typeof claims.oid === 'string' ? claims.oid : undefined };
    }
  }
  record.tenantCloud = await tenantCloudOf(cloud.loginUrl, record.tenant, options.http);
  await options.store.save(record);
  return record;
}

/**
 * Refuses, before anything is sent, what Entra would refuse: a confidential client without its secret
 * (AADSTS7000218), and a device code from a confidential client (the flow needs "Allow public client flows").
 */
function checkClient(account: string, flow: SignInFlow, clientType: ClientType, secret: string | undefined): void {
  if (flow === 'deviceCode' && clientType === 'confidential') {
    throw new Error(`Account "${account}" is a confidential client (clientType "confidential"): the device-code flow is for public clients. Sign in with the browser, or use a "Mobile and desktop" registration with "Allow public client flows" and clientType "public".`);
  }
  if (clientType === 'confidential' && !secret) {
    const why = flow === 'clientCredentials' ? 'uses client credentials' : 'is a confidential client (a "Web" redirect URI)';
    throw new Error(`Account "${account}" ${why} but has no secret: set ONEDAV_CLIENT_SECRET (or accounts.${account}.clientSecret).`);
  }
}

/** Which national cloud the tenant belongs to; best effort (whoami shows it, nothing depends on it). */
async function tenantCloudOf(loginUrl: string, tenant: string, http?: IdentityHttpOptions): Promise<StoredAccount['tenantCloud']> {
  try {
    const facts = await fetchOpenIdConfiguration(loginUrl, tenant, http);
    return {
      name: cloudFromDiscovery({ cloudInstanceName: facts.cloudInstanceName, msgraphHost: facts.msgraphHost }),
      instanceName: facts.cloudInstanceName,
      graphHost: facts.msgraphHost,
      regionScope: facts.regionScope,
    };
  } catch {
    return undefined;
  }
}

export interface RefreshTokenAccount {
  account: string;
  cloud: Cloud;
  /** Tenant id (or domain) the refresh token belongs to. */
  tenant: string;
  clientId: string;
  refreshToken: string;
  scopes?: string[];
  user?: { upn: string; name?: string; id?: string };
  accountType?: 'personal' | 'organizational';
  /** The client type the refresh token was issued to (default public: a desktop sign-in). */
  clientType?: ClientType;
}

/**
 * A saved account from a refresh token obtained elsewhere (the emulator's `issueRefreshToken`, for
 * `npm start` without a browser). It has no access token yet: the refresher gets one on first use.
 */
export function accountFromRefreshToken(input: RefreshTokenAccount): StoredAccount {
  return {
    version: 1,
    account: input.account,
    cloud: input.cloud.name,
    loginUrl: input.cloud.loginUrl,
    graphBaseUrl: input.cloud.graphBaseUrl,
    graphResource: input.cloud.graphResource,
    tenant: input.tenant,
    clientId: input.clientId,
    clientType: input.clientType ?? 'public',
    flow: 'interactive',
    scopes: withIdentityScopes(input.scopes ?? DEFAULT_SCOPES),
    accountType: input.accountType ?? 'organizational',
    user: input.user,
    refreshToken: input.refreshToken,
  };
}

function withIdentityScopes(scopes: string[]): string[] {
  const out = [...scopes];
  for (const s of ['openid', 'profile', 'offline_access']) if (!out.some((x) => x.toLowerCase() === s)) out.push(s);
  return out;
}
