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
  /** This replica's own changes on their way to the bus. */
  private readonly publishing = new Set<Promise<void>>();

  constructor(
    private readonly cache: MetadataCache<T>,
    private readonly bus: InvalidationBus,
    /** The drive's name on the bus: the same on every replica that serves it. */
    private readonly drive: string,
  ) {
    cache.onLocalChange = (change) => {
      const sent: Promise<void> = bus.publish(drive, { changed: [change] }).finally(() => this.publishing.delete(sent));
      this.publishing.add(sent);
    };
    this.unsubscribe = bus.subscribe(drive, (invalidation) => this.apply(invalidation));
  }

  /** Where the delta poller reports: applied here and published to the other replicas. */
  readonly sink: ChangeSink = {
    applyRemoteChanges: (changes: RemoteChange[]) => {
      void this.bus.publish(this.drive, { remote: changes });
      return this.cache.applyRemoteChanges(changes);
    },
    invalidateAll: () => {
      void this.bus.publish(this.drive, { all: true });
      this.cache.invalidateAll();
    },
  };

  /**
   * Resolves once every change this replica recorded so far is on the bus. A write's answer waits
   * for it: behind a round-robin balancer the client's next request goes to another replica, which
   * must not serve what it cached before the write.
   */
  async published(): Promise<void> {
    if (this.publishing.size > 0) await Promise.all([...this.publishing]);
  }

  /** Resolves once what the other replicas published before this call has been applied here (InvalidationBus.caughtUp). */
  caughtUp(): Promise<void> {
    return this.bus.caughtUp();
  }

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
