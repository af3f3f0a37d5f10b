import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenSource } from '../../src/auth/token-source.js';
import type { DavMount } from '../../src/dav/http/mounts.js';
import { startDavServer, type DavServerOptions, type RunningDavServer } from '../../src/dav/server.js';
import { createGraphDrive, type CreateGraphDriveOptions, type GraphDrive } from '../../src/drive/index.js';
import { findUser } from '../../src/emulator/directory.js';
import { graphFeaturesOf } from '../../src/graph/features.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/server.js';

/**
 * The real stack for WebDAV tests: the Graph emulator on a free loopback port, a GraphDrive per
 * mount talking to it over HTTP, and an onedav WebDAV server on another free port.
 */
export const ADELE = 'adele@contoso.onmicrosoft.com';
export const MEGAN = 'megan@contoso.onmicrosoft.com';
/** Fabrikam's user: a 21Vianet (china) drive, where Graph serves no path addressing and no delta. */
export const LEI = 'lei@fabrikam.partner.onmschina.cn';

/** The national cloud of an emulator user's tenant (`global`, `china`, …). */
export function cloudOfUser(emulator: RunningEmulator, upn: string): string {
  const user = findUser(emulator.state.directory, upn);
  if (!user) throw new Error(`the emulator has no user ${upn}`);
  return emulator.state.directory.tenants.find((t) => t.id === user.tenantId)?.cloud ?? 'global';
}

/** Issues emulator access tokens for a user directly (the auth room has its own flows). */
export class EmulatorTokenSource implements TokenSource {
  private current: string;

  constructor(
    private readonly emulator: RunningEmulator,
    private readonly upn: string,
  ) {
    this.current = this.issue();
  }

  private issue(): string {
    const user = findUser(this.emulator.state.directory, this.upn);
    if (!user) throw new Error(`the emulator has no user ${this.upn}`);
    return this.emulator.state.tokens.issue({ tenantId: user.tenantId, clientId: 'onedav-tests', userId: user.id, scopes: ['Files.ReadWrite.All'], appOnly: false }, 3600).token;
  }

  async getAccessToken(): Promise<string> {
    return this.current;
  }

  async refreshAfterRejection(rejected: string): Promise<string> {
    if (rejected === this.current) this.current = this.issue();
    return this.current;
  }
}

export interface StackMount {
  prefix: string;
  /**
   * Emulator user whose drive is mounted, or who signs in to `site` (default Adele). The drive gets the
   * Graph features of the user's tenant's cloud, as `onedav serve` gives them: LEI's is addressed by id.
   */
  user?: string;
  /** A SharePoint site id from the emulator's directory: mounts the site's document library instead of the user's drive. */
  site?: string;
  /** This mount's own GraphDrive options, over the stack's `drive` options. */
  drive?: Partial<Omit<CreateGraphDriveOptions, 'graphBaseUrl' | 'tokens' | 'drive'>>;
  /** This mount's own download mode (the server's `dav.download` when absent). */
  download?: DavMount['download'];
}

export interface StackOptions {
  emulator?: EmulatorOptions;
  mounts?: StackMount[];
  dav?: Partial<Omit<DavServerOptions, 'mounts'>>;
  drive?: Partial<Omit<CreateGraphDriveOptions, 'graphBaseUrl' | 'tokens' | 'drive'>>;
  /** Keep the data dir between restarts (for persistence tests); a temp dir otherwise. */
  dataDir?: string;
}

export interface DavStack {
  emulator: RunningEmulator;
  dav: RunningDavServer;
  /** `http://127.0.0.1:port` of the WebDAV server. */
  url: string;
  drives: GraphDrive[];
  /** Drive id in the emulator of each mount, in order. */
  driveIds: string[];
  dataDir: string;
  /** Graph API + upload calls the emulator answered since the last reset. */
  graphCalls(): number;
  resetCounters(): void;
  /** The item as Graph itself returns it (bypassing onedav's cache), for the first mount by default. */
  graphItem(path: string, mount?: number): Promise<Record<string, unknown> & { fileSystemInfo?: { lastModifiedDateTime?: string; createdDateTime?: string } }>;
  /** Restarts only the WebDAV server (same drives, same data dir). */
  restartDav(extra?: Partial<Omit<DavServerOptions, 'mounts'>>): Promise<void>;
  close(): Promise<void>;
}

export async function startDavStack(options: StackOptions = {}): Promise<DavStack> {
  const emulator = await startEmulator({ port: 0, admin: true, ...options.emulator });
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'onedav-dav-')));
  const mounts = options.mounts ?? [{ prefix: '/' }];
  const created = mounts.map((m) => {
    const user = m.user ?? ADELE;
    const graph = createGraphDrive({
      graphBaseUrl: `${emulator.url}/v1.0`,
      tokens: new EmulatorTokenSource(emulator, user),
      drive: m.site ? { type: 'site', site: m.site } : { type: 'me' },
      spoolDir: dataDir,
      features: graphFeaturesOf(cloudOfUser(emulator, user)),
      ...options.drive,
      ...m.drive,
    });
    return { prefix: m.prefix, download: m.download, graph, driveId: emulator.drive.driveIdOf(m.site ?? user) };
  });
  const davOptions = (extra: Partial<Omit<DavServerOptions, 'mounts'>> = {}): DavServerOptions => ({
    port: 0,
    anonymous: { enabled: true, readOnly: false },
    dataDir,
    ...options.dav,
    ...extra,
    mounts: created.map((c) => ({ prefix: c.prefix, drive: c.graph.drive, download: c.download })),
  });
  let dav = await startDavServer(davOptions());
  const stack: DavStack = {
    emulator,
    dav,
    url: dav.url,
    drives: created.map((c) => c.graph.drive),
    driveIds: created.map((c) => c.driveId),
    dataDir,
    graphCalls: () => emulator.counters.snapshot().graphCalls,
    resetCounters: () => emulator.counters.reset(),
    async graphItem(path, mount = 0) {
      // By id, so it works on every drive and in every cloud (21Vianet has no path addressing).
      const driveId = created[mount].driveId;
      const id = emulator.drive.stat(driveId, path.replace(/^\//, ''))?.id;
      if (!id) throw new Error(`Graph answered 404 for ${path}`);
      const token = await new EmulatorTokenSource(emulator, mounts[mount].user ?? ADELE).getAccessToken();
      const res = await fetch(`${emulator.url}/v1.0/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`Graph answered ${res.status} for ${path}`);
      return (await res.json()) as Record<string, unknown>;
    },
    async restartDav(extra) {
      await dav.close();
      dav = await startDavServer(davOptions(extra));
      stack.dav = dav;
      stack.url = dav.url;
    },
    async close() {
      await dav.close();
      await Promise.all(created.map((c) => c.graph.close()));
      await emulator.close();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** A fetch against the WebDAV server with a method, headers and body. */
export async function dav(stack: { url: string }, method: string, path: string, init: { headers?: Record<string, string>; body?: string | Buffer; redirect?: RequestRedirect } = {}): Promise<Response> {
  const body = typeof init.body === 'string' || init.body === undefined ? init.body : new Uint8Array(init.body);
  return fetch(`${stack.url}${path}`, { method, headers: init.headers, body, redirect: init.redirect ?? 'manual' });
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}
