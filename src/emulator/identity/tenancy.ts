import type { RequestContext } from '../context.js';
import { CLOUD_FACTS, CONSUMERS_TENANT_ID, findTenant, findUser, type AppRegistration, type Directory, type Tenant, type User } from '../directory.js';
import { readForm } from '../request-io.js';
import { AAD } from './errors.js';

/** What the `{tenant}` path segment of an identity URL names. */
export type TenantScope =
  | { kind: 'common' | 'organizations'; segment: string }
  | { kind: 'consumers'; segment: string; tenant: Tenant }
  | { kind: 'tenant'; segment: string; tenant: Tenant };

export function resolveTenantSegment(dir: Directory, segment: string): TenantScope | undefined {
  const key = segment.toLowerCase();
  if (key === 'common' || key === 'organizations') return { kind: key, segment: key };
  if (key === 'consumers' || key === CONSUMERS_TENANT_ID) {
    const tenant = dir.tenants.find((t) => t.kind === 'consumers');
    return tenant ? { kind: 'consumers', segment: key, tenant } : undefined;
  }
  const tenant = findTenant(dir, key);
  return tenant ? { kind: 'tenant', segment: key, tenant } : undefined;
}

/**
 * The common start of the form-posting endpoints (token, devicecode), in Entra ID's order: POST
 * only, the form read, then the `{tenant}` segment resolved.
 */
export async function readPostedForm(ctx: RequestContext, segment: string, dir: Directory): Promise<{ form: URLSearchParams; scope: TenantScope }> {
  if (ctx.method !== 'POST') {
    ctx.req.resume();
    throw AAD.postOnly(ctx.method);
  }
  const form = await readForm(ctx.req);
  const scope = resolveTenantSegment(dir, segment);
  if (!scope) throw AAD.tenantNotFound(segment);
  return { form, scope };
}

/** The tenant id a flow at this scope issues tokens for, once the user is known. */
function tenantNameOf(scope: TenantScope): string {
  return scope.kind === 'tenant' || scope.kind === 'consumers' ? scope.tenant.id : scope.segment;
}

/** Finds the app and checks it may be used at this tenant scope, as Entra ID does before anything else. */
export function findApp(dir: Directory, clientId: string, scope: TenantScope): AppRegistration {
  const app = dir.apps.find((a) => a.clientId.toLowerCase() === clientId.toLowerCase());
  if (!app) throw AAD.appNotFound(clientId, tenantNameOf(scope));
  if (scope.kind === 'consumers' && !app.allowPersonalAccounts) throw AAD.notForConsumers();
  if ((scope.kind === 'common' || scope.kind === 'organizations') && !app.multiTenant) throw AAD.notMultiTenant(app.clientId, app.displayName);
  if (scope.kind === 'tenant' && scope.tenant.id !== app.tenantId && !app.multiTenant) throw AAD.appNotFound(clientId, scope.tenant.id);
  return app;
}

/**
 * The user who signs in: the `login_hint` one, or by default the first user of the tenant
 * (of the app's home tenant for common/organizations; the personal account for consumers).
 */
export function pickUser(dir: Directory, scope: TenantScope, app: AppRegistration, hint: string | undefined): User {
  let user: User | undefined;
  if (hint) {
    user = findUser(dir, hint);
    if (!user) throw AAD.userNotFound(hint, tenantNameOf(scope));
  } else {
    const tenantId = scope.kind === 'tenant' || scope.kind === 'consumers' ? scope.tenant.id : app.tenantId;
    user = dir.users.find((u) => u.tenantId === tenantId);
    if (!user) throw AAD.userNotFound('(any)', tenantNameOf(scope));
  }
  checkUserFits(dir, scope, app, user);
  return user;
}

export function checkUserFits(dir: Directory, scope: TenantScope, app: AppRegistration, user: User): void {
  const home = dir.tenants.find((t) => t.id === user.tenantId);
  const personal = home?.kind === 'consumers';
  let fits: boolean;
  if (scope.kind === 'tenant') fits = scope.tenant.id === user.tenantId;
  else if (scope.kind === 'consumers') fits = personal;
  else if (scope.kind === 'organizations') fits = !personal;
  else fits = !personal || app.allowPersonalAccounts;
  if (!fits) throw AAD.userNotInTenant(user.userPrincipalName, tenantNameOf(scope));
}

/** Graph's resource identifiers in every cloud, plus the bare app id of Microsoft Graph. */
export function graphResources(baseUrl: string): string[] {
  const hosts = new Set(Object.values(CLOUD_FACTS).map((f) => `https://${f.graphHost}`));
  return [...hosts, baseUrl, '00000003-0000-0000-c000-000000000000'];
}

const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
const GRAPH_PERMISSION = /^(Files|Sites|User|Directory|Group|Mail|Calendars|Contacts|Notes|People|Tasks)\.[A-Za-z.]+$/;

/** Delegated scopes the emulator grants by default for `https://graph.microsoft.com/.default`. */
const DEFAULT_DELEGATED = ['Files.ReadWrite.All', 'Sites.ReadWrite.All', 'User.Read'];
/** Application roles app-only tokens carry. */
export const APP_ROLES = ['Files.ReadWrite.All', 'Sites.ReadWrite.All', 'User.Read.All'];

export interface ParsedScopes {
  /** As requested, normalised to Graph's short names (`Files.ReadWrite.All`, `offline_access`). */
  all: string[];
  /** What goes into the access token's `scp`. */
  graph: string[];
  offlineAccess: boolean;
  openid: boolean;
}

/** Parses a delegated `scope` parameter; unknown scopes are Entra ID's AADSTS70011. */
export function parseDelegatedScopes(raw: string, baseUrl: string): ParsedScopes {
  const resources = graphResources(baseUrl);
  const all: string[] = [];
  const graph = new Set<string>();
  for (const item of raw.split(/\s+/).filter(Boolean)) {
    let name = item;
    const resource = resources.find((r) => item.toLowerCase().startsWith(`${r.toLowerCase()}/`));
    if (resource) name = item.slice(resource.length + 1);
    if (OIDC_SCOPES.has(name.toLowerCase())) {
      all.push(name.toLowerCase());
      continue;
    }
    if (name === '.default') {
      for (const s of DEFAULT_DELEGATED) graph.add(s);
      all.push(item);
      continue;
    }
    if (!GRAPH_PERMISSION.test(name)) throw AAD.invalidScope(item);
    graph.add(name);
    all.push(name);
  }
  if (all.length === 0) throw AAD.missingParameter('scope');
  return { all, graph: [...graph], offlineAccess: all.includes('offline_access'), openid: all.includes('openid') };
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether a requested redirect URI matches a registered one. Exact match, except that for
 * loopback (`http://localhost`, `http://127.0.0.1`) registrations the port is ignored, as Entra ID
 * allows for native apps.
 */
export function redirectUriMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  let reg: URL;
  let req: URL;
  try {
    reg = new URL(registered);
    req = new URL(requested);
  } catch {
    return false;
  }
  if (reg.protocol !== 'http:' || !LOOPBACK.has(reg.hostname) || reg.hostname !== req.hostname || req.protocol !== 'http:') return false;
  const trim = (p: string) => p.replace(/\/+$/, '') || '/';
  return trim(reg.pathname) === trim(req.pathname) && reg.search === req.search;
}
