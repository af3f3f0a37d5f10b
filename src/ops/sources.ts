import type { RefresherHealth } from '../auth/refresher.js';
import type { CacheStats } from '../cache/metadata-cache.js';
import type { GraphStatsSnapshot } from '../graph/stats.js';

/** What health and metrics read of an account: its token refresher. */
export interface AccountSource {
  name: string;
  health(): RefresherHealth;
  /** Successful token requests so far. */
  refreshCount: number;
}

/** What health and metrics read of a mount: its Graph client, its cache, and a cheap Graph call. */
export interface MountSource {
  prefix: string;
  account: string;
  graphStats(): GraphStatsSnapshot;
  cacheStats(): CacheStats;
  /** One cheap Graph request for this mount's drive, without retries; rejects when it fails. */
  probe(signal: AbortSignal): Promise<void>;
}
