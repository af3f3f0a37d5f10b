import type { TokenRefresher } from '../auth/refresher.js';
import type { DavMetrics } from '../dav/http/metrics.js';
import type { MonitoringEndpoint } from '../dav/http/monitoring.js';
import type { GraphDrive } from '../drive/graph-drive.js';
import type { GraphClient } from '../graph/client.js';
import { HealthChecker, type HealthOptions } from './health.js';
import { createServerMetrics, renderMetrics } from './metrics.js';
import { runtimeMetrics } from './runtime-metrics.js';
import type { AccountSource, MountSource } from './sources.js';

export { HealthChecker, type HealthReport } from './health.js';

export interface MonitoredMount {
  prefix: string;
  account: string;
  drive: GraphDrive;
  client: GraphClient;
}

export interface Monitoring {
  health: HealthChecker;
  /** For `startDavServer({ monitoring: { endpoints } })`: `healthz` and `metrics`. */
  endpoints: Record<string, MonitoringEndpoint>;
}

/**
 * Health and metrics over the running pieces: token refreshers, each mount's Graph client and
 * cache, and the WebDAV server's counters (read lazily: the server starts after this is built).
 */
export function createMonitoring(input: {
  accounts: ReadonlyMap<string, TokenRefresher>;
  mounts: readonly MonitoredMount[];
  dav: () => DavMetrics | undefined;
  health?: HealthOptions;
}): Monitoring {
  const accounts: AccountSource[] = [...input.accounts].map(([name, refresher]) => ({
    name,
    health: () => refresher.health(),
    get refreshCount() {
      return refresher.refreshCount;
    },
  }));
  const mounts: MountSource[] = input.mounts.map(({ prefix, account, drive, client }) => ({
    prefix,
    account,
    graphStats: () => client.stats(),
    cacheStats: () => drive.cacheStats(),
    probe: async (signal) => {
      await drive.api.probe(signal);
    },
  }));
  const health = new HealthChecker(accounts, mounts, input.health);
  const serverMetrics = createServerMetrics({ accounts, mounts, dav: () => input.dav()?.snapshot() });
  // Started now rather than at the first scrape, so that scrape already has GC and event-loop history.
  const runtime = runtimeMetrics();
  return {
    health,
    endpoints: {
      healthz: () => health.response(),
      metrics: async () => {
        if (!input.dav()) return { status: 503, contentType: 'text/plain; charset=utf-8', body: 'The server is still starting.\n' };
        return renderMetrics([serverMetrics, runtime]);
      },
    },
  };
}
