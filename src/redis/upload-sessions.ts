import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../util/logger.js';
import type { SharedRedis } from './connection.js';
import { viaRedis } from './errors.js';
import { STATE_KEY_VARIABLE, type SecretBox } from './secret-box.js';

export interface UploadSessionRegistryOptions {
  /** A replica whose heartbeat is older than this is dead (its heartbeat is renewed every third of it). */
  heartbeatTtlMs?: number;
  /** How often a live replica looks for dead peers' sessions. */
  reapEveryMs?: number;
  /** Seals upload URLs (they carry their own authorization); required unless Redis is on loopback. */
  box?: SecretBox;
  logger?: Logger;
}

/** DELETE on an upload URL: true when the session is gone (cancelled now, or expired/cancelled before). */
export type CancelSession = (uploadUrl: string) => Promise<boolean>;

type RegistryCommands = Redis & {
  onedavBeat(alive: string, dead: string, ttlMs: number): Promise<number>;
  onedavClaimDead(alive: string, dead: string, holdMs: number): Promise<number>;
};

// A replica declared dead stays dead: its heartbeat does not come back under the same id.
const BEAT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1`;

// Checked and marked in one step: a replica whose heartbeat is there is never declared dead.
const CLAIM_DEAD = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 1`;

const DEFAULT_HEARTBEAT_TTL_MS = 15_000;
const DEFAULT_REAP_EVERY_MS = 5_000;
/** How long a dead replica's tombstone stays (far beyond any heartbeat TTL). */
const TOMBSTONE_MS = 24 * 3600 * 1000;

/**
 * The upload sessions of every replica of a fleet, in Redis: a hash per replica (`sessions:<id>`)
 * beside its heartbeat (`alive:<id>`), and the set of replicas (`replicas`). OneDrive for Business
 * takes one open session per file (OneDrive/onedrive-api-docs#747) and Graph cannot list or cancel
 * a session without its URL (microsoftgraph/microsoft-graph-docs-contrib#412, #6558): a replica
 * killed mid-upload would block that file until the session expires. A live replica cancels the
 * sessions of a peer whose heartbeat is gone — only then, checked atomically, so a session whose
 * owner is alive is never cancelled. Replica ids are new at every start: a restarted replica is a
 * new one and its former self's sessions are reaped like any dead peer's.
 */
export class RedisUploadSessions {
  private id: string;
  private readonly commands: RegistryCommands;
  private readonly heartbeatTtlMs: number;
  private readonly reapEveryMs: number;
  private readonly box: SecretBox | undefined;
  private readonly logger: Logger;
  private timers: NodeJS.Timeout[] = [];
  private reaping: Promise<number> | undefined;

  constructor(
    private readonly redis: SharedRedis,
    replica: string,
    options: UploadSessionRegistryOptions = {},
  ) {
    this.id = replica;
    this.heartbeatTtlMs = options.heartbeatTtlMs ?? DEFAULT_HEARTBEAT_TTL_MS;
    this.reapEveryMs = options.reapEveryMs ?? DEFAULT_REAP_EVERY_MS;
    this.box = options.box;
    this.logger = options.logger ?? silentLogger;
    if (!this.box && !redis.loopback) {
      throw new Error(`Upload session URLs are secrets: set ${STATE_KEY_VARIABLE} so they are sealed before they reach a Redis that is not on this machine.`);
    }
    this.commands = redis.commands as RegistryCommands;
    if (typeof this.commands.onedavBeat !== 'function') {
      this.commands.defineCommand('onedavBeat', { numberOfKeys: 2, lua: BEAT });
      this.commands.defineCommand('onedavClaimDead', { numberOfKeys: 2, lua: CLAIM_DEAD });
    }
  }

  /** Registers this replica and keeps its heartbeat; then reaps dead peers now and every reapEveryMs. */
  async start(cancel: CancelSession): Promise<number> {
    await this.beat();
    const beat = setInterval(() => void this.beat().catch(() => undefined), Math.max(50, Math.floor(this.heartbeatTtlMs / 3)));
    const reap = setInterval(() => void this.reapDeadPeers(cancel).catch(() => undefined), this.reapEveryMs);
    for (const timer of [beat, reap]) timer.unref();
    this.timers.push(beat, reap);
    return this.reapDeadPeers(cancel);
  }

  async opened(uploadUrl: string, expirationDateTime?: string): Promise<string> {
    const handle = randomUUID();
    const key = this.sessionsKey(this.id);
    const value = this.seal(JSON.stringify({ uploadUrl, expirationDateTime }), `${key}/${handle}`);
    await viaRedis('upload session', () => this.commands.hset(key, handle, value));
    return `${this.id}/${handle}`;
  }

  async closed(ref: string): Promise<void> {
    const cut = ref.lastIndexOf('/');
    await viaRedis('upload session', () => this.commands.hdel(this.sessionsKey(ref.slice(0, cut)), ref.slice(cut + 1)));
  }

  /** Cancels the sessions of every peer whose heartbeat is gone; returns how many were cancelled. */
  reapDeadPeers(cancel: CancelSession): Promise<number> {
    this.reaping ??= this.reapNow(cancel).finally(() => (this.reaping = undefined));
    return this.reaping;
  }

  /** Stops the heartbeat; a clean shutdown also leaves the fleet (its sessions are all closed by then). */
  async close(options: { leave?: boolean } = {}): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (options.leave === false) return;
    const id = this.id;
    await viaRedis('leave', async () => {
      if ((await this.commands.hlen(this.sessionsKey(id))) > 0) return; // a peer reaps what is left, once we are gone
      await this.commands.multi().srem('replicas', id).del(`alive:${id}`).exec();
    }).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    await viaRedis('heartbeat', async () => {
      // The heartbeat first: a replica listed without one would look dead to a peer reaping right then.
      if ((await this.commands.onedavBeat(`alive:${this.id}`, `dead:${this.id}`, this.heartbeatTtlMs)) === 1) {
        await this.commands.sadd('replicas', this.id);
        return;
      }
      // Declared dead while alive (no heartbeat reached Redis for a whole TTL): its sessions are
      // being cancelled and their uploads fail. Go on under a new id, so new sessions are reaped only if we die.
      const old = this.id;
      this.id = `${old.split('~')[0]}~${randomUUID().slice(0, 8)}`;
      this.logger.warn('this replica was taken for dead (its heartbeat lapsed); its open uploads were cancelled', { replica: old, now: this.id });
      await this.commands.onedavBeat(`alive:${this.id}`, `dead:${this.id}`, this.heartbeatTtlMs);
      await this.commands.sadd('replicas', this.id);
    });
  }

  private async reapNow(cancel: CancelSession): Promise<number> {
    let cancelled = 0;
    const peers = await viaRedis('replicas', () => this.commands.smembers('replicas'));
    for (const peer of peers) {
      if (peer === this.id) continue;
      if ((await viaRedis('claim', () => this.commands.onedavClaimDead(`alive:${peer}`, `dead:${peer}`, TOMBSTONE_MS))) !== 1) continue;
      const key = this.sessionsKey(peer);
      const sessions = await viaRedis('upload sessions', () => this.commands.hgetall(key));
      for (const [handle, value] of Object.entries(sessions)) {
        let uploadUrl: string;
        try {
          uploadUrl = (JSON.parse(this.open(value, `${key}/${handle}`)) as { uploadUrl: string }).uploadUrl;
        } catch (err) {
          this.logger.warn('an upload session left by a dead replica cannot be read; it expires on its own', { replica: peer, err: (err as Error).message });
          await viaRedis('upload sessions', () => this.commands.hdel(key, handle));
          continue;
        }
        // A session we could not reach stays for the next round.
        if (!(await cancel(uploadUrl).catch(() => false))) continue;
        cancelled++;
        await viaRedis('upload sessions', () => this.commands.hdel(key, handle));
      }
      if ((await viaRedis('upload sessions', () => this.commands.hlen(key))) === 0) await viaRedis('replicas', () => this.commands.srem('replicas', peer));
    }
    if (cancelled > 0) this.logger.info('cancelled upload sessions a dead replica left open', { count: cancelled });
    return cancelled;
  }

  private sessionsKey(replica: string): string {
    return `sessions:${replica}`;
  }

  private seal(plain: string, context: string): string {
    return this.box ? this.box.seal(plain, context) : plain;
  }

  private open(value: string, context: string): string {
    return this.box ? this.box.open(value, context) : value;
  }
}
