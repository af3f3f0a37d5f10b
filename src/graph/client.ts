import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { TokenSource } from '../auth/token-source.js';
import { systemClock, type Clock } from '../util/clock.js';
import { currentRequestScope } from '../util/request-scope.js';
import { parseCollectionPage } from './collection-page.js';
import { ABORTED, GraphError, parseGraphError } from './errors.js';
import { classifyTransportError, DEFAULT_RETRY, delayBeforeRetry, isRetryable, type RetryMode, type RetryOptions } from './retry.js';
import { GraphStats, routeTemplate, type GraphStatsSnapshot } from './stats.js';
import { realSleep, ThrottleGate, type Sleep } from './throttle-gate.js';

export interface GraphClientOptions {
  /** Graph's versioned root, e.g. `https://graph.microsoft.com/v1.0` or `${emulator.url}/v1.0`. */
  baseUrl: string;
  tokens: TokenSource;
  /** Requests in flight at once, over all hosts (default 8). Waiting for Retry-After frees the slot. */
  maxConcurrency?: number;
  /** Keep-alive connections per host (default: maxConcurrency). */
  connectionsPerHost?: number;
  connectTimeoutMs?: number;
  /** Time to the response headers (default 60 s). */
  headersTimeoutMs?: number;
  /** Longest silence while a body flows (default 120 s). */
  bodyTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  retry?: Partial<RetryOptions>;
  clock?: Clock;
  /** How the client waits; tests wrap the real one to see the delays asked for. */
  sleep?: Sleep;
  random?: () => number;
  userAgent?: string;
  /** Replaces the client's own undici Agent (tests, proxies). */
  dispatcher?: Dispatcher;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface GraphRequest {
  method: HttpMethod;
  /** A path under the base URL (`/me/drive/root`) or an absolute URL (nextLink, uploadUrl, monitor). */
  path: string;
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is (fragments, simple uploads). Buffers only: retries resend them. */
  body?: Uint8Array;
  headers?: Record<string, string>;
  /** Send `Authorization: Bearer` (default true). Upload and download URLs are pre-authenticated: false. */
  auth?: boolean;
  /** Counter name, e.g. `GET /drive/items/{id}/children`; derived from the URL when absent. */
  route?: string;
  /** Default: idempotent for GET/HEAD/PUT/PATCH/DELETE, unsent-only for POST. */
  retry?: RetryMode;
  signal?: AbortSignal;
  /**
   * An abort ends the waits (throttle gate, slot, backoff) but never an attempt already on its way:
   * for requests that make something only their answer lets us undo (an upload session).
   */
  finishOnceSent?: boolean;
  /** Statuses ≥ 400 to hand back instead of raising (e.g. 416 for a download range). */
  acceptStatuses?: number[];
}

export interface GraphResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  body: T;
}

export interface GraphStreamResponse {
  status: number;
  headers: Record<string, string>;
  body: Readable;
}

type Accept<R> = (res: Dispatcher.ResponseData) => Promise<R>;

/** What every attempt of one request shares. */
interface PreparedRequest {
  req: GraphRequest;
  url: URL;
  route: string;
  auth: boolean;
  headers: Record<string, string>;
  body: Uint8Array | string | undefined;
}

/** What one attempt came to: the caller's answer, or a failure for the retry loop to judge. */
type AttemptOutcome<R> = { answered: true; value: R } | { answered: false; failure: GraphError; unsent: boolean };

/** One answer of a paged collection. */
type CollectionPage<T> = { value?: T[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string };

/**
 * The one request path to Graph: undici keep-alive pools per host, a concurrency cap, timeouts,
 * bearer tokens from a TokenSource (one refresh and one retry on 401), JSON in and out, and the one
 * retry policy with a shared "throttled until" gate. Callers never loop on failures.
 */
export class GraphClient {
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly tokens: TokenSource;
  private readonly retry: RetryOptions;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly gate: ThrottleGate;
  private readonly slots: Semaphore;
  private readonly userAgent: string;
  private readonly counters = new GraphStats();

  constructor(options: GraphClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.tokens = options.tokens;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.clock = options.clock ?? systemClock;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    this.gate = new ThrottleGate(this.clock, this.sleep);
    const concurrency = options.maxConcurrency ?? 8;
    this.slots = new Semaphore(concurrency);
    this.userAgent = options.userAgent ?? 'onedav/0.1';
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        connections: options.connectionsPerHost ?? concurrency,
        connect: { timeout: options.connectTimeoutMs ?? 10_000 },
        headersTimeout: options.headersTimeoutMs ?? 60_000,
        bodyTimeout: options.bodyTimeoutMs ?? 120_000,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      });
  }

  /** A request whose answer is JSON (parsed) or empty (`undefined`). Non-2xx raise GraphError. */
  async request<T = unknown>(req: GraphRequest): Promise<GraphResponse<T>> {
    return this.run(req, async (res) => {
      const text = await res.body.text();
      const contentType = String(res.headers['content-type'] ?? '');
      let body: unknown = undefined;
      if (text.length > 0 && contentType.includes('json')) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new GraphError(res.statusCode, 'invalidResponse', `Graph sent a malformed JSON body (HTTP ${res.statusCode}).`);
        }
      } else if (text.length > 0) {
        body = text;
      }
      return { status: res.statusCode, headers: flattenHeaders(res.headers), body: body as T };
    });
  }

  /** One page of a collection, its members parsed one by one (collection-page.ts: no page-sized string). */
  private async collectionPage<T>(req: GraphRequest): Promise<CollectionPage<T>> {
    return this.run(req, async (res) => {
      const bytes = new Uint8Array(await res.body.arrayBuffer());
      // As request(): an empty or non-JSON answer is no page at all.
      if (bytes.length === 0 || !String(res.headers['content-type'] ?? '').includes('json')) return {};
      try {
        return (parseCollectionPage(bytes) ?? {}) as CollectionPage<T>;
      } catch {
        throw new GraphError(res.statusCode, 'invalidResponse', `Graph sent a malformed JSON body (HTTP ${res.statusCode}).`);
      }
    });
  }

  /** A request whose body the caller streams (downloads). Retried only until the headers arrive. */
  async stream(req: GraphRequest): Promise<GraphStreamResponse> {
    return this.run(req, async (res) => ({ status: res.statusCode, headers: flattenHeaders(res.headers), body: res.body as unknown as Readable }), true);
  }

  /** Every page of a collection, following `@odata.nextLink`; the last page carries `@odata.deltaLink` for delta queries. */
  async *pages<T>(req: GraphRequest): AsyncGenerator<{ value: T[]; deltaLink?: string }> {
    let next: GraphRequest | undefined = req;
    const route = req.route ?? routeTemplate(req.method, new URL(this.urlFor(req)).pathname);
    // Held in `body` only until handed out: the consumer is done with a page when it asks for the
    // next, and a page kept through the next request lives long enough to be promoted to V8's old
    // generation — 1,000 parsed items per page of a 100,000-item listing, garbage only a full GC frees.
    let body: CollectionPage<T> | undefined;
    for (let page = 0; next; page++) {
      body = undefined;
      body = await this.collectionPage<T>(next);
      const nextLink: string | undefined = body['@odata.nextLink'];
      next = nextLink ? { ...req, path: nextLink, query: undefined, route } : undefined;
      if (page > 1_000_000) throw new GraphError(0, 'invalidResponse', 'Graph kept sending nextLinks; giving up on this listing.');
      yield { value: body.value ?? [], deltaLink: body['@odata.deltaLink'] };
    }
  }

  stats(): GraphStatsSnapshot {
    return this.counters.snapshot();
  }

  /** Counts an upload session as open until the returned function is called (for metrics). */
  trackUploadSession(): () => void {
    this.counters.uploadSessions++;
    this.counters.uploadSessionsOpen++;
    let done = false;
    return () => {
      if (!done) this.counters.uploadSessionsOpen--;
      done = true;
    };
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  /** The absolute URL a request goes to. */
  private urlFor(req: Pick<GraphRequest, 'path' | 'query'>): string {
    const base = /^https?:\/\//i.test(req.path) ? req.path : `${this.baseUrl}${req.path.startsWith('/') ? '' : '/'}${req.path}`;
    const query = Object.entries(req.query ?? {}).filter(([, v]) => v !== undefined);
    if (query.length === 0) return base;
    const encoded = query.map(([k, v]) => `${k}=${encodeURIComponent(String(v)).replace(/%2C/gi, ',')}`).join('&');
    return `${base}${base.includes('?') ? '&' : '?'}${encoded}`;
  }

  /**
   * The retry loop, and the one place that applies retry.ts's policy: passes the throttle gate and
   * takes a concurrency slot before each attempt, refreshes the token once after a 401, and waits
   * (Retry-After, else jittered backoff) within the attempt and wait budgets.
   */
  private async run<R>(req: GraphRequest, accept: Accept<R>, releaseAtHeaders = false): Promise<R> {
    const call = this.prepare(req);
    const origin = call.url.origin;
    const mode: RetryMode = req.retry ?? (req.method === 'POST' ? 'unsent-only' : 'idempotent');
    let retries = 0;
    let waitedMs = 0;
    let refreshed = false;
    let token: string | undefined;
    const bearer = async (): Promise<string> => {
      const current = refreshed && token ? token : await this.tokens.getAccessToken().catch((err: unknown) => Promise.reject(tokenFailure(err)));
      token = current;
      return current;
    };

    for (;;) {
      throwIfAborted(req.signal);
      waitedMs += await this.admit(origin, req.signal);
      const outcome = await this.attempt(call, bearer, accept, releaseAtHeaders);
      if (outcome.answered) return outcome.value;
      const { failure, unsent } = outcome;

      if (failure.status === 401 && call.auth && !refreshed && token) {
        refreshed = true;
        this.counters.authRefreshes++;
        token = await this.tokens.refreshAfterRejection(token).catch((err: unknown) => Promise.reject(tokenFailure(err)));
        continue;
      }
      const attemptsLeft = retries + 1 < this.retry.maxAttempts;
      if (!attemptsLeft || !isRetryable({ status: failure.status, unsent, code: failure.code }, mode)) {
        this.counters.failures++;
        throw failure;
      }
      const delay = delayBeforeRetry(retries, failure.retryAfter, this.retry, this.random);
      if (waitedMs + delay > this.retry.maxTotalWaitMs) {
        this.counters.failures++;
        throw failure;
      }
      retries++;
      this.counters.retries++;
      const scope = currentRequestScope();
      if (scope) scope.graphRetries++;
      if (failure.retryAfter !== undefined || failure.status === 429) {
        // Everyone waits: the gate is checked before every attempt to this origin.
        this.gate.closeFor(origin, delay);
      } else if (delay > 0) {
        this.counters.backoffMs += delay;
        waitedMs += delay;
        if (scope) scope.graphWaitMs += delay;
        await this.guard(this.sleep(delay, req.signal));
      }
    }
  }

  /** What every attempt of a request shares: its URL, counter route, headers and encoded body. */
  private prepare(req: GraphRequest): PreparedRequest {
    const url = new URL(this.urlFor(req));
    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: 'application/json', ...req.headers };
    let body: Uint8Array | string | undefined = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    }
    const auth = req.auth ?? true;
    // A pre-authenticated URL never gets a bearer token, not even one the caller put in `headers`.
    if (!auth) delete headers.authorization;
    return { req, url, route: req.route ?? routeTemplate(req.method, url.pathname), auth, headers, body };
  }

  /**
   * Passes the throttle gate, then takes a concurrency slot; re-checks the gate in case it closed
   * while we queued. Returns how long the gate held us (ms). The slot is the next attempt's to release.
   */
  private async admit(origin: string, signal: AbortSignal | undefined): Promise<number> {
    let waitedMs = 0;
    for (;;) {
      const waited = await this.guard(this.gate.pass(origin, signal));
      if (waited > 0) {
        waitedMs += waited;
        this.counters.throttleWaits++;
        this.counters.throttledMs += waited;
        const scope = currentRequestScope();
        if (scope) scope.graphWaitMs += waited;
      }
      await this.guard(this.slots.acquire(signal));
      if (this.gate.remaining(origin) === 0) return waitedMs;
      this.slots.release();
    }
  }

  /**
   * Exactly one HTTP attempt, in the slot `admit` took (released here, for streams once the headers
   * are in): sends, and either hands the answer to `accept` or classifies the failure for the retry
   * loop. Throws only what no retry may follow: an abort, a token that cannot be had, an answer
   * `accept` refuses.
   */
  private async attempt<R>(call: PreparedRequest, bearer: () => Promise<string>, accept: Accept<R>, releaseAtHeaders: boolean): Promise<AttemptOutcome<R>> {
    const { req, url, route, body } = call;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        this.slots.release();
      }
    };
    let recorded = false;
    try {
      const headers = call.auth ? { ...call.headers, authorization: `Bearer ${await bearer()}` } : call.headers;
      const res = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method,
        headers,
        body,
        signal: req.finishOnceSent ? undefined : req.signal,
      });
      this.recordAttempt(route, res.statusCode, body);
      recorded = true;
      if (res.statusCode < 400 || req.acceptStatuses?.includes(res.statusCode)) {
        if (releaseAtHeaders) {
          release();
          return { answered: true, value: await accept(res) };
        }
        try {
          return { answered: true, value: await accept(res) };
        } finally {
          release();
        }
      }
      const text = await res.body.text().catch(() => '');
      release();
      return { answered: false, failure: parseGraphError(res.statusCode, res.headers, text, this.clock.now()), unsent: false };
    } catch (err) {
      release();
      if (err instanceof GraphError && err.status !== 0) throw err;
      const classified = classifyTransportError(err);
      if (classified.error.code === ABORTED || req.signal?.aborted) {
        this.counters.failures++;
        throw req.signal?.reason instanceof GraphError ? req.signal.reason : classified.error;
      }
      if (!recorded) this.recordAttempt(route, 0, body);
      return { answered: false, failure: classified.error, unsent: classified.unsent };
    }
  }

  /** Counts an attempt here and on the request (WebDAV or other) it is made for. */
  private recordAttempt(route: string, status: number, body: Uint8Array | string | undefined): void {
    this.counters.recordAttempt(route, status);
    if (body !== undefined) this.counters.bytesSent += typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    const scope = currentRequestScope();
    if (scope) scope.graphCalls++;
  }

  /** Turns an abort during a wait into our error type. */
  private async guard<T>(promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (err) {
      if (err instanceof GraphError) throw err;
      throw new GraphError(0, ABORTED, 'The request was aborted.');
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof GraphError ? signal.reason : new GraphError(0, ABORTED, 'The request was aborted.');
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** A counting semaphore with FIFO waiters and abortable waits. */
class Semaphore {
  private available: number;
  private readonly waiters: Array<{ resolve: () => void; reject: (err: unknown) => void; signal?: AbortSignal; onAbort?: () => void }> = [];

  constructor(size: number) {
    this.available = Math.max(1, size);
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.available > 0) {
      this.available--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: (typeof this.waiters)[number] = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) {
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve();
    } else {
      this.available++;
    }
  }
}

/**
 * A token that cannot be had is not a network failure: a sign-in that needs a person becomes a 401
 * `signInRequired` (the WebDAV layer tells clients the operator must sign in), a passing outage of
 * the identity service a 503 `tokenUnavailable`. Neither is retried here: the refresher already did.
 */
function tokenFailure(err: unknown): GraphError {
  const message = err instanceof Error ? err.message : String(err);
  if ((err as { transient?: boolean })?.transient === true) {
    const retryAfter = (err as { retryAfterSec?: number }).retryAfterSec;
    return new GraphError(503, 'tokenUnavailable', message, retryAfter);
  }
  return new GraphError(401, 'signInRequired', message);
}
