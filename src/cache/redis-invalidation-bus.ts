import type { Redis } from 'ioredis';
import type { SharedRedis } from '../redis/connection.js';
import { REDIS_DEADLINE_MS, withinDeadline } from '../redis/deadline.js';
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
  /** The PING the callers of this tick wait for (see caughtUp). */
  private barrier: Promise<void> | undefined;
  /** A PING went unanswered past the deadline and is still pending. */
  private unanswered = false;

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

  /**
   * Resolves when Redis has answered PUBLISH: it has taken the message before the write is
   * acknowledged, so the client's next request, on any replica, comes after it (that replica's
   * caughtUp then makes sure it has arrived there). Bounded by the outage deadline: a Redis that
   * hangs does not hold a write's answer.
   */
  async publish(drive: string, invalidation: Invalidation): Promise<void> {
    const envelope: Envelope = { from: this.replica, ...invalidation };
    const sent = this.redis.commands.publish(this.channelOf(drive), JSON.stringify(envelope));
    try {
      await withinDeadline(sent, REDIS_DEADLINE_MS, () => new Error(`no answer from Redis within ${REDIS_DEADLINE_MS} ms`));
    } catch (err) {
      sent.catch(() => undefined);
      this.logger.warn('could not publish a cache invalidation; the other replicas will resync when Redis is back', { err: (err as Error).message });
    }
  }

  /**
   * A PING on the subscriber connection, sent after the caller asked (a subscribed client may send
   * PING: https://redis.io/docs/latest/develop/interact/pubsub/). Redis answers commands and
   * delivers messages on a connection in order, so every message published before that PING was
   * processed reaches us before its PONG. A write's PUBLISH was answered before its client could
   * send the next request, so that request, on any replica, sees the write. Waiting for the PUBLISH
   * answer alone was not enough: Redis may answer the publisher before it writes the message to the
   * subscribers, and on a loaded machine it was preempted in between (test/fleet/read-your-writes:
   * 1 stale answer in 160 beside the fleet soak). Callers of one tick share one PING.
   */
  caughtUp(): Promise<void> {
    // Down, or hanging (a PING unanswered past the deadline, until it is answered): no waiting; the
    // requests that need Redis fail on their own, and the caches resync when the bus is back.
    if (this.subscriber.status !== 'ready' || this.unanswered) return Promise.resolve();
    this.barrier ??= new Promise<void>((resolve) => {
      queueMicrotask(() => {
        this.barrier = undefined;
        const pong = this.subscriber.ping();
        withinDeadline(pong, REDIS_DEADLINE_MS, () => new Error('no PONG')).then(
          () => resolve(),
          () => {
            this.unanswered = true;
            pong.then(
              () => (this.unanswered = false),
              () => (this.unanswered = false),
            );
            resolve();
          },
        );
      });
    });
    return this.barrier;
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
