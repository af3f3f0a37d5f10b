/**
 * Concurrent loads of the same key share one call. A load started before an invalidation is not
 * joined by callers arriving after it (they start a fresh one), and its result is flagged stale so
 * the cache does not store it.
 */
export class SingleFlight<V> {
  private readonly inflight = new Map<string, { promise: Promise<V>; epoch: number }>();
  /** Bumped by every invalidation; loads remember the epoch they started in. */
  epoch = 0;
  coalesced = 0;

  /** Runs `load` unless the same key is already loading in this epoch. `store` runs only if no invalidation happened meanwhile. */
  run(key: string, load: () => Promise<V>, store: (value: V) => void): Promise<V> {
    const current = this.inflight.get(key);
    if (current && current.epoch === this.epoch) {
      this.coalesced++;
      return current.promise;
    }
    const flight = { promise: undefined as unknown as Promise<V>, epoch: this.epoch };
    flight.promise = (async () => {
      try {
        const value = await load();
        if (flight.epoch === this.epoch) store(value);
        return value;
      } finally {
        if (this.inflight.get(key) === flight) this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, flight);
    return flight.promise;
  }

  invalidate(): void {
    this.epoch++;
  }
}
