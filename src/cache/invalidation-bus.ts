import type { LocalChange, RemoteChange } from './metadata-cache.js';

/** What one replica tells the others about a drive: drop these, apply those, or drop everything. */
export interface Invalidation {
  /** Written by a replica: each path (with everything below it and its parent's listing) and the item's id. */
  changed?: LocalChange[];
  /** Seen on the delta feed by the replica that polls this drive. */
  remote?: RemoteChange[];
  /** Forget the whole drive (the delta feed asked for a resync, or messages may have been missed). */
  all?: boolean;
}

/**
 * Carries invalidations between the replicas of a fleet, per drive. A replica never receives its
 * own messages back. `resync` handlers run when messages may have been lost (an outage of the bus).
 */
export interface InvalidationBus {
  /**
   * Resolves once the bus has taken the invalidation (its delivery to each replica is then
   * ordered before anything that replica's caughtUp is called for later), or given up on it (an outage, after which every replica resyncs); never rejects.
   */
  publish(drive: string, invalidation: Invalidation): Promise<void>;
  /**
   * Resolves once every invalidation published before this call has been delivered here (or at
   * once when the bus is down, when the caches resync on its return anyway); never rejects.
   */
  caughtUp(): Promise<void>;
  /** Starts delivering `drive`'s invalidations from other replicas to `handler`; returns the unsubscribe. */
  subscribe(drive: string, handler: (invalidation: Invalidation) => void): () => void;
}

/** One process: nobody else caches this drive, so there is no one to tell. */
export const singleProcessBus: InvalidationBus = {
  async publish() {},
  async caughtUp() {},
  subscribe() {
    return () => {};
  },
};
