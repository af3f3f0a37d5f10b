/**
 * The identity half of the emulator: a loopback Microsoft identity platform (v2.0 endpoints).
 *
 * HTTP (under the emulator's base URL; `{tenant}` = tenant id, verified domain, `common`,
 * `organizations` or `consumers`):
 *   GET  /{tenant}/oauth2/v2.0/authorize           auth-code flow with PKCE; auto sign-in + consent
 *   POST /{tenant}/oauth2/v2.0/token               authorization_code, refresh_token, client_credentials, device_code
 *   POST /{tenant}/oauth2/v2.0/devicecode          starts a device-code flow
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration   (and v1 /{tenant}/.well-known/openid-configuration)
 *   GET  /{tenant}/discovery/v2.0/keys
 *   GET  /common/userrealm/{login}?api-version=2.1[&checkForMicrosoftAccount=true]   (also ?user=)
 *   GET  /getuserrealm.srf?login=…
 *   GET|POST /devicelogin[?code=USERCODE&user=UPN&decline=1]   the "enter code" page; with a code it decides at once
 *   GET  /error?code=N
 *
 * In-process API (tests, `npm start`):
 *   approveDeviceCode(userCode, upn?)        the user at the browser approves (default user: tenant's first)
 *   declineDeviceCode(userCode)
 *   revokeRefreshTokens({ upn?, token?, clientId? }) → number revoked (all when no filter)
 *   issueRefreshToken({ upn, clientId?, scopes? }) → refresh token, as if the user had signed in
 *                                            (bound to the app's desktop platform if it has one, else to its web one)
 *   stats() → { grants: {authorization_code, refresh_token, client_credentials, device_code}, failures: {error: n},
 *               clientAuthentication: {none, secret} }   tokens issued to public clients / with a client secret
 *   resetStats()
 *
 * Admin HTTP (when the emulator runs with admin on), under /_emulator/identity/:
 *   GET stats · POST stats/reset · POST device-codes/approve {userCode, user?} · POST device-codes/decline {userCode}
 *   POST revoke {upn?, token?, clientId?} → {revoked} · POST refresh-tokens {upn, clientId?, scopes?} → {refresh_token}
 *
 * State (codes, device codes, refresh-token hashes) follows the injected clock and is persisted to
 * `identity.json` in the data folder when there is one.
 */
import type { EmulatorService, RequestContext, SharedState } from '../context.js';
import { DEMO_CLIENT_ID, findUser } from '../directory.js';
import { EmulatorHttpError, readJson, sendJson } from '../request-io.js';
import { handleAuthorize } from './authorize.js';
import { delegatedClientType } from './client-auth.js';
import { decideDeviceCode, handleDeviceCode, handleDeviceLogin } from './device.js';
import { IdentityError } from './errors.js';
import { TokenIssuer } from './issuer.js';
import { handleErrorLookup, handleKeys, handleOpenIdConfiguration, handleUserRealm } from './metadata.js';
import { hashSecret, IdentityStore, type IdentityStats } from './store.js';
import { handleToken } from './token.js';

export type { IdentityStats } from './store.js';

export interface RevokeFilter {
  upn?: string;
  token?: string;
  clientId?: string;
}

export interface IssueRefreshTokenOptions {
  upn: string;
  clientId?: string;
  scopes?: string[];
}

const DEFAULT_DEMO_SCOPES = ['Files.ReadWrite.All', 'offline_access', 'User.Read', 'openid', 'profile'];

export class IdentityService implements EmulatorService {
  private readonly store: IdentityStore;
  private readonly issuer: TokenIssuer;

  constructor(readonly shared: SharedState) {
    this.store = new IdentityStore(shared.dataDir);
    this.issuer = new TokenIssuer(shared, this.store);
  }

  async handle(ctx: RequestContext): Promise<boolean> {
    const parts = ctx.url.pathname.split('/').filter(Boolean);
    const path = parts.slice(1).join('/');
    const tenant = parts[0] ?? '';
    const route = (template: string) => ctx.setRoute(`${ctx.method} ${template}`);

    if (parts.length === 1 && tenant === 'devicelogin') {
      route('/devicelogin');
      await handleDeviceLogin(ctx, this.shared, this.store);
      return true;
    }
    if (parts.length === 1 && tenant === 'getuserrealm.srf') {
      route('/getuserrealm.srf');
      handleUserRealm(ctx, ctx.url.searchParams.get('login'), true, this.shared);
      return true;
    }
    if (parts.length === 1 && tenant === 'error') {
      route('/error');
      handleErrorLookup(ctx);
      return true;
    }
    if (tenant.toLowerCase() === 'common' && parts[1]?.toLowerCase() === 'userrealm') {
      route('/common/userrealm/{login}');
      const login = parts[2] ? decodeURIComponent(parts[2]) : ctx.url.searchParams.get('user');
      handleUserRealm(ctx, login, false, this.shared);
      return true;
    }
    switch (path) {
      case 'oauth2/v2.0/authorize':
        route('/{tenant}/oauth2/v2.0/authorize');
        await handleAuthorize(ctx, tenant, this.shared, this.store);
        return true;
      case 'oauth2/v2.0/token':
        route('/{tenant}/oauth2/v2.0/token');
        await handleToken(ctx, tenant, this.shared, this.store, this.issuer);
        return true;
      case 'oauth2/v2.0/devicecode':
        route('/{tenant}/oauth2/v2.0/devicecode');
        await handleDeviceCode(ctx, tenant, this.shared, this.store);
        return true;
      case 'v2.0/.well-known/openid-configuration':
        route('/{tenant}/v2.0/.well-known/openid-configuration');
        handleOpenIdConfiguration(ctx, tenant, 2, this.shared);
        return true;
      case '.well-known/openid-configuration':
        route('/{tenant}/.well-known/openid-configuration');
        handleOpenIdConfiguration(ctx, tenant, 1, this.shared);
        return true;
      case 'discovery/v2.0/keys':
      case 'discovery/keys':
        route('/{tenant}/discovery/v2.0/keys');
        handleKeys(ctx);
        return true;
      default:
        return false;
    }
  }

  async handleAdmin(ctx: RequestContext, subpath: string): Promise<boolean> {
    const { method, res } = ctx;
    try {
      if (subpath === 'stats' && method === 'GET') {
        sendJson(res, 200, this.stats());
        return true;
      }
      if (subpath === 'stats/reset' && method === 'POST') {
        this.resetStats();
        sendJson(res, 200, this.stats());
        return true;
      }
      if (method !== 'POST') return false;
      const body = await readJson(ctx.req);
      const str = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
      switch (subpath) {
        case 'device-codes/approve':
          this.approveDeviceCode(requireString(str('userCode'), 'userCode'), str('user'));
          sendJson(res, 200, { approved: true });
          return true;
        case 'device-codes/decline':
          this.declineDeviceCode(requireString(str('userCode'), 'userCode'));
          sendJson(res, 200, { declined: true });
          return true;
        case 'revoke':
          sendJson(res, 200, { revoked: this.revokeRefreshTokens({ upn: str('upn'), token: str('token'), clientId: str('clientId') }) });
          return true;
        case 'refresh-tokens': {
          const scopes = Array.isArray(body.scopes) ? body.scopes.map(String) : undefined;
          const token = this.issueRefreshToken({ upn: requireString(str('upn'), 'upn'), clientId: str('clientId'), scopes });
          sendJson(res, 200, { refresh_token: token });
          return true;
        }
        default:
          return false;
      }
    } catch (err) {
      if (err instanceof IdentityError) throw new EmulatorHttpError(400, err.error, `AADSTS${err.code}: ${err.message}`);
      throw err;
    }
  }

  async load(): Promise<void> {
    await this.store.load();
    this.store.prune(this.shared.clock.now());
  }

  async flush(): Promise<void> {
    await this.store.flush();
  }

  approveDeviceCode(userCode: string, upn?: string): void {
    decideDeviceCode(this.shared, this.store, userCode, 'approve', upn);
  }

  declineDeviceCode(userCode: string): void {
    decideDeviceCode(this.shared, this.store, userCode, 'decline');
  }

  /** Revokes matching refresh tokens (all of them with an empty filter); returns how many. */
  revokeRefreshTokens(filter: RevokeFilter = {}): number {
    const now = this.shared.clock.now();
    const userId = filter.upn ? findUser(this.shared.directory, filter.upn)?.id : undefined;
    if (filter.upn && !userId) return 0;
    const tokenHash = filter.token ? hashSecret(filter.token) : undefined;
    let count = 0;
    for (const record of this.store.refreshTokens.values()) {
      if (record.revokedAt !== undefined) continue;
      if (userId && record.userId !== userId) continue;
      if (tokenHash && record.hash !== tokenHash) continue;
      if (filter.clientId && record.clientId !== filter.clientId) continue;
      record.revokedAt = now;
      count++;
    }
    if (count) this.store.changed();
    return count;
  }

  /** A refresh token for a user, as if they had signed in with the auth-code flow (no browser). */
  issueRefreshToken(options: IssueRefreshTokenOptions): string {
    const user = findUser(this.shared.directory, options.upn);
    if (!user) throw new Error(`No emulated user "${options.upn}"; known: ${this.shared.directory.users.map((u) => u.userPrincipalName).join(', ')}`);
    const clientId = options.clientId ?? DEMO_CLIENT_ID;
    const app = this.shared.directory.apps.find((a) => a.clientId === clientId);
    if (!app) throw new Error(`No emulated app with client id "${clientId}".`);
    const scopes = options.scopes ?? DEFAULT_DEMO_SCOPES;
    return this.issuer.newRefreshToken(user, clientId, scopes.includes('offline_access') ? scopes : [...scopes, 'offline_access'], delegatedClientType(app));
  }

  stats(): IdentityStats {
    return this.store.stats;
  }

  resetStats(): void {
    this.store.resetStats();
  }
}

function requireString(value: string | undefined, name: string): string {
  if (!value) throw new EmulatorHttpError(400, 'invalidRequest', `The body must contain the string field '${name}'.`);
  return value;
}
