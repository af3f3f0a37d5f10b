export { GraphClient, type GraphClientOptions, type GraphRequest, type GraphResponse, type GraphStreamResponse, type HttpMethod } from './client.js';
export { GraphError, parseGraphError, parseRetryAfter } from './errors.js';
export { DriveApi, type DriveApiOptions, type ItemRef, type ConflictBehavior, type DownloadUrl, type DeltaPage } from './drive-api.js';
export { type DriveItem, type Quota, type UploadSession, ITEM_SELECT, MAX_PAGE_SIZE } from './items.js';
export * from './paths.js';
export { FULL_GRAPH, graphFeaturesOf, type GraphFeatures } from './features.js';
export { DEFAULT_RETRY, type RetryOptions, type RetryMode } from './retry.js';
export { type GraphStatsSnapshot } from './stats.js';
export { realSleep, type Sleep } from './throttle-gate.js';
export {
  uploadFile,
  planFragments,
  contentRange,
  validateFragmentSize,
  nextExpectedStart,
  FRAGMENT_UNIT,
  DEFAULT_FRAGMENT_SIZE,
  SIMPLE_UPLOAD_MAX,
  type UploadOptions,
} from './upload.js';
export { QuickXorHash, quickXorHash } from './quickxorhash.js';
