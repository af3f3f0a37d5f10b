/**
 * What the Graph client did, for metrics: requests per route template and status, retries,
 * throttle waits, token refreshes after a 401.
 */
export interface GraphStatsSnapshot {
  /** Attempts sent, by `METHOD /template` then by status (0 = no HTTP answer). */
  byRoute: Record<string, Record<string, number>>;
  /** Attempts sent in total (retries included). */
  requests: number;
  /** Attempts that were retries. */
  retries: number;
  /** Times a request waited for Retry-After (its own or the shared throttle gate). */
  throttleWaits: number;
  /** Milliseconds spent waiting for Retry-After, summed over requests. */
  throttledMs: number;
  /** Milliseconds spent in exponential backoff, summed. */
  backoffMs: number;
  /** Tokens refreshed because Graph rejected one with 401. */
  authRefreshes: number;
  /** Requests that failed after the policy gave up or did not retry. */
  failures: number;
  /** Request body bytes sent (fragments, simple uploads, JSON), retries included. */
  bytesSent: number;
  /** Upload sessions started, and those not finished yet. */
  uploadSessions: number;
  uploadSessionsOpen: number;
}

export class GraphStats {
  private byRoute = new Map<string, Map<string, number>>();
  requests = 0;
  retries = 0;
  throttleWaits = 0;
  throttledMs = 0;
  backoffMs = 0;
  authRefreshes = 0;
  failures = 0;
  bytesSent = 0;
  uploadSessions = 0;
  uploadSessionsOpen = 0;

  recordAttempt(route: string, status: number): void {
    this.requests++;
    let statuses = this.byRoute.get(route);
    if (!statuses) this.byRoute.set(route, (statuses = new Map()));
    const key = String(status);
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
  }

  snapshot(): GraphStatsSnapshot {
    const byRoute: Record<string, Record<string, number>> = {};
    for (const [route, statuses] of this.byRoute) byRoute[route] = Object.fromEntries(statuses);
    return {
      byRoute,
      requests: this.requests,
      retries: this.retries,
      throttleWaits: this.throttleWaits,
      throttledMs: this.throttledMs,
      backoffMs: this.backoffMs,
      authRefreshes: this.authRefreshes,
      failures: this.failures,
      bytesSent: this.bytesSent,
      uploadSessions: this.uploadSessions,
      uploadSessionsOpen: this.uploadSessionsOpen,
    };
  }
}

/**
 * A route template for a URL path when the caller gave none: ids, encoded names and long opaque
 * tokens become `{…}` so counters stay few.
 */
export function routeTemplate(method: string, pathname: string): string {
  const path = pathname
    .replace(/root:[^:]*:/, 'root:{path}:')
    .split('/')
    .map((segment, i, all) => {
      if (segment === '' || segment === 'root:{path}:') return segment;
      const previous = all[i - 1];
      if (previous === 'items' || previous === 'drives' || previous === 'users' || previous === 'sites' || previous === 'versions') return '{id}';
      if (previous === 'up' || previous === 'dl') return '{token}';
      if (segment.length > 40 || /\d{4,}/.test(segment) || segment.includes('%')) return '{…}';
      return segment;
    })
    .join('/');
  return `${method} ${path}`;
}
