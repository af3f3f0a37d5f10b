import type { TokenSource } from '../auth/token-source.js';
import { GraphClient, type GraphClientOptions } from '../graph/client.js';
import { DriveApi } from '../graph/drive-api.js';
import type { GraphFeatures } from '../graph/features.js';
import type { DriveBase } from '../graph/paths.js';
import type { Sleep } from '../graph/throttle-gate.js';
import type { Clock } from '../util/clock.js';
import { GraphDrive, type GraphDriveOptions } from './graph-drive.js';

export interface CreateGraphDriveOptions {
  /** Graph's versioned root: `https://graph.microsoft.com/v1.0`, or `${emulator.url}/v1.0`. */
  graphBaseUrl: string;
  tokens: TokenSource;
  /** Which drive: `{type:'me'}`, `{type:'id', id}`, `{type:'user', user}`, `{type:'site', site}`. */
  drive: DriveBase;
  cache?: GraphDriveOptions['cache'];
  upload?: GraphDriveOptions['upload'];
  spoolDir?: string;
  /** How long a download URL is trusted after fetching it (default 2 min: graph/drive-api.ts). */
  downloadUrlLifetimeMs?: number;
  /** Extra GraphClient options (concurrency, timeouts, retry, its own clock). */
  client?: Partial<Omit<GraphClientOptions, 'baseUrl' | 'tokens'>>;
  uploadJournal?: GraphDriveOptions['uploadJournal'];
  /** Several replicas serve this drive (Redis). */
  shared?: GraphDriveOptions['shared'];
  /** What an earlier run learned about this drive (drive-memory.ts). */
  memory?: GraphDriveOptions['memory'];
  logger?: GraphDriveOptions['logger'];
  /** How the drive waits between its own retries (an upload session's transient 404s); tests inject one that does not. */
  sleep?: Sleep;
  clock?: Clock;
  /** What the drive's cloud serves (`graphFeaturesOf(cloud)`); default everything, as the global cloud. */
  features?: GraphFeatures;
}

/** Wires a GraphClient, a DriveApi and a GraphDrive for one mount (what `cli/serve` needs). */
export function createGraphDrive(options: CreateGraphDriveOptions): { drive: GraphDrive; client: GraphClient; close(): Promise<void> } {
  // The client keeps real time (its throttle gate sleeps on real timers); `clock` drives expiry only.
  const client = new GraphClient({ baseUrl: options.graphBaseUrl, tokens: options.tokens, ...options.client });
  const api = new DriveApi(client, options.drive, { downloadUrlLifetimeMs: options.downloadUrlLifetimeMs, clock: options.clock, features: options.features, sleep: options.sleep });
  const drive = new GraphDrive({
    api,
    cache: options.cache,
    upload: options.upload,
    spoolDir: options.spoolDir,
    documentLibrary: options.drive.type === 'site',
    uploadJournal: options.uploadJournal,
    shared: options.shared,
    memory: options.memory,
    logger: options.logger,
    clock: options.clock,
  });
  return {
    drive,
    client,
    async close() {
      drive.close();
      await client.close();
    },
  };
}
