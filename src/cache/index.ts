export { MetadataCache, type CacheableItem, type CachedDownloadUrl, type CacheStats, type MetadataCacheOptions, type RemoteChange } from './metadata-cache.js';
export { DeltaPoller, type DeltaFeed, type ChangeSink } from './delta-poller.js';
export { SingleFlight } from './single-flight.js';
