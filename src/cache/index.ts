export { MetadataCache, type CacheableItem, type CachedDownloadUrl, type CacheStats, type LocalChange, type MetadataCacheOptions, type RemoteChange } from './metadata-cache.js';
export { DeltaPoller, type DeltaFeed, type ChangeSink, type PollLease } from './delta-poller.js';
export { CacheCoherence } from './coherence.js';
export { singleProcessBus, type Invalidation, type InvalidationBus } from './invalidation-bus.js';
export { SingleFlight } from './single-flight.js';
