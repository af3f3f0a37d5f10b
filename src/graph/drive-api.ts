import { systemClock, type Clock } from '../util/clock.js';
import { pull } from '../util/page-puller.js';
import type { GraphClient, GraphStreamResponse } from './client.js';
import { ABORTED, GraphError, headerValue } from './errors.js';
import {
  CHILD_SELECT_WITH_DOWNLOAD_URL,
  DELTA_SELECT,
  ITEM_SELECT,
  ITEM_SELECT_WITH_DOWNLOAD_URL,
  MAX_PAGE_SIZE,
  type DriveItem,
  type DriveItemVersion,
  type Quota,
  type UploadSession,
} from './items.js';
import { FULL_GRAPH, type GraphFeatures } from './features.js';
import { childOfItem, childOfItemByName, driveBasePath, encodeSegment, itemById, itemByPath, type DriveBase } from './paths.js';
import { realSleep, type Sleep } from './throttle-gate.js';
import { contentRange } from './upload.js';

/** A failure after which Graph may or may not have done the work: the connection broke, or a gateway error. */
function isUncertainOutcome(err: GraphError): boolean {
  if (err.code === ABORTED) return false;
  return err.status === 0 || err.status === 500 || err.status === 502 || err.status === 504;
}

/**
 * An item addressed by drive path (`/a/b.txt`), by id, or by name inside a folder known by id
 * (uploads use the last: a path-addressed upload would silently create missing parent folders).
 */
export type ItemRef = { path: string } | { id: string } | { parentId: string; name: string };

export type ConflictBehavior = 'fail' | 'replace' | 'rename';

export interface DownloadUrl {
  url: string;
  /** When we fetched it (ms). */
  fetchedAt: number;
  /** Until when we trust it (ms): Graph does not say, so this is fetchedAt + a configured window. */
  expiresAt: number;
  item: DriveItem;
}

export interface DeltaPage {
  items: DriveItem[];
  /** Where to ask next time; present once the feed is drained. */
  deltaLink: string;
}

export interface DriveApiOptions {
  /** How long a download URL is trusted after it was fetched (default 2 min, below the shortest lifetime Microsoft documents). */
  downloadUrlLifetimeMs?: number;
  /** Longest wait for a server-side copy to finish (default 10 min). */
  copyTimeoutMs?: number;
  clock?: Clock;
  sleep?: Sleep;
  /** What this cloud's Graph serves (default: everything, as the global cloud). */
  features?: GraphFeatures;
}

/**
 * Microsoft documents a download URL's life both as "1 hour" (https://learn.microsoft.com/graph/api/resources/driveitem)
 * and as "a few minutes" (https://learn.microsoft.com/graph/api/driveitem-get-content). A URL handed
 * to a client in a 302 must still work when the client follows it, so the short one is believed:
 * 2 minutes, minus the cache's margin, leaves a redirected client over a minute of a 3-minute URL.
 */
const DEFAULT_DOWNLOAD_URL_LIFETIME_MS = 2 * 60_000;

/**
 * Typed drive operations on one drive (`/me/drive`, `/drives/{id}`, `/users/{upn}/drive`,
 * `/sites/{id}/drive`), and the only door to its GraphClient: download and upload-session URLs go
 * through here too. Every item request carries `$select`; every path goes through `paths.ts`.
 */
export class DriveApi {
  readonly base: string;
  readonly downloadUrlLifetimeMs: number;
  readonly features: GraphFeatures;
  private readonly copyTimeoutMs: number;
  private readonly clock: Clock;
  /** How this API's callers wait between attempts (tests inject one that does not). */
  readonly sleep: Sleep;

  constructor(
    private readonly client: GraphClient,
    drive: DriveBase,
    options: DriveApiOptions = {},
  ) {
    this.base = driveBasePath(drive);
    this.downloadUrlLifetimeMs = options.downloadUrlLifetimeMs ?? DEFAULT_DOWNLOAD_URL_LIFETIME_MS;
    this.copyTimeoutMs = options.copyTimeoutMs ?? 10 * 60_000;
    this.clock = options.clock ?? systemClock;
    this.sleep = options.sleep ?? realSleep;
    this.features = options.features ?? FULL_GRAPH;
  }

  /** The URL path of an item, relative to the client's base URL. */
  itemPath(ref: ItemRef): string {
    if ('id' in ref) return this.base + itemById(ref.id);
    if ('parentId' in ref) return this.base + (this.features.pathAddressing ? childOfItem(ref.parentId, ref.name) : childOfItemByName(ref.parentId, ref.name));
    if (!this.features.pathAddressing && ref.path !== '/') {
      // The service would answer for another item (see GraphFeatures): never send it.
      throw new GraphError(0, 'pathAddressingUnsupported', `Graph in this cloud cannot address ${ref.path} by path; resolve it to an id first.`);
    }
    return this.base + itemByPath(ref.path);
  }

  /** Route template of an item, for the counters. */
  private route(method: string, ref: ItemRef, suffix = ''): string {
    const child = this.features.pathAddressing ? '/items/{id}:{name}:' : "/items/{id}/children('{name}')";
    const where = 'id' in ref ? '/items/{id}' : 'parentId' in ref ? child : ref.path === '/' ? '/root' : '/root:{path}:';
    return `${method} /drive${where}${suffix}`;
  }

  async getItem(ref: ItemRef, options: { withDownloadUrl?: boolean; signal?: AbortSignal } = {}): Promise<DriveItem> {
    const res = await this.client.request<DriveItem>({
      method: 'GET',
      path: this.itemPath(ref),
      query: { $select: options.withDownloadUrl ? ITEM_SELECT_WITH_DOWNLOAD_URL : ITEM_SELECT },
      route: this.route('GET', ref),
      signal: options.signal,
    });
    return res.body;
  }

  /**
   * A folder with its first children in one request (`$expand=children`): at most
   * EXPAND_CHILDREN_LIMIT of them and no link to the rest, so the caller proves completeness itself.
   * On a file Graph answers 422 notSupported ("Children cannot be listed from an item that is not a
   * folder": https://learn.microsoft.com/en-us/answers/questions/5825597/microsoft-graph-returns-422-when-using-expand-chil).
   */
  async getFolderWithChildren(ref: ItemRef, options: { signal?: AbortSignal } = {}): Promise<DriveItem> {
    const res = await this.client.request<DriveItem>({
      method: 'GET',
      path: this.itemPath(ref),
      // `$`-prefixed options inside the expansion, as Graph reads them (OneDrive/onedrive-api-docs#732).
      // Each child's download URL as a children listing selects it (CHILD_SELECT_WITH_DOWNLOAD_URL).
      query: { $select: ITEM_SELECT, $expand: `children($select=${CHILD_SELECT_WITH_DOWNLOAD_URL})` },
      route: this.route('GET', ref, '?$expand=children'),
      signal: options.signal,
    });
    return res.body;
  }

  /** Pages of a folder's children, `$top` at Graph's maximum; with `withDownloadUrls`, each file's download URL too. */
  async *childPages(ref: ItemRef, signal?: AbortSignal, options: { withDownloadUrls?: boolean } = {}): AsyncGenerator<DriveItem[]> {
    const pages = pull(
      this.client.pages<DriveItem>({
        method: 'GET',
        path: `${this.itemPath(ref)}/children`,
        query: { $select: options.withDownloadUrls ? CHILD_SELECT_WITH_DOWNLOAD_URL : ITEM_SELECT, $top: MAX_PAGE_SIZE },
        route: this.route('GET', ref, '/children'),
        signal,
      }),
    );
    // Not `for await`: it would keep each page through the next page's request (util/page-puller.ts).
    try {
      for (let page = await pages.next(); page; page = await pages.next()) yield page.value.value;
    } finally {
      await pages.close();
    }
  }

  async listChildren(ref: ItemRef, signal?: AbortSignal, options: { withDownloadUrls?: boolean } = {}): Promise<DriveItem[]> {
    const all: DriveItem[] = [];
    for await (const page of this.childPages(ref, signal, options)) all.push(...page);
    return all;
  }

  async createFolder(parent: ItemRef, name: string, options: { conflictBehavior?: ConflictBehavior; signal?: AbortSignal } = {}): Promise<DriveItem> {
    const res = await this.client.request<DriveItem>({
      method: 'POST',
      path: `${this.itemPath(parent)}/children`,
      query: { $select: ITEM_SELECT },
      json: { name, folder: {}, '@microsoft.graph.conflictBehavior': options.conflictBehavior ?? 'fail' },
      route: this.route('POST', parent, '/children'),
      signal: options.signal,
    });
    return res.body;
  }

  /**
   * PATCH: rename, move (new parent by id or drive path), fileSystemInfo. Retried as idempotent:
   * it sets absolute values, so doing it twice leaves the same state.
   */
  async update(
    ref: ItemRef,
    patch: { name?: string; parentId?: string; lastModified?: Date },
    options: { ifMatch?: string; conflictBehavior?: ConflictBehavior; signal?: AbortSignal } = {},
  ): Promise<DriveItem> {
    const body: Record<string, unknown> = {};
    if (patch.name !== undefined) body.name = patch.name;
    if (patch.parentId !== undefined) body.parentReference = { id: patch.parentId };
    if (patch.lastModified) body.fileSystemInfo = { lastModifiedDateTime: patch.lastModified.toISOString() };
    const headers: Record<string, string> = {};
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    const res = await this.client.request<DriveItem>({
      method: 'PATCH',
      path: this.itemPath(ref),
      query: { $select: ITEM_SELECT, '@microsoft.graph.conflictBehavior': options.conflictBehavior },
      json: body,
      headers,
      route: this.route('PATCH', ref),
      signal: options.signal,
    });
    return res.body;
  }

  async delete(ref: ItemRef, options: { ifMatch?: string; signal?: AbortSignal } = {}): Promise<void> {
    const headers: Record<string, string> = {};
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    await this.client.request({ method: 'DELETE', path: this.itemPath(ref), headers, route: this.route('DELETE', ref), signal: options.signal });
  }

  /**
   * Server-side copy: POST …/copy answers 202 with a monitor URL; we poll it (pre-authenticated,
   * no bearer token) until the job completes, fails, or `copyTimeoutMs` passes. Returns the new item.
   * Not retried after sending: a second POST could start a second copy.
   */
  async copy(
    ref: ItemRef,
    target: { parentId: string; name: string },
    options: { conflictBehavior?: ConflictBehavior; signal?: AbortSignal } = {},
  ): Promise<DriveItem> {
    const driveId = this.driveId();
    const res = await this.client.request<unknown>({
      method: 'POST',
      path: `${this.itemPath(ref)}/copy`,
      query: { '@microsoft.graph.conflictBehavior': options.conflictBehavior },
      json: { parentReference: { id: target.parentId, ...(driveId ? { driveId } : {}) }, name: target.name },
      route: this.route('POST', ref, '/copy'),
      retry: 'unsent-only',
      signal: options.signal,
    });
    const monitor = headerValue(res.headers, 'location');
    if (!monitor) throw new GraphError(res.status, 'invalidResponse', 'Graph accepted the copy but sent no monitor URL; check the destination before retrying.');
    const deadline = this.clock.now() + this.copyTimeoutMs;
    let delay = 50;
    for (;;) {
      const status = await this.client.request<{ status?: string; resourceId?: string; error?: { code?: string; message?: string } }>({
        method: 'GET',
        path: monitor,
        auth: false,
        route: 'GET /monitor/{token}',
        signal: options.signal,
      });
      const body = status.body ?? {};
      const location = headerValue(status.headers, 'location');
      if (status.status === 303 && location) {
        const id = /\/items\/([^/?]+)/.exec(location)?.[1];
        if (id) return this.getItem({ id: decodeURIComponent(id) }, { signal: options.signal });
      }
      if (body.status === 'completed' && body.resourceId) return this.getItem({ id: body.resourceId }, { signal: options.signal });
      if (body.status === 'failed') {
        throw new GraphError(500, body.error?.code ?? 'copyFailed', body.error?.message ?? 'The server-side copy failed; the destination may be incomplete.');
      }
      if (this.clock.now() + delay > deadline) {
        throw new GraphError(504, 'timeout', `The server-side copy did not finish within ${Math.round(this.copyTimeoutMs / 1000)} s; it may still complete later.`);
      }
      await this.sleep(delay, options.signal);
      delay = Math.min(delay * 2, 2_000);
    }
  }

  /** The drive id when the base names it (copies carry it in parentReference, as Graph asks on some drives). */
  private driveId(): string | undefined {
    const match = /^\/drives\/([^/]+)$/.exec(this.base);
    return match ? decodeURIComponent(match[1]) : undefined;
  }

  /** An item with its pre-authenticated download URL, and how long we trust that URL. */
  async getDownloadUrl(ref: ItemRef, signal?: AbortSignal): Promise<DownloadUrl> {
    const fetchedAt = this.clock.now();
    const item = await this.getItem(ref, { withDownloadUrl: true, signal });
    const url = item['@microsoft.graph.downloadUrl'];
    if (!url) {
      if (item.folder) throw new GraphError(400, 'notAFile', 'A folder has no download URL; list it instead.');
      throw new GraphError(404, 'itemNotFound', 'Graph gave no download URL for this item (a OneNote package or a file being processed); try again later.');
    }
    return { url, fetchedAt, expiresAt: fetchedAt + this.downloadUrlLifetimeMs, item };
  }

  /**
   * Streams a file from its download URL. The URL is pre-authenticated, so no bearer token goes
   * with it (https://learn.microsoft.com/en-us/graph/api/driveitem-get-content); `range` is sent as
   * Range, and a 416 comes back as an answer for the caller to judge. Retried only until the headers arrive.
   */
  async download(url: string, options: { range?: { start: number; end?: number }; signal?: AbortSignal } = {}): Promise<GraphStreamResponse> {
    const headers: Record<string, string> = { accept: '*/*' };
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ''}`;
    return this.client.stream({ method: 'GET', path: url, auth: false, headers, route: 'GET /download/{token}', acceptStatuses: [416], signal: options.signal });
  }

  /** Asks the drive for its id only: whether Graph and the token answer (health probes). Not retried. */
  async probe(signal?: AbortSignal): Promise<void> {
    await this.client.request({ method: 'GET', path: this.base, query: { $select: 'id' }, route: 'GET /drive (health probe)', retry: 'none', signal });
  }

  async quota(signal?: AbortSignal): Promise<Quota> {
    const res = await this.client.request<{ quota?: Quota }>({ method: 'GET', path: this.base, query: { $select: 'id,quota' }, route: 'GET /drive', signal });
    return res.body?.quota ?? {};
  }

  /**
   * One drain of the delta feed: from `link` (a previous deltaLink) or from the start, through
   * every page, to the new deltaLink. `latest` asks only for a link to start from (no items).
   */
  async delta(link?: string | 'latest', signal?: AbortSignal): Promise<DeltaPage> {
    if (!this.features.delta) throw new GraphError(400, 'notSupported', 'Graph in this cloud has no delta feed (change tracking); rely on the cache TTL.');
    const items: DriveItem[] = [];
    let deltaLink: string | undefined;
    const first =
      link && link !== 'latest'
        ? { method: 'GET' as const, path: link, route: 'GET /drive/root/delta', signal }
        : {
            method: 'GET' as const,
            path: `${this.base}/root/delta`,
            query: link === 'latest' ? { token: 'latest' } : { $select: DELTA_SELECT, $top: MAX_PAGE_SIZE },
            route: 'GET /drive/root/delta',
            signal,
          };
    for await (const page of this.client.pages<DriveItem>(first)) {
      items.push(...page.value);
      if (page.deltaLink) deltaLink = page.deltaLink;
    }
    if (!deltaLink) throw new GraphError(0, 'invalidResponse', 'The delta feed ended without a deltaLink; start over from the beginning.');
    return { items, deltaLink };
  }

  /**
   * PUT …/content for files up to 4 MiB. Retried as idempotent: the same bytes to the same path.
   * `created` is Graph's 201 (a new item) as opposed to 200 (new content for an existing one).
   */
  async simpleUpload(
    target: ItemRef,
    data: Uint8Array,
    options: { ifMatch?: string; conflictBehavior?: ConflictBehavior; signal?: AbortSignal } = {},
  ): Promise<{ item: DriveItem; created: boolean }> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    const res = await this.client.request<DriveItem>({
      method: 'PUT',
      path: `${this.itemPath(target)}/content`,
      query: { '@microsoft.graph.conflictBehavior': options.conflictBehavior ?? 'replace' },
      body: data,
      headers,
      route: this.route('PUT', target, '/content'),
      signal: options.signal,
    });
    return { item: res.body, created: res.status === 201 };
  }

  /**
   * POST …/createUploadSession with the item's mtime and conflict behaviour, If-Match passed on.
   * Not retried blindly: on OneDrive for Business and SharePoint a first attempt that reached Graph
   * holds the file's one open session, and a retry answers 409 nameAlreadyExists
   * (OneDrive/onedrive-api-docs#747). One more attempt is made after an uncertain failure (reset,
   * timeout, 500/502/504); its 409 reaches the caller, which tells that case from a real name conflict.
   * An abort (the WebDAV client went away) never cuts an attempt on its way: Graph makes the session
   * all the same, and only its answer lets the caller cancel it; cut, the session would hold the file
   * on Business until it expires (#747 above; Graph cannot list sessions: microsoftgraph/microsoft-graph-docs-contrib#412).
   */
  async createUploadSession(
    target: ItemRef,
    options: { mtime?: Date; ifMatch?: string; conflictBehavior?: ConflictBehavior; signal?: AbortSignal } = {},
  ): Promise<UploadSession> {
    const item: Record<string, unknown> = { '@microsoft.graph.conflictBehavior': options.conflictBehavior ?? 'replace' };
    if (options.mtime) item.fileSystemInfo = { lastModifiedDateTime: options.mtime.toISOString() };
    const headers: Record<string, string> = {};
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    const create = () =>
      this.client.request<UploadSession>({
        method: 'POST',
        path: `${this.itemPath(target)}/createUploadSession`,
        json: { item },
        headers,
        route: this.route('POST', target, '/createUploadSession'),
        retry: 'unsent-only',
        signal: options.signal,
        finishOnceSent: true,
      });
    let res;
    try {
      res = await create();
    } catch (err) {
      if (!(err instanceof GraphError && isUncertainOutcome(err))) throw err;
      res = await create();
    }
    if (!res.body?.uploadUrl) throw new GraphError(res.status, 'invalidResponse', 'Graph created an upload session without an uploadUrl; try the upload again.');
    return res.body;
  }

  /**
   * PUTs `data` at byte `start` of a `total`-byte upload to the session's uploadUrl, which is
   * pre-authenticated: no bearer token goes with it (https://learn.microsoft.com/en-us/graph/api/driveitem-createuploadsession).
   * Retried as idempotent: the same bytes at the same offset. Returns the stored file when this
   * fragment completed the upload (200/201), undefined when the session expects more (202).
   */
  async uploadFragment(uploadUrl: string, data: Uint8Array, at: { start: number; total: number }, signal?: AbortSignal): Promise<{ item: DriveItem; created: boolean } | undefined> {
    const res = await this.client.request<DriveItem>({
      method: 'PUT',
      path: uploadUrl,
      auth: false,
      body: data,
      headers: { 'content-range': contentRange(at.start, data.length, at.total), 'content-type': 'application/octet-stream' },
      route: 'PUT /upload-session/{token}',
      retry: 'idempotent',
      signal,
    });
    if (res.status === 200 || res.status === 201) return { item: res.body, created: res.status === 201 };
    return undefined;
  }

  /** GET on the uploadUrl (no bearer token): the session's `nextExpectedRanges`. */
  async uploadSessionStatus(uploadUrl: string, signal?: AbortSignal): Promise<Pick<UploadSession, 'nextExpectedRanges' | 'expirationDateTime'>> {
    const res = await this.client.request<UploadSession>({ method: 'GET', path: uploadUrl, auth: false, route: 'GET /upload-session/{token}', signal });
    return res.body ?? {};
  }

  /**
   * DELETE on the uploadUrl (no bearer token), best effort: the session would expire anyway. True
   * when the session is gone (cancelled now, or already committed, cancelled or expired).
   */
  async cancelUploadSession(uploadUrl: string): Promise<boolean> {
    try {
      await this.client.request({ method: 'DELETE', path: uploadUrl, auth: false, route: 'DELETE /upload-session/{token}', retry: 'idempotent' });
      return true;
    } catch (err) {
      // Unreachable: Graph cleans it up after expirationDateTime (and the journal keeps it till then).
      return err instanceof GraphError && (err.isNotFound || err.status === 410);
    }
  }

  /** Counts an upload session as open (metrics) until the returned function is called. */
  trackUploadSession(): () => void {
    return this.client.trackUploadSession();
  }

  /** The drive's type (`personal`, `business`, `documentLibrary`), asked once. */
  async driveType(signal?: AbortSignal): Promise<string | undefined> {
    if (this.knownDriveType === undefined) {
      const res = await this.client.request<{ driveType?: string }>({ method: 'GET', path: this.base, query: { $select: 'id,driveType' }, route: 'GET /drive', signal });
      this.knownDriveType = res.body?.driveType ?? '';
    }
    return this.knownDriveType || undefined;
  }

  private knownDriveType: string | undefined;

  async listVersions(id: string, signal?: AbortSignal): Promise<DriveItemVersion[]> {
    const versions: DriveItemVersion[] = [];
    for await (const page of this.client.pages<DriveItemVersion>({
      method: 'GET',
      path: `${this.itemPath({ id })}/versions`,
      route: 'GET /drive/items/{id}/versions',
      signal,
    })) {
      versions.push(...page.value);
    }
    return versions;
  }

  /** Makes an older version current again (as a new version). Retried: restoring twice is harmless. */
  async restoreVersion(id: string, versionId: string, signal?: AbortSignal): Promise<void> {
    await this.client.request({
      method: 'POST',
      path: `${this.itemPath({ id })}/versions/${encodeSegment(versionId)}/restoreVersion`,
      route: 'POST /drive/items/{id}/versions/{id}/restoreVersion',
      retry: 'idempotent',
      signal,
    });
  }
}
