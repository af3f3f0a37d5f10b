import type { RequestContext, SharedState } from '../context.js';
import { findUser, type Site, type User } from '../directory.js';
import { EmulatorHttpError } from '../request-io.js';
import type { TokenPrincipal } from '../access-tokens.js';
import type { DriveRecord } from './model.js';
import type { DriveRef, SiteRef } from './route.js';
import type { DriveStore } from './store.js';

const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
const READ_SCOPES = ['files.read', 'files.read.all', 'sites.read.all'];
const WRITE_SCOPES = ['files.readwrite', 'files.readwrite.all', 'sites.readwrite.all', 'sites.manage.all', 'sites.fullcontrol.all'];

/**
 * Who may reach what. Delegated tokens reach the signed-in user's own drive and the sites of their
 * tenant; app-only tokens reach every user's drive and every site of their tenant but have no `/me`.
 */
export class DriveAccess {
  constructor(
    private readonly shared: SharedState,
    private readonly store: DriveStore,
  ) {}

  /** Checks the bearer token; 401 InvalidAuthenticationToken with Graph's messages otherwise. */
  authenticate(ctx: RequestContext): TokenPrincipal {
    const check = this.shared.tokens.check(ctx.req.headers.authorization);
    if (!check.ok) {
      const message = {
        missing: 'Access token is empty.',
        malformed: 'IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format.',
        expired: 'Lifetime validation failed, the token is expired.',
        'invalid-signature': 'Access token validation failure. Invalid signature.',
      }[check.reason];
      throw this.unauthorized(message);
    }
    const principal = check.principal;
    const tenantKnown = this.shared.directory.tenants.some((t) => t.id === principal.tenantId);
    const userKnown = principal.appOnly || (principal.userId !== undefined && this.shared.directory.users.some((u) => u.id === principal.userId));
    if (!tenantKnown || !userKnown) throw this.unauthorized('Access token validation failure. Invalid audience.');
    return principal;
  }

  unauthorized(message: string): EmulatorHttpError {
    return new EmulatorHttpError(401, 'InvalidAuthenticationToken', message, {
      'www-authenticate': `Bearer realm="", authorization_uri="${this.shared.baseUrl}/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
    });
  }

  requireRead(principal: TokenPrincipal): void {
    if (!this.hasScope(principal, [...READ_SCOPES, ...WRITE_SCOPES])) {
      throw new EmulatorHttpError(403, 'accessDenied', 'Access denied. The token carries no Files.* or Sites.* permission; request Files.Read or Files.ReadWrite.');
    }
  }

  requireWrite(principal: TokenPrincipal): void {
    if (!this.hasScope(principal, WRITE_SCOPES)) {
      throw new EmulatorHttpError(403, 'accessDenied', 'Access denied. Writing needs the Files.ReadWrite (or Sites.ReadWrite.All) permission.');
    }
  }

  private hasScope(principal: TokenPrincipal, wanted: string[]): boolean {
    const scopes = principal.scopes.map((s) => s.toLowerCase().replace(/^.*\//, ''));
    return scopes.some((s) => s === '.default' || wanted.includes(s));
  }

  /** `/me`: the signed-in user; app-only tokens get Graph's 400. */
  me(principal: TokenPrincipal): User {
    if (principal.appOnly || !principal.userId) {
      throw new EmulatorHttpError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
    }
    const user = this.shared.directory.users.find((u) => u.id === principal.userId);
    if (!user) throw this.unauthorized('Access token validation failure. Invalid audience.');
    return user;
  }

  user(principal: TokenPrincipal, idOrUpn: string): User {
    const user = findUser(this.shared.directory, idOrUpn);
    if (!user || user.tenantId !== principal.tenantId) {
      throw new EmulatorHttpError(404, 'Request_ResourceNotFound', `Resource '${idOrUpn}' does not exist or one of its queried reference-property objects are not present.`);
    }
    return user;
  }

  site(principal: TokenPrincipal, ref: SiteRef): Site {
    const tenant = this.shared.directory.tenants.find((t) => t.id === principal.tenantId);
    if (!tenant?.sharepointHost) {
      throw new EmulatorHttpError(400, 'invalidRequest', 'SharePoint sites are not available to personal Microsoft accounts.');
    }
    const sites = this.shared.directory.sites.filter((s) => s.tenantId === tenant.id);
    let site: Site | undefined;
    if (ref.by === 'root') site = sites.find((s) => s.path === '');
    else if (ref.by === 'id') site = sites.find((s) => s.id.toLowerCase() === ref.id.toLowerCase() || s.id.split(',')[1] === ref.id);
    else if (ref.hostname === tenant.sharepointHost) site = sites.find((s) => s.path.toLowerCase() === ref.path.toLowerCase().replace(/\/$/, ''));
    if (!site) throw new EmulatorHttpError(404, 'itemNotFound', 'Requested site could not be found');
    return site;
  }

  /** The drive a request addresses, after the access rules. */
  drive(principal: TokenPrincipal, ref: DriveRef): DriveRecord {
    if (ref.by === 'me') return this.driveOf(this.me(principal));
    if (ref.by === 'user') {
      const user = this.user(principal, ref.user);
      if (!principal.appOnly && user.id !== principal.userId) throw denied();
      return this.driveOf(user);
    }
    if (ref.by === 'site') {
      const site = this.site(principal, ref.site);
      return this.existing(site.driveId);
    }
    const drive = this.store.drive(ref.id);
    if (!drive || drive.tenantId !== principal.tenantId) {
      throw new EmulatorHttpError(404, 'itemNotFound', `The drive '${ref.id}' could not be found. List the drives you can reach with GET /me/drives or /sites/{site-id}/drives.`);
    }
    if (!principal.appOnly && drive.ownerUserId && drive.ownerUserId !== principal.userId) throw denied();
    return drive;
  }

  driveOf(user: User): DriveRecord {
    return this.existing(user.driveId);
  }

  private existing(driveId: string): DriveRecord {
    const drive = this.store.drive(driveId);
    if (!drive) throw new EmulatorHttpError(404, 'itemNotFound', `The drive '${driveId}' could not be found.`);
    return drive;
  }
}

function denied(): EmulatorHttpError {
  return new EmulatorHttpError(403, 'accessDenied', 'Access denied. You do not have permission to perform this action or access this resource.');
}
