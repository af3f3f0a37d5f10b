import type { RemoteChange } from './metadata-cache.js';

export interface DeltaFeed {
  /** From `link` (or `latest`: just a starting link, no changes) to the next deltaLink. */
  changes(link: string | 'latest'): Promise<{ changes: RemoteChange[]; deltaLink: string }>;
}

export interface ChangeSink {
  applyRemoteChanges(changes: RemoteChange[]): number;
  invalidateAll(): void;
}

/**
 * Several replicas serve one drive: only the holder of this lease polls, and the delta link is kept
 * with it, so the replica that takes over when the holder dies goes on from where it stopped.
 */
export interface PollLease {
  /** Takes or renews the lease; false while another replica holds it. */
  hold(): Promise<boolean>;
  release(): Promise<void>;
  savedLink(): Promise<string | undefined>;
  saveLink(link: string): Promise<void>;
}

/**
 * Polls Graph's delta feed every `intervalMs` and tells the cache what changed remotely, so other
 * clients' edits show up sooner than the TTL. A poll is a GET of the saved deltaLink, which
 * answers only what changed since; with nothing changed, one page holding the next deltaLink, so
 * one Graph call (https://learn.microsoft.com/graph/api/driveitem-delta). A `410 Gone` (resync required) clears the cache and
 * starts again from the latest token; other failures keep the link and try at the next tick.
 */
export class DeltaPoller {
  private link: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = true;
  polls = 0;
  changesSeen = 0;
  failures = 0;
  lastError: Error | undefined;

  constructor(
    private readonly feed: DeltaFeed,
    private readonly sink: ChangeSink,
    private readonly intervalMs: number,
    /** With several replicas: poll only while holding it (one replica per drive). */
    private readonly lease?: PollLease,
  ) {}

  /** Whether this replica polled at its last tick (always, without a lease). */
  holding = false;

  start(): void {
    if (!this.stopped || this.intervalMs <= 0) return;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lease && this.holding) void this.lease.release().catch(() => undefined);
    this.holding = false;
  }

  /** One poll now (coalesced with a running one); returns how many changes it saw. */
  pollOnce(): Promise<number> {
    this.running ??= this.poll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async poll(): Promise<number> {
    try {
      if (this.lease && !(await this.takeTurn())) return 0;
      if (this.link === undefined) {
        this.link = (await this.feed.changes('latest')).deltaLink;
        await this.lease?.saveLink(this.link);
        return 0;
      }
      const { changes, deltaLink } = await this.feed.changes(this.link);
      this.link = deltaLink;
      // A holder that stalled past its lease may save an older link after the new holder's: the
      // next poll then reports some changes again, which only forgets a little more.
      await this.lease?.saveLink(deltaLink);
      this.polls++;
      this.changesSeen += changes.length;
      if (changes.length) this.sink.applyRemoteChanges(changes);
      return changes.length;
    } catch (err) {
      this.failures++;
      this.lastError = err as Error;
      if ((err as { status?: number }).status === 410) {
        this.link = undefined;
        this.sink.invalidateAll();
      }
      return 0;
    }
  }

  /** Whether this replica polls now; a replica that just took the lease goes on from the saved link. */
  private async takeTurn(): Promise<boolean> {
    const held = await this.lease!.hold();
    if (held && !this.holding) this.link = await this.lease!.savedLink();
    this.holding = held;
    return held;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.pollOnce().finally(() => this.schedule(this.intervalMs));
    }, delay);
    this.timer.unref();
  }
}
