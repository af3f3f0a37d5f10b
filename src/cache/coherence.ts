import type { ChangeSink } from './delta-poller.js';
import type { Invalidation, InvalidationBus } from './invalidation-bus.js';
import type { CacheableItem, MetadataCache, RemoteChange } from './metadata-cache.js';

/**
 * Keeps one drive's metadata cache coherent with the other replicas' caches of the same drive:
 * what this replica writes is published on the bus, what the others publish is forgotten here, and
 * the remote changes the delta poller sees (it runs on one replica per drive) go to everyone.
 */
export class CacheCoherence<T extends CacheableItem> {
  private readonly unsubscribe: () => void;

  constructor(
    private readonly cache: MetadataCache<T>,
    private readonly bus: InvalidationBus,
    /** The drive's name on the bus: the same on every replica that serves it. */
    private readonly drive: string,
  ) {
    cache.onLocalChange = (change) => bus.publish(drive, { changed: [change] });
    this.unsubscribe = bus.subscribe(drive, (invalidation) => this.apply(invalidation));
  }

  /** Where the delta poller reports: applied here and published to the other replicas. */
  readonly sink: ChangeSink = {
    applyRemoteChanges: (changes: RemoteChange[]) => {
      this.bus.publish(this.drive, { remote: changes });
      return this.cache.applyRemoteChanges(changes);
    },
    invalidateAll: () => {
      this.bus.publish(this.drive, { all: true });
      this.cache.invalidateAll();
    },
  };

  apply(invalidation: Invalidation): void {
    if (invalidation.all) {
      this.cache.invalidateAll();
      return;
    }
    for (const change of invalidation.changed ?? []) this.cache.forgetChanged(change.path, change.id);
    if (invalidation.remote?.length) this.cache.applyRemoteChanges(invalidation.remote);
  }

  close(): void {
    this.unsubscribe();
    this.cache.onLocalChange = undefined;
  }
}
