import { silentLogger, type Logger } from '../util/logger.js';
import { systemClock, type Clock } from '../util/clock.js';
import { ClientConfigError, OAuthError, SignInRequiredError, TransientAuthError } from './errors.js';
import { postForm, type IdentityHttpOptions, type TokenResponse } from './identity-http.js';
import { scopesForRequest, tokenEndpointOf } from './endpoints.js';
import { systemTimers, type Timers } from './timers.js';
import type { TokenSource } from './token-source.js';
import type { SharedRefresh, SignInStore, StoredAccount } from './token-store.js';
import { SharedStateUnavailableError } from '../redis/errors.js';

export interface RetryPolicy {
  /** Tries per refresh, the first included (default 5). */
  attempts: number;
  /** First backoff; doubles each time, with jitter (default 500 ms). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RefresherOptions {
  store: SignInStore;
  record: StoredAccount;
  /** With a shared store: how long one replica's refresh lease lasts (default 15 s; extended while it retries). */
  leaseMs?: number;
  /** With a shared store: how often a replica waiting for another's refresh looks at the record (default 100 ms). */
  sharedPollMs?: number;
  /** Only for confidential clients and client credentials: pass `secretToSend(account settings)`. */
  clientSecret?: string;
  clock?: Clock;
  timers?: Timers;
  http?: IdentityHttpOptions;
  retry?: Partial<RetryPolicy>;
  /** Refresh this long before expiry (default 5 min); short-lived tokens at 80% of their lifetime. */
  refreshMarginMs?: number;
  logger?: Logger;
  random?: () => number;
}

export type HealthState = 'ok' | 'refreshing' | 'unhealthy';

export interface RefresherHealth {
  account: string;
  state: HealthState;
  /** Why the account is unhealthy, or what the last failed refresh said. */
  reason?: string;
  /** Epoch ms of the last successful token request. */
  lastRefresh?: number;
  /** Epoch ms when the current access token expires. */
  expiresAt?: number;
}

/** How often an unhealthy account looks at its token file for a new sign-in. */
const STORE_RECHECK_MS = 5_000;
const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };
/** OAuth errors that a retry can fix; every other one needs a person. */
const RETRYABLE_OAUTH = new Set(['temporarily_unavailable', 'server_error']);

/**
 * Keeps one account's access token fresh. Refreshes ahead of expiry on a timer, single-flight
 * (any number of callers share one token request), persists rotated refresh tokens before using
 * them, retries transport failures with bounded exponential backoff, and stops for good on
 * `invalid_grant`: the account turns unhealthy and every caller gets an error naming the command
 * to run. App-only accounts (client credentials) simply acquire a new token.
 */
export class TokenRefresher implements TokenSource {
  private record: StoredAccount;
  private readonly store: SignInStore;
  private readonly leaseMs: number;
  private readonly sharedPollMs: number;
  /** The access token Graph just refused: never adopted from the shared record again. */
  private rejected: string | undefined;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly retry: RetryPolicy;
  private readonly margin: number;
  private readonly logger: Logger;
  private readonly random: () => number;
  private inflight: Promise<string> | null = null;
  private timer: unknown = null;
  private fatal: Error | null = null;
  private state: HealthState = 'ok';
  private lastFailure: string | undefined;
  private lastRefresh: number | undefined;
  private closed = false;
  private lastStoreCheck: number | undefined;
  /** Successful token requests made by this instance. */
  refreshCount = 0;

  constructor(private readonly options: RefresherOptions) {
    this.record = { ...options.record };
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.margin = options.refreshMarginMs ?? 5 * 60_000;
    this.logger = (options.logger ?? silentLogger).child({ account: this.record.account });
    this.random = options.random ?? Math.random;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.sharedPollMs = options.sharedPollMs ?? 100;
    this.lastRefresh = this.record.obtainedAt;
    if (this.hasUsableToken()) this.schedule();
  }

  /** Opens the saved sign-in of an account; SignInRequiredError when there is none. */
  static async open(store: SignInStore, account: string, options: Omit<RefresherOptions, 'store' | 'record'> = {}): Promise<TokenRefresher> {
    const record = await store.load(account);
    if (!record) throw new SignInRequiredError(account, 'no saved sign-in was found');
    return new TokenRefresher({ ...options, store, record });
  }

  get account(): string {
    return this.record.account;
  }

  /** The saved account, without its tokens (for whoami and logs). */
  describe(): Omit<StoredAccount, 'accessToken' | 'refreshToken' | 'generation'> {
    const { accessToken: _a, refreshToken: _r, generation: _g, ...rest } = this.record;
    return rest;
  }

  async getAccessToken(): Promise<string> {
    if (this.fatal && !(await this.adoptNewSignIn())) throw this.fatal;
    const now = this.clock.now();
    const token = this.record.accessToken;
    if (token && now < this.refreshAt()) return token;
    if (token && now < this.expiresSoonAt()) {
      // The timer should have refreshed already (it may have been late): refresh behind the caller's back.
      void this.refresh().catch(() => {});
      return token;
    }
    return this.refresh();
  }

  async refreshAfterRejection(rejected: string): Promise<string> {
    if (this.fatal && !(await this.adoptNewSignIn())) throw this.fatal;
    if (this.inflight) return this.inflight;
    if (rejected !== this.record.accessToken && this.hasUsableToken()) return this.record.accessToken as string;
    this.rejected = rejected;
    return this.refresh();
  }

  /** Refreshes now (joining a refresh already under way). */
  refresh(): Promise<string> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (!this.inflight) {
      this.inflight = this.refreshWithRetries().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /** Resolves once no refresh is under way (tests use it to let a timer's work finish). */
  async whenIdle(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => {});
  }

  health(): RefresherHealth {
    return {
      account: this.record.account,
      state: this.fatal ? 'unhealthy' : this.state,
      reason: this.fatal ? this.fatal.message : this.lastFailure,
      lastRefresh: this.lastRefresh,
      expiresAt: this.record.expiresAt,
    };
  }

  /** Stops the timer; the refresher still answers, refreshing on demand. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * After a refused refresh, `onedav login` run beside the server writes a new sign-in to the token
   * file. Look for it (at most every few seconds) so the server recovers without a restart.
   */
  private async adoptNewSignIn(): Promise<boolean> {
    const now = this.clock.now();
    if (this.lastStoreCheck !== undefined && now - this.lastStoreCheck < STORE_RECHECK_MS) return false;
    this.lastStoreCheck = now;
    const saved = await this.store.load(this.record.account).catch(() => undefined);
    if (!saved || saved.signInRequired || !saved.refreshToken || saved.refreshToken === this.record.refreshToken) return false;
    this.record = { ...saved };
    this.fatal = null;
    this.state = 'ok';
    this.lastFailure = undefined;
    this.lastRefresh = saved.obtainedAt;
    this.logger.info('picked up a new sign-in from the token store', { at: this.store.where(saved.account) });
    if (this.hasUsableToken()) this.schedule();
    return true;
  }

  private hasUsableToken(): boolean {
    return !!this.record.accessToken && this.record.expiresAt !== undefined && this.clock.now() < this.expiresSoonAt();
  }

  private lifetime(record = this.record): number {
    const { expiresAt, obtainedAt } = record;
    return expiresAt !== undefined && obtainedAt !== undefined ? Math.max(0, expiresAt - obtainedAt) : 0;
  }

  /** When to refresh: `margin` before expiry, but for short-lived tokens at 80% of their lifetime. */
  private refreshAt(record = this.record): number {
    if (record.expiresAt === undefined) return 0;
    return record.expiresAt - Math.min(this.margin, this.lifetime(record) * 0.2);
  }

  /** Past this point a token is too close to expiry to hand out. */
  private expiresSoonAt(): number {
    if (this.record.expiresAt === undefined) return 0;
    return this.record.expiresAt - Math.min(30_000, this.lifetime() * 0.1);
  }

  /** A shared record another replica refreshed, whose access token needs no refresh yet. */
  private isFreshShared(record: StoredAccount | undefined): boolean {
    return !!record?.accessToken && !record.signInRequired && record.accessToken !== this.rejected && this.clock.now() < this.refreshAt(record);
  }

  private schedule(delayMs?: number): void {
    if (this.closed || this.fatal) return;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    const delay = delayMs ?? Math.max(0, this.refreshAt() - this.clock.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.refresh().catch(() => {});
    }, delay);
  }

  private async refreshWithRetries(): Promise<string> {
    this.state = 'refreshing';
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.store.shared) return await this.refreshShared(this.store.shared);
        const response = await this.requestToken();
        return await this.accept(response);
      } catch (err) {
        if (err instanceof OAuthError && !RETRYABLE_OAUTH.has(err.error)) throw await this.fail(err);
        // Redis down or slow: like an unreachable identity service, it may pass; the access token in hand stays in use meanwhile.
        const transient = err instanceof TransientAuthError || err instanceof OAuthError || err instanceof SharedStateUnavailableError;
        if (!transient) {
          this.state = 'ok';
          throw err;
        }
        const reason = (err as Error).message;
        if (attempt >= this.retry.attempts) {
          this.state = 'ok';
          this.lastFailure = `last refresh failed after ${attempt} tries: ${reason}`;
          this.logger.warn('token refresh failed; will try again', { attempts: attempt, reason });
          const remaining = (this.record.expiresAt ?? 0) - this.clock.now();
          this.schedule(Math.min(60_000, Math.max(1_000, remaining / 2)));
          throw new TransientAuthError(`Could not refresh the token of account "${this.record.account}" after ${attempt} tries: ${reason}`);
        }
        const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        const retryAfter = err instanceof TransientAuthError && err.retryAfterSec !== undefined ? err.retryAfterSec * 1000 : 0;
        const delay = Math.min(this.retry.maxDelayMs, Math.max(retryAfter, backoff * (0.5 + this.random() / 2)));
        this.logger.info('token refresh failed; retrying', { attempt, delayMs: Math.round(delay), reason });
        await this.timers.sleep(delay);
      }
    }
  }

  /**
   * Several replicas share the account: exactly one refreshes (it holds the lease), the others wait
   * for its result and use it. The save is fenced by the record's generation, so a replica whose
   * lease ran out mid-refresh (a long pause, a partition) cannot overwrite a newer sign-in with an
   * older one, nor later redeem a refresh token that rotation has already replaced.
   */
  private async refreshShared(shared: SharedRefresh): Promise<string> {
    const account = this.record.account;
    const maxPolls = Math.ceil((2 * this.leaseMs) / this.sharedPollMs);
    for (let poll = 0; ; poll++) {
      const latest = await this.store.load(account);
      if (latest && this.isFreshShared(latest)) return this.adoptShared(latest);
      if (latest?.signInRequired && (latest.generation ?? 0) > (this.record.generation ?? 0)) {
        this.record = { ...latest };
        throw new OAuthError(400, 'invalid_grant', latest.signInRequired);
      }
      const lease = await shared.acquireLease(account, this.leaseMs);
      if (lease) {
        try {
          return await this.refreshUnderLease(shared, lease);
        } finally {
          await lease.release().catch(() => {});
        }
      }
      if (poll >= maxPolls) throw new TransientAuthError(`Another onedav replica has been refreshing the token of account "${account}" for too long`);
      await this.timers.sleep(this.sharedPollMs);
    }
  }

  private async refreshUnderLease(shared: SharedRefresh, lease: { extend(ms: number): Promise<boolean> }): Promise<string> {
    const account = this.record.account;
    // Read again under the lease: the refresh token to redeem is the newest one, never one in memory.
    const current = await this.store.load(account);
    if (current && this.isFreshShared(current)) return this.adoptShared(current);
    if (current) this.record = { ...current };
    const generation = this.record.generation ?? 0;
    // The load may have been slow: redeem the refresh token only while the lease is still ours.
    if (!(await lease.extend(this.leaseMs))) throw new TransientAuthError(`The refresh lease of account "${account}" ran out before the token request`);
    let response: TokenResponse;
    try {
      response = await this.requestToken();
    } catch (err) {
      // invalid_grant right after another replica rotated the token (its lease ran out while it
      // redeemed it): its save shows up shortly; use that instead of declaring the sign-in dead.
      if (err instanceof OAuthError && err.error === 'invalid_grant') {
        const newer = await this.waitForNewerRecord(generation);
        if (newer) return this.adoptShared(newer);
      }
      throw err;
    }
    const next = this.refreshedRecord(response);
    const saved = await shared.saveIfGeneration(next, generation);
    if (saved === undefined) {
      // Fenced off: our lease ran out and another replica saved a newer sign-in meanwhile. Keep theirs.
      this.logger.warn('token refresh outlived its lease; another replica saved a newer sign-in, which is kept', { at: this.store.where(account) });
      const newest = await this.store.load(account);
      if (newest?.accessToken && !newest.signInRequired) return this.adoptShared(newest);
      throw new TransientAuthError(`The token of account "${account}" was refreshed by another replica meanwhile; try again`);
    }
    this.record = { ...next, generation: saved };
    this.refreshCount++;
    return this.refreshed();
  }

  /** Polls the shared record until its generation passes `generation` (bounded by the lease time). */
  private async waitForNewerRecord(generation: number): Promise<StoredAccount | undefined> {
    const polls = Math.ceil(this.leaseMs / this.sharedPollMs);
    for (let i = 0; i < polls; i++) {
      const latest = await this.store.load(this.record.account);
      if (latest && (latest.generation ?? 0) > generation && latest.accessToken && !latest.signInRequired) return latest;
      await this.timers.sleep(this.sharedPollMs);
    }
    return undefined;
  }

  private adoptShared(record: StoredAccount): string {
    this.record = { ...record };
    this.rejected = undefined;
    this.lastRefresh = record.obtainedAt;
    this.lastFailure = undefined;
    this.state = 'ok';
    this.logger.debug('using the token another replica refreshed', { expiresAt: new Date(record.expiresAt as number).toISOString() });
    this.schedule();
    return record.accessToken as string;
  }

  private requestToken(): Promise<TokenResponse> {
    const r = this.record;
    const url = tokenEndpointOf(r);
    // A refresh token from a public-client sign-in is redeemed as a public client: with a secret Entra answers AADSTS700025 (canonical/authd#1881).
    const secret = r.clientType === 'public' ? undefined : this.options.clientSecret;
    if (r.flow === 'clientCredentials') {
      return postForm(url, { grant_type: 'client_credentials', client_id: r.clientId, client_secret: secret, scope: `${r.graphResource}/.default` }, this.options.http);
    }
    if (!r.refreshToken) return Promise.reject(new OAuthError(400, 'invalid_grant', 'no refresh token was saved for this account'));
    return postForm(
      url,
      {
        grant_type: 'refresh_token',
        client_id: r.clientId,
        client_secret: secret,
        refresh_token: r.refreshToken,
        scope: scopesForRequest(r.scopes, r.graphResource).join(' '),
      },
      this.options.http,
    );
  }

  private refreshedRecord(response: TokenResponse): StoredAccount {
    const now = this.clock.now();
    return {
      ...this.record,
      accessToken: response.access_token,
      refreshToken: response.refresh_token ?? this.record.refreshToken,
      expiresAt: now + response.expires_in * 1000,
      obtainedAt: now,
      signInRequired: undefined,
    };
  }

  private async accept(response: TokenResponse): Promise<string> {
    this.record = this.refreshedRecord(response);
    this.refreshCount++;
    // Persist before handing the token out: with rotation, the old refresh token may already be dead.
    try {
      await this.store.save(this.record);
    } catch (err) {
      this.logger.error('could not save the refreshed sign-in; a restart will need a new login', { at: this.store.where(this.record.account), reason: (err as Error).message });
    }
    return this.refreshed();
  }

  private refreshed(): string {
    this.lastRefresh = this.record.obtainedAt;
    this.lastFailure = undefined;
    this.rejected = undefined;
    this.state = 'ok';
    this.logger.debug('token refreshed', { expiresAt: new Date(this.record.expiresAt as number).toISOString() });
    this.schedule();
    return this.record.accessToken as string;
  }

  private async fail(err: OAuthError): Promise<Error> {
    const why = err.description || err.error;
    // invalid_client is the app's secret or client type (AADSTS7000215/7000218/700025), never the user's sign-in.
    const clientProblem = err.error === 'invalid_client' || (this.record.flow === 'clientCredentials' && err.error === 'unauthorized_client');
    this.fatal = clientProblem ? new ClientConfigError(this.record.account, why) : new SignInRequiredError(this.record.account, why);
    this.state = 'unhealthy';
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.logger.error('token refresh refused; sign-in required', { reason: why, command: `onedav login --account ${this.record.account}` });
    this.record = { ...this.record, accessToken: undefined, expiresAt: undefined, signInRequired: why };
    const shared = this.store.shared;
    // Shared: only over the generation this replica read, so a newer sign-in from another replica or `onedav login` survives.
    if (shared) await shared.saveIfGeneration(this.record, this.record.generation ?? 0).catch(() => undefined);
    else await this.store.save(this.record).catch(() => {});
    return this.fatal;
  }
}
