import type { Redis } from 'ioredis';
import type { SharedRedis } from '../redis/connection.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { Invalidation, InvalidationBus } from './invalidation-bus.js';

interface Envelope extends Invalidation {
  /** The replica that published it: it applied the change already and ignores its own echo. */
  from: string;
}

/**
 * The invalidation bus of a fleet on Redis pub/sub, one channel per drive (`invalidate:<drive>`).
 * Pub/sub delivers only to subscribers connected at that moment and keeps nothing: a replica whose
 * subscription dropped (Redis restarted, the network blinked) cannot know what it missed, so when
 * its subscriber is back (ioredis resubscribes by itself) it forgets every drive's cache once.
 * A publish that fails is dropped: Redis is down then, so every other replica's subscriber is down
 * too and will forget everything when it comes back.
 */
export class RedisInvalidationBus implements InvalidationBus {
  private readonly subscriber: Redis;
  private readonly handlers = new Map<string, Set<(invalidation: Invalidation) => void>>();
  private lost = false;
  private subscribing: Array<Promise<unknown>> = [];

  constructor(
    private readonly redis: SharedRedis,
    /** This replica's id (random per process start). */
    private readonly replica: string,
    private readonly logger: Logger = silentLogger,
  ) {
    this.subscriber = redis.subscriber();
    this.subscriber.on('message', (channel: string, text: string) => this.deliver(channel, text));
    this.subscriber.on('close', () => (this.lost = true));
    this.subscriber.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      this.logger.info('invalidation bus back after an outage: forgetting cached metadata, which may have missed changes');
      for (const set of this.handlers.values()) for (const handler of set) handler({ all: true });
    });
  }

  publish(drive: string, invalidation: Invalidation): void {
    const envelope: Envelope = { from: this.replica, ...invalidation };
    this.redis.commands.publish(this.channelOf(drive), JSON.stringify(envelope)).catch((err: Error) => {
      this.logger.warn('could not publish a cache invalidation; the other replicas will resync when Redis is back', { err: err.message });
    });
  }

  subscribe(drive: string, handler: (invalidation: Invalidation) => void): () => void {
    const channel = this.channelOf(drive);
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      this.subscribing.push(this.subscriber.subscribe(channel).catch((err: Error) => this.logger.warn('could not subscribe to cache invalidations', { err: err.message })));
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(channel) === set) {
        this.handlers.delete(channel);
        void this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /** Resolves once every channel subscribed so far is listened to: a replica serves nothing before. */
  async ready(): Promise<void> {
    await Promise.all(this.subscribing);
  }

  private deliver(channel: string, text: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (envelope.from === this.replica) return;
    for (const handler of this.handlers.get(channel) ?? []) handler(envelope);
  }

  private channelOf(drive: string): string {
    return this.redis.channel(`invalidate:${drive}`);
  }
}
