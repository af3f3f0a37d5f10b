import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../util/clock.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { DEFAULT_SETTINGS, type EmulatorSettings, type RequestContext, type SharedState } from './context.js';
import { RequestCounters, type RouteCategory } from './counters.js';
import { defaultDirectory, type Directory } from './directory.js';
import { FaultInjector, type FaultPlan } from './faults.js';
import { EmulatorHttpError, readJson, sendGraphError, sendJson } from './request-io.js';
import { AccessTokenAuthority } from './access-tokens.js';
import { IdentityService } from './identity/service.js';
import { EmulatedDriveService } from './drive/service.js';

export interface EmulatorOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Persist drives and identity state here; in memory when absent. */
  dataDir?: string;
  clock?: Clock;
  settings?: Partial<EmulatorSettings>;
  directory?: Directory;
  faults?: FaultPlan;
  /** Serve the `/_emulator/…` admin endpoint (tests and the soak use it). */
  admin?: boolean;
}

export interface RunningEmulator {
  /** `http://127.0.0.1:port`: login host and Graph host at once (Graph lives under `/v1.0`). */
  url: string;
  port: number;
  state: SharedState;
  counters: RequestCounters;
  faults: FaultInjector;
  identity: IdentityService;
  drive: EmulatedDriveService;
  close(): Promise<void>;
}

/** Which part of the emulator a path belongs to, decided before any handler runs (faults need it). */
function categorize(pathname: string): RouteCategory {
  if (pathname.startsWith('/_emulator/')) return 'admin';
  if (pathname.startsWith('/v1.0/') || pathname === '/v1.0') return 'graph';
  if (pathname.startsWith('/up/')) return 'upload';
  if (pathname.startsWith('/dl/')) return 'download';
  return 'identity';
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const clock = options.clock ?? systemClock;
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const signingKey = options.dataDir ? await loadOrCreateKey(join(options.dataDir, 'signing-key')) : undefined;
  const state: SharedState = {
    clock,
    directory: options.directory ?? defaultDirectory(),
    tokens: new AccessTokenAuthority(clock, signingKey),
    settings: { ...DEFAULT_SETTINGS, ...options.settings },
    baseUrl: '',
    dataDir: options.dataDir,
  };
  const counters = new RequestCounters();
  const faults = new FaultInjector();
  if (options.faults) faults.setPlan(options.faults);
  const identity = new IdentityService(state);
  const drive = new EmulatedDriveService(state);
  await identity.load();
  await drive.load();
  const services = { identity, drive };

  const server: Server = createServer((req, res) => {
    handleRequest(req, res).catch((err) => {
      if (!res.headersSent) sendGraphError(res, 500, 'generalException', `Emulator error: ${(err as Error).message}`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', state.baseUrl);
    const method = (req.method ?? 'GET').toUpperCase();
    const category = categorize(url.pathname);
    let route = `${method} ${url.pathname}`;
    const ctx: RequestContext = { req, res, method, url, category, setRoute: (t) => (route = t) };
    res.on('finish', () => counters.record(category, route, res.statusCode));
    res.on('close', () => {
      if (!res.writableFinished) counters.record(category, route, 0);
    });

    const fault = faults.decide(category, method, url.pathname);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.terminal) {
      const action = fault.terminal;
      if (action.type === 'reset') {
        req.socket.destroy();
        return;
      }
      if (action.type === 'resetAfter') loseAnswer(req, res);
      if (action.type === 'slowAnswer') holdAnswer(res, action.ms);
      if (action.type === 'status') {
        const headers: Record<string, string> = {};
        if (action.retryAfter !== undefined) headers['retry-after'] = String(action.retryAfter);
        // Answered before any handler runs: the fault never touches the item or upload session it names.
        const { code, message } = faultAnswer(action);
        req.resume();
        sendGraphError(res, action.status, code, message, headers);
        return;
      }
    }

    try {
      if (category === 'admin') {
        if (!options.admin) throw new EmulatorHttpError(404, 'itemNotFound', 'The admin endpoint is disabled.');
        await handleAdmin(ctx);
        return;
      }
      const service = category === 'identity' ? identity : drive;
      if (!(await service.handle(ctx))) {
        throw new EmulatorHttpError(400, 'BadRequest', `Resource not found for the segment '${url.pathname.split('/').filter(Boolean).pop() ?? ''}'.`);
      }
    } catch (err) {
      if (err instanceof EmulatorHttpError) {
        if (!res.headersSent) {
          req.resume();
          sendGraphError(res, err.status, err.code, err.message, err.headers, err.innerCode);
        }
        return;
      }
      throw err;
    }
  }

  async function handleAdmin(ctx: RequestContext): Promise<void> {
    const sub = ctx.url.pathname.slice('/_emulator/'.length);
    const { method, res } = ctx;
    if (sub === 'counters' && method === 'GET') return sendJson(res, 200, counters.snapshot());
    if (sub === 'counters/reset' && method === 'POST') {
      counters.reset();
      return sendJson(res, 200, counters.snapshot());
    }
    if (sub === 'faults' && method === 'GET') return sendJson(res, 200, { plan: faults.plan, injected: faults.injected });
    if (sub === 'faults' && method === 'PUT') {
      faults.setPlan((await readJson(ctx.req)) as unknown as FaultPlan);
      return sendJson(res, 200, faults.plan);
    }
    if (sub === 'settings' && method === 'GET') return sendJson(res, 200, state.settings);
    if (sub === 'settings' && method === 'PATCH') {
      const patch = await readJson(ctx.req);
      for (const [key, value] of Object.entries(patch)) {
        if (!(key in state.settings) || typeof value !== typeof (state.settings as unknown as Record<string, unknown>)[key]) {
          throw new EmulatorHttpError(400, 'invalidRequest', `Unknown or mistyped setting '${key}'.`);
        }
        (state.settings as unknown as Record<string, unknown>)[key] = value;
      }
      return sendJson(res, 200, state.settings);
    }
    const [name, ...rest] = sub.split('/');
    const service = services[name as keyof typeof services];
    if (service && (await service.handleAdmin(ctx, rest.join('/')))) return;
    throw new EmulatorHttpError(404, 'itemNotFound', `No admin route ${method} /_emulator/${sub}.`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  state.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: state.baseUrl,
    port,
    state,
    counters,
    faults,
    identity,
    drive,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await identity.flush();
      await drive.flush();
    },
  };
}

async function loadOrCreateKey(path: string): Promise<Buffer> {
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
  } catch {
    const key = randomBytes(32);
    await writeFileAtomic(path, key.toString('base64'));
    return key;
  }
}

/**
 * The request is handled as usual, but whatever it answers is swallowed and the connection drops
 * when the answer would end: the work is done, and the caller sees only a reset.
 */
function loseAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead = (() => res) as unknown as ServerResponse['writeHead'];
  res.write = (() => true) as unknown as ServerResponse['write'];
  res.end = (() => {
    req.socket.destroy();
    return res;
  }) as unknown as ServerResponse['end'];
}

/** The handler runs as usual; its answer, written in one `end()` as JSON answers are, leaves `ms` later. */
function holdAnswer(res: ServerResponse, ms: number): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    setTimeout(() => {
      if (!res.destroyed) end(...args);
    }, ms);
    return res;
  }) as unknown as ServerResponse['end'];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The Graph error an emulated status fault answers with: the plan's code and message, or Graph's usual ones for the status. */
function faultAnswer(action: { status: number; code?: string; message?: string }): { code: string; message: string } {
  if (action.status === 404) {
    // SharePoint now and then answers 404 for a live upload session (rclone/rclone backend/onedrive/onedrive.go
    // uploadFragment: "assuming eventual consistency problem with session"); Graph's wording for a missing session.
    return { code: action.code ?? 'itemNotFound', message: action.message ?? 'The upload session was not found (emulated fault).' };
  }
  const code = action.code ?? (action.status === 429 ? 'activityLimitReached' : action.status === 503 ? 'serviceNotAvailable' : 'generalException');
  return { code, message: action.message ?? 'The request has been throttled or the service is unavailable (emulated fault).' };
}
