/**
 * The WebDAV server: node:http(s), Basic auth, mounts, and one handler per method (methods/).
 * Sub-folders: protocol/ (RFC 4918 core: XML, If, conditions, properties, errors → statuses),
 * methods/ (one handler per method), http/ (request context, mounts, access log, listing,
 * downloads, monitoring), access/ (users, passwords, login throttle), stores/ (LockSystem and
 * PropertyStore with their file-backed implementations).
 *
 * Why not webdav-server v2 (dropped from package.json): measured against 2.6.3, one request can take
 * the process down — `GET /%zz` throws an uncaught URIError from its path decoding, and any
 * untagged `If:` header (`If: (<token>)`, sent by Windows, Office and litmus after every LOCK)
 * throws a TypeError in IfParser; tagged If conditions are never evaluated (always true); Basic
 * credentials whose base64 holds "+" or "/" are refused; non-PUT bodies are read into
 * `Buffer.alloc(Content-Length)` before any check, and chunked ones are ignored; malformed
 * PROPFIND XML is treated as allprop (litmus wants 400); LOCK ignores the Timeout header and
 * lockdiscovery reports milliseconds as seconds. Fixing that meant replacing every method
 * handler, so the protocol lives here, on RemoteDrive, in small modules.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { systemClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { newRequestScope, runInRequestScope, type RequestScope } from '../util/request-scope.js';
import { basicChallenge, BasicAuthenticator, type AnonymousAccess, type DavUser, type PeoplePasswords, type Principal } from './access/basic-auth.js';
import { isDriveError } from '../drive/index.js';
import { header, send, sendDavError, type DavRequest, type DavServerState } from './http/context.js';
import { downloadModeOf, type DownloadMode } from './http/download-mode.js';
import { FilePropertyStore } from './stores/file-property-store.js';
import type { PropertyLimits, PropertyStore } from './stores/property-store.js';
import { DavError, toDavError } from './protocol/errors.js';
import { SharedStateUnavailableError } from '../redis/errors.js';
import type { LockSystem } from './stores/lock-system.js';
import { FileLockSystem } from './stores/file-lock-system.js';
import type { FailedLoginCounter, LoginThrottleOptions } from './access/login-throttle.js';
import { copyOrMove } from './methods/copy-move.js';
import { del } from './methods/delete.js';
import { get } from './methods/get.js';
import { lock, unlock } from './methods/lock.js';
import { mkcol } from './methods/mkcol.js';
import { ALLOWED_METHODS, DAV_CLASSES, options } from './methods/options.js';
import { propfind } from './methods/propfind.js';
import { proppatch } from './methods/proppatch.js';
import { put } from './methods/put.js';
import { DavMetrics } from './http/metrics.js';
import { monitoringTarget, serveMonitoring, type MonitoringOptions } from './http/monitoring.js';
import { MountTable, type DavMount } from './http/mounts.js';
import { parseRequestTarget } from './protocol/paths.js';
import { loggableDestination, loggablePath, logRequest, UploadProgress } from './http/request-log.js';
import { NOSNIFF } from './http/security-headers.js';
import { countTraffic, type Traffic } from './http/traffic.js';

export interface DavServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** PEM files; serves HTTPS when set. */
  tls?: { cert: string; key: string };
  /** Basic auth realm. */
  realm?: string;
  /** `{ prefix: '/', drive }` or several (`/team`, `/me`); with several, `/` lists them. */
  mounts: DavMount[];
  users?: DavUser[];
  anonymous?: Partial<AnonymousAccess>;
  /** The download mode of mounts that set none (default `auto`). */
  download?: { mode: DownloadMode };
  macMetadata?: 'store' | 'refuse';
  /** Locks and dead properties are kept in `<dataDir>/dav/`; in memory only when absent. */
  dataDir?: string;
  /** Bounds on the dead-property store (DEFAULT_PROPERTY_LIMITS where absent). */
  deadProperties?: Partial<PropertyLimits>;
  /** Lock and dead-property stores shared with other replicas; by default files under `dataDir` (memory only without one). The server closes them. */
  stores?: { locks: LockSystem; properties: PropertyStore };
  /** `/.well-known/onedav/{healthz,metrics}` (see monitoring.ts); none when absent. */
  monitoring?: MonitoringOptions;
  /** Failed Basic logins allowed per client address and minute before 429 (see login-throttle.ts). */
  loginThrottle?: LoginThrottleOptions;
  /** Failed logins counted elsewhere (Redis, shared by replicas) instead of in this process. */
  failedLogins?: FailedLoginCounter;
  /** How long slow or silent clients may hold a connection (see DEFAULT_TIMEOUTS). */
  timeouts?: Partial<DavTimeouts>;
  /** Gateway people: app passwords beside `users`, each person with their own drive (src/gateway). */
  people?: PeoplePasswords;
  /** A site served under its own reserved prefix instead of WebDAV (the gateway's sign-in site). */
  site?: { owns(url: string | undefined): boolean; handle(req: IncomingMessage, res: ServerResponse): Promise<void> };
  logger?: Logger;
  clock?: Clock;
}

export interface RunningDavServer {
  /** `http(s)://host:port` */
  url: string;
  port: number;
  /** Requests, durations and bytes served so far (for /metrics). */
  metrics: DavMetrics;
  close(): Promise<void>;
}

/**
 * Bounds on slow clients (slowloris): the request line and headers must arrive within `headersMs`
 * (Node checks every `checkIntervalMs`); a request body may pause at most `bodyIdleMs` while the
 * server waits for it (an upload session is cancelled with it). A body that pauses because onedav
 * reads slowly (Graph throttling, backpressure) is not idle: its bytes are waiting in our buffer.
 * There is no bound on a whole request: a large upload takes as long as it takes.
 */
export interface DavTimeouts {
  headersMs: number;
  bodyIdleMs: number;
  checkIntervalMs: number;
  /** Idle keep-alive connections between requests. */
  keepAliveMs: number;
  /** After an early answer (before the body was read), how long the rest of the body is swallowed. */
  drainMs: number;
}

export const DEFAULT_TIMEOUTS: DavTimeouts = { headersMs: 30_000, bodyIdleMs: 60_000, checkIntervalMs: 5_000, keepAliveMs: 5_000, drainMs: 5_000 };

type Handler = (ctx: DavRequest) => Promise<void>;

const HANDLERS: Record<string, Handler> = {
  OPTIONS: options,
  GET: get,
  HEAD: get,
  PUT: put,
  DELETE: del,
  MKCOL: mkcol,
  COPY: (ctx) => copyOrMove(ctx, 'copy'),
  MOVE: (ctx) => copyOrMove(ctx, 'move'),
  PROPFIND: propfind,
  PROPPATCH: proppatch,
  LOCK: lock,
  UNLOCK: unlock,
};

/** Standard HTTP methods we deliberately do not serve (405); anything else is unknown (501). */
const KNOWN_UNSUPPORTED = new Set(['POST', 'PATCH', 'TRACE', 'CONNECT', 'SEARCH', 'REPORT', 'ACL', 'MKCALENDAR', 'VERSION-CONTROL']);

export async function startDavServer(options: DavServerOptions): Promise<RunningDavServer> {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const storeDir = options.dataDir ? join(options.dataDir, 'dav') : undefined;
  const anonymous: AnonymousAccess = { enabled: options.anonymous?.enabled ?? false, readOnly: options.anonymous?.readOnly ?? true };
  if (options.mounts.length === 0 && !options.people) throw new Error('startDavServer needs at least one mount');
  const auth = new BasicAuthenticator(options.users ?? [], anonymous, clock, options.failedLogins ?? options.loginThrottle, options.people);
  const timeouts: DavTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  if (!auth.hasUsers && !anonymous.enabled) logger.warn('no WebDAV users are configured and anonymous access is off: every request will be refused');
  const state: DavServerState = {
    mounts: new MountTable(options.mounts, (mount) => downloadModeOf(mount, options.download?.mode ?? 'auto', logger)),
    auth,
    locks: options.stores?.locks ?? (await FileLockSystem.open(storeDir && join(storeDir, 'locks.json'), clock, logger)),
    properties: options.stores?.properties ?? (await FilePropertyStore.open(storeDir && join(storeDir, 'properties.json'), logger, options.deadProperties)),
    macMetadata: options.macMetadata ?? 'store',
    realm: options.realm ?? 'onedav',
    logger,
    clock,
  };

  const metrics = new DavMetrics();
  const monitoring = options.monitoring;
  const serveDav = (req: IncomingMessage, res: ServerResponse) => {
    const scope = newRequestScope();
    watchBodyIdle(req, res, timeouts.bodyIdleMs);
    return runInRequestScope(scope, () => handle(state, req, res, metrics, scope, countTraffic(req, res), timeouts.drainMs));
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const endpoint = monitoring ? monitoringTarget(req.url) : undefined;
    const site = options.site?.owns(req.url) ? options.site : undefined;
    const served = site ? site.handle(req, res) : monitoring && endpoint !== undefined ? serveMonitoring(state, monitoring, endpoint, req, res) : serveDav(req, res);
    served.catch((err) => {
      logger.error('WebDAV request failed outside its handler', { error: err as Error });
      if (!res.headersSent) sendDavError(res, new DavError(500, 'Internal server error; see the onedav log.'));
      else res.destroy();
    });
  };
  let server: Server;
  const limits = { requestTimeout: 0, headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkIntervalMs, keepAliveTimeout: timeouts.keepAliveMs };
  if (options.tls) {
    const [cert, key] = await Promise.all([readFile(options.tls.cert), readFile(options.tls.key)]);
    server = createHttpsServer({ cert, key, ...limits }, onRequest);
  } else {
    server = createHttpServer(limits, onRequest);
  }
  // With a listener, Node leaves `100 Continue` to us: handlers send it only once they accept the
  // request, so a refused upload (401, 409, 412, 423…) never makes the client send its body.
  server.on('checkContinue', onRequest);
  // Without a listener Node silently drops CONNECT; say that this is no proxy.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {});
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOWED_METHODS}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info('WebDAV server listening', {
    url,
    mounts: state.mounts.mounts.map((m) => m.prefix).join(' '),
    download: state.mounts.mounts.map((m) => `${m.prefix} ${m.downloadMode}`).join(', '),
  });

  return {
    url,
    port,
    metrics,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 2_000);
      force.unref();
      await closed;
      clearTimeout(force);
      await Promise.all([state.locks.close(), state.properties.close()]);
    },
  };
}

async function handle(state: DavServerState, req: IncomingMessage, res: ServerResponse, metrics: DavMetrics, scope: RequestScope, traffic: Traffic, drainMs: number): Promise<void> {
  const started = state.clock.now();
  const method = (req.method ?? 'GET').toUpperCase();
  metrics.started(method);
  const aborter = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborter.abort();
  });
  res.setHeader('DAV', DAV_CLASSES);
  res.setHeader('MS-Author-Via', 'DAV');
  res.setHeader('Server', 'onedav');
  res.setHeader('X-Content-Type-Options', NOSNIFF);
  let user = '-';
  let principal: Principal | undefined;
  try {
    if (method === 'OPTIONS' && req.url === '*') return send(res, 200, { Allow: ALLOWED_METHODS });
    const path = parseRequestTarget(req.url ?? '/');
    const auth = await state.auth.authenticate(req);
    if (!auth.ok && auth.reason === 'throttled') {
      throw new DavError(429, `Too many failed logins from your address; try again in ${auth.retryAfterSeconds} seconds.`, {
        headers: { 'Retry-After': String(auth.retryAfterSeconds) },
      });
    }
    if (!auth.ok) {
      const message = auth.reason === 'missing' ? 'Authentication required.' : auth.reason === 'signInAgain' ? auth.message : 'Wrong user name or password.';
      throw new DavError(401, message, { headers: { 'WWW-Authenticate': basicChallenge(state.realm) } });
    }
    user = auth.principal.name;
    principal = auth.principal;
    // A gateway person sees only their own drives: the request runs against their mount table.
    if (auth.principal.mounts) state = { ...state, mounts: auth.principal.mounts };
    if (method === 'PUT') watchUpload(state, req, traffic, user);
    const handler = HANDLERS[method];
    if (!handler) {
      if (KNOWN_UNSUPPORTED.has(method)) throw new DavError(405, `${method} is not supported here.`, { headers: { Allow: ALLOWED_METHODS } });
      throw new DavError(501, `${method} is not a method this server knows.`);
    }
    const target = resolveTarget(state, method, path.segments, auth.principal);
    // Behind a round-robin balancer, the request before this one may have been a write through another replica.
    if (target.kind === 'drive') await target.mount.drive.caughtUp?.();
    await handler({ req, res, method, principal: auth.principal, path, target, state, signal: aborter.signal, entries: new Map() });
  } catch (err) {
    if (aborter.signal.aborted || res.destroyed) {
      state.logger.debug('client went away', { method, url: req.url, user });
      return;
    }
    const dav = principal?.signInPage && isDriveError(err, 'signInNeeded') ? signInAgain(state, principal.signInPage) : toDavError(err);
    if (dav.status === 500) state.logger.error('WebDAV request failed', { method, url: req.url, user, error: err as Error, stack: (err as Error)?.stack });
    else if (dav.status >= 502) state.logger.warn(err instanceof SharedStateUnavailableError ? 'shared state (Redis) unavailable' : 'OneDrive request failed', { method, url: req.url, user, status: dav.status, error: err as Error });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const bodyPending = !req.complete;
    const keepConnection = bodyPending && bodyWorthReading(req);
    if (bodyPending && !keepConnection) {
      res.setHeader('Connection', 'close');
      halfCloseAfterAnswer(req);
    }
    sendDavError(res, dav);
    if (bodyPending) drainThenClose(req, drainMs, keepConnection);
  } finally {
    const ms = state.clock.now() - started;
    const status = aborter.signal.aborted && !res.writableFinished ? 499 : res.statusCode;
    metrics.finished(method, status, ms / 1000, traffic.bytesIn(), traffic.bytesOut());
    const record = {
      method,
      path: loggablePath(req.url),
      status,
      ms,
      user,
      bytesIn: traffic.bytesIn(),
      bytesOut: traffic.bytesOut(),
      graph: scope,
      destination: method === 'COPY' || method === 'MOVE' ? loggableDestination(header(req, 'destination')) : undefined,
    };
    logRequest(state.logger, record);
  }
}

/** A gateway person whose Microsoft sign-in is gone: 401, and where to sign in again. */
function signInAgain(state: DavServerState, page: string): DavError {
  return new DavError(401, `Your Microsoft sign-in has expired or was revoked. Sign in again at ${page} (your app passwords keep working afterwards).`, {
    headers: { 'WWW-Authenticate': basicChallenge(state.realm) },
  });
}

/** Logs the progress of an upload that takes a while (see UploadProgress). */
function watchUpload(state: DavServerState, req: IncomingMessage, traffic: Traffic, user: string): void {
  const declared = header(req, 'content-length') ?? header(req, 'x-expected-entity-length');
  const total = declared !== undefined && /^\d+$/.test(declared.trim()) ? Number(declared) : undefined;
  const progress = new UploadProgress({ logger: state.logger, clock: state.clock, path: loggablePath(req.url), user, total });
  traffic.onBodyBytes((bytes) => progress.update(bytes));
}

/** Creating something beside the mounts (where only the mount folders exist) is forbidden, not "not found". */
function resolveTarget(state: DavServerState, method: string, segments: string[], principal: Principal) {
  try {
    return state.mounts.resolve(segments, principal);
  } catch (err) {
    if (err instanceof DavError && err.status === 404 && CREATING.has(method)) {
      throw new DavError(403, 'Only the mounted drives can hold files; nothing can be created beside them.');
    }
    throw err;
  }
}

const CREATING = new Set(['PUT', 'MKCOL', 'LOCK']);

/**
 * Drops the connection when a request body stops arriving for `idleMs` while we wait for it. A
 * pause with bytes still unread in our buffer is ours (backpressure while Graph is slow), not the
 * client's, and does not count. Polled, so the socket's own timers (keep-alive) stay Node's.
 */
function watchBodyIdle(req: IncomingMessage, res: ServerResponse, idleMs: number): void {
  if (req.complete || idleMs <= 0) return;
  if (/100-continue/i.test(String(req.headers.expect ?? ''))) {
    // The client sends nothing until we say "100 Continue" (after our checks, which may take long).
    const writeContinue = res.writeContinue;
    res.writeContinue = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeContinue']>) {
      res.writeContinue = writeContinue;
      timeBodyIdle(req, res, idleMs);
      return writeContinue.apply(this, args);
    };
    return;
  }
  timeBodyIdle(req, res, idleMs);
}

function timeBodyIdle(req: IncomingMessage, res: ServerResponse, idleMs: number): void {
  const socket = req.socket;
  let seen = socket.bytesRead;
  let lastProgress = Date.now();
  const timer = setInterval(() => {
    if (req.complete || socket.destroyed) return stop();
    if (socket.bytesRead !== seen || req.readableLength > 0) {
      seen = socket.bytesRead;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress >= idleMs) {
      stop();
      socket.destroy();
    }
  }, Math.max(10, Math.min(1_000, Math.floor(idleMs / 4))));
  timer.unref();
  const stop = () => clearInterval(timer);
  req.once('end', stop);
  res.once('close', stop);
}

/**
 * Node ends a `Connection: close` answer with `socket.destroySoon()`, which closes both ways once
 * the answer is out, resetting the connection over a body still arriving: the client (one that
 * writes the whole body before reading, like kioclient5's first, credential-less PUT) then never
 * sees the status. Here it only half-closes, so drainThenClose can read on (RFC 9112 §9.6).
 */
function halfCloseAfterAnswer(req: IncomingMessage): void {
  const socket = req.socket;
  if (!socket || socket.destroyed) return;
  socket.destroySoon = function halfClose(this: typeof socket) {
    this.end();
  };
}

/** Most of a refused body onedav reads and drops (beyond it, the connection is dropped instead). */
const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * Whether to read a refused body to its end and keep the connection: when its announced length
 * is modest and the client is already sending it (no `Expect: 100-continue`, whose clients may
 * never send it). Clients built on Qt (KIO: Dolphin, kioclient5) take any close while they send,
 * even a half-close, as a broken connection and never read the 401 they would retry after.
 */
function bodyWorthReading(req: IncomingMessage): boolean {
  if (/100-continue/i.test(String(req.headers.expect ?? ''))) return false;
  const length = header(req, 'content-length');
  return length !== undefined && /^\d+$/.test(length.trim()) && Number(length) <= DRAIN_LIMIT_BYTES;
}

/**
 * After answering early (before reading the body), swallow what the client still sends for a
 * moment so it can read the answer (closing with unread data would reset the connection and the
 * client might never see the status); then drop the connection, unless `keep` and the whole
 * body arrived in time (the client may then send its next request, with credentials, on it).
 */
function drainThenClose(req: IncomingMessage, drainMs: number, keep = false): void {
  const socket = req.socket;
  if (!socket || socket.destroyed) return; // the client is gone already
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > DRAIN_LIMIT_BYTES) socket.destroy();
  });
  req.on('error', () => {});
  const timer = setTimeout(() => socket.destroy(), drainMs).unref();
  if (keep) req.once('end', () => clearTimeout(timer));
  req.resume();
}
