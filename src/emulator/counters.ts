/**
 * Per-route request counters. Handlers name their route with a template
 * (`GET /drives/{drive-id}/items/{item-id}/children`), so benchmarks and tests can
 * count Graph calls per kind of request.
 */
export type RouteCategory = 'graph' | 'upload' | 'download' | 'identity' | 'admin' | 'unknown';

export interface CounterSnapshot {
  /** Requests to the Graph API plus upload-session URLs: what Microsoft throttles on. */
  graphCalls: number;
  byCategory: Record<string, number>;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
}

export class RequestCounters {
  private byCategory = new Map<string, number>();
  private byRoute = new Map<string, number>();
  private byStatus = new Map<string, number>();

  record(category: RouteCategory, route: string, status: number): void {
    if (category === 'admin') return;
    bump(this.byCategory, category);
    bump(this.byRoute, `${category}: ${route}`);
    bump(this.byStatus, `${category}: ${status}`);
  }

  snapshot(): CounterSnapshot {
    const byCategory = Object.fromEntries(this.byCategory);
    return {
      graphCalls: (byCategory.graph ?? 0) + (byCategory.upload ?? 0),
      byCategory,
      byRoute: Object.fromEntries(this.byRoute),
      byStatus: Object.fromEntries(this.byStatus),
    };
  }

  reset(): void {
    this.byCategory.clear();
    this.byRoute.clear();
    this.byStatus.clear();
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
