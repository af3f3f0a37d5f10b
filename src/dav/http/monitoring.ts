import type { IncomingMessage, ServerResponse } from 'node:http';
import { basicChallenge } from '../access/basic-auth.js';
import { send, type DavServerState } from './context.js';

/**
 * Health and metrics live under `/.well-known/onedav/` (RFC 8615's namespace for site-wide
 * metadata), not at `/healthz` and `/metrics`: with a drive mounted at `/`, those names could be a
 * user's own folder or file, and answering them with something else would be a surprise. Only this
 * one prefix is reserved; `/.well-known/anything-else` is still the drive's. Prometheus and
 * Kubernetes take the path as configured (`metrics_path`, `httpGet.path`).
 */
export const MONITORING_PREFIX = '/.well-known/onedav/';

export interface MonitoringResponse {
  status: number;
  contentType: string;
  body: string;
}

export type MonitoringEndpoint = () => Promise<MonitoringResponse>;

export interface MonitoringOptions {
  /** By name under the prefix: `healthz`, `metrics`. */
  endpoints: Record<string, MonitoringEndpoint>;
  /** `open`: anyone who can reach the port; `users`: a configured WebDAV user's credentials. */
  access: 'open' | 'users';
}

/** The endpoint name when `url` is under the monitoring prefix, else undefined. */
export function monitoringTarget(url: string | undefined): string | undefined {
  const path = (url ?? '').split('?')[0];
  if (path === MONITORING_PREFIX.slice(0, -1) || path.startsWith(MONITORING_PREFIX)) return path.slice(MONITORING_PREFIX.length);
  return undefined;
}

export async function serveMonitoring(state: DavServerState, options: MonitoringOptions, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const noStore = { 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8' };
  const endpoint = Object.hasOwn(options.endpoints, name) ? options.endpoints[name] : undefined;
  if (!endpoint) {
    return send(res, 404, noStore, `Nothing here. Try ${Object.keys(options.endpoints).map((n) => MONITORING_PREFIX + n).join(' or ')}.\n`);
  }
  const method = (req.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') return send(res, 405, { ...noStore, Allow: 'GET, HEAD' }, `${method} is not supported here; use GET.\n`);
  if (options.access === 'users') {
    const auth = await state.auth.authenticate(req);
    if (!auth.ok && auth.reason === 'throttled') {
      return send(res, 429, { ...noStore, 'Retry-After': String(auth.retryAfterSeconds) }, `Too many failed logins from your address; try again in ${auth.retryAfterSeconds} seconds.\n`);
    }
    // Gateway people (a principal with drives of its own) are not the operators the setting means.
    if (!auth.ok || auth.principal.anonymous || auth.principal.mounts) {
      return send(res, 401, { ...noStore, 'WWW-Authenticate': basicChallenge(state.realm) }, 'The monitoring endpoints need a WebDAV user name and password (server.monitoring is "users").\n');
    }
  }
  const answer = await endpoint();
  send(res, answer.status, { 'Cache-Control': 'no-store', 'Content-Type': answer.contentType }, answer.body);
}
