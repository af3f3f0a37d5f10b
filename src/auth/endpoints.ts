/** The v2.0 endpoints of an authority (`{loginUrl}/{tenant}`). */
export interface AuthorityEndpoints {
  authority: string;
  authorize: string;
  token: string;
  deviceCode: string;
}

export function endpointsOf(loginUrl: string, tenant: string): AuthorityEndpoints {
  const authority = `${loginUrl.replace(/\/+$/, '')}/${encodeURIComponent(tenant)}`;
  return {
    authority,
    authorize: `${authority}/oauth2/v2.0/authorize`,
    token: `${authority}/oauth2/v2.0/token`,
    deviceCode: `${authority}/oauth2/v2.0/devicecode`,
  };
}

export function tokenEndpointOf(account: { loginUrl: string; tenant: string }): string {
  return endpointsOf(account.loginUrl, account.tenant).token;
}

const OIDC = new Set(['openid', 'profile', 'email', 'offline_access']);

/**
 * Scopes as sent to the token endpoint. Short Graph names map to the global Graph, so in a national
 * cloud they must carry that cloud's Graph resource (`https://microsoftgraph.chinacloudapi.cn/Files.Read`);
 * OpenID scopes and already-qualified ones go as they are.
 */
export function scopesForRequest(scopes: string[], graphResource: string): string[] {
  return scopes.map((s) => (OIDC.has(s.toLowerCase()) || s.includes('://') ? s : `${graphResource}/${s}`));
}
