import { randomBytes } from 'node:crypto';
import { GeneratedBody, expectStatus, fetchHashed, lockTokenOf, parseMultistatus, send, urlPath, type DavEntry, type WireResponse } from './wire.js';

/**
 * macOS Finder on a WebDAV volume, as webdavfs's mount_webdav agent speaks to the server. Every
 * request below follows apple-oss-distributions/webdavfs (webdavfs-403) mount.tproj/webdav_network.c:
 * - network_mount → network_getDAVLevel: OPTIONS with `Accept` any type; ParseDAVLevel reads the DAV
 *   header's tokens '1' and '2'; level 1 mounts read-only (MNT_RDONLY), level 2 (LOCK support)
 *   read-write, none refuses; then network_stat: PROPFIND Depth 0 for getlastmodified,
 *   getcontentlength, creationdate, resourcetype (Content-Type text/xml), which must be a collection.
 * - network_readdir: PROPFIND Depth 1 with the same properties plus Apple's
 *   `A:appledoubleheader` (xmlns:A="http://www.apple.com/webdav_fs/props/").
 * - network_statfs: PROPFIND Depth 0 for DAV:quota-available-bytes, quota-used-bytes and the
 *   deprecated quota/quotaused; parse_statfs (webdav_parse.c) takes available + used as the size.
 * - network_create: PUT without body (the empty file); network_lock: LOCK Depth 0, `Timeout:
 *   Second-600` (WEBDAV_PULSE_TIMEOUT, webdavd.h), exclusive write lock owned by
 *   <D:href>http://www.apple.com/webdav_fs/</D:href>, refreshed with an empty body and `If: (<token>)`.
 * - network_fsync: the content PUT, streamed by CFReadStreamCreateForStreamedHTTPRequest (chunked,
 *   since no Content-Length is set) with `X-Expected-Entity-Length: <size>` and `If: (<token>)`;
 *   then PROPFIND Depth 0 for getlastmodified/getetag when the answer carried neither.
 * - network_unlock: UNLOCK with Lock-Token. network_rename: MOVE with Accept and Destination (no
 *   Overwrite header: RFC 4918's default T), the source's lock tokens as `If`, and, over a folder,
 *   network_dir_is_empty first (PROPFIND Depth 1). network_remove/network_rmdir: DELETE; rmdir
 *   checks emptiness first. GETs run with kCFStreamPropertyHTTPShouldAutoredirect (stream_get_transaction,
 *   network_read): CFNetwork follows redirects for downloads.
 * `translate: f` is sent only to servers whose Server header starts with Microsoft-IIS/ (identifyServerType).
 */
export const WEBDAVFS_UA = 'WebDAVFS/3.0.0 (03008000) Darwin/22.6.0 (arm64)';

const STAT_PROPS = '<D:getlastmodified/>\n<D:getcontentlength/>\n<D:creationdate/>\n<D:resourcetype/>\n';
const STAT_BODY = `<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:">\n<D:prop>\n${STAT_PROPS}</D:prop>\n</D:propfind>\n`;
const READDIR_BODY = `<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:">\n<D:prop xmlns:A="http://www.apple.com/webdav_fs/props/">\n${STAT_PROPS}<A:appledoubleheader/>\n</D:prop>\n</D:propfind>\n`;
const STATFS_BODY = '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:">\n<D:prop>\n<D:quota-available-bytes/>\n<D:quota-used-bytes/>\n<D:quota/>\n<D:quotaused/>\n</D:prop>\n</D:propfind>\n';
const LOCK_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:lockinfo xmlns:D="DAV:">\n<D:lockscope><D:exclusive/></D:lockscope>\n<D:locktype><D:write/></D:locktype>\n' +
  '<D:owner>\n<D:href>http://www.apple.com/webdav_fs/</D:href>\n</D:owner>\n</D:lockinfo>\n';

/** An AppleDouble header (the `._` file of a file with extended attributes: Finder tags, quarantine). */
export function appleDouble(): Buffer {
  const header = Buffer.alloc(4096);
  header.writeUInt32BE(0x00051607, 0); // AppleDouble magic
  header.writeUInt32BE(0x00020000, 4); // version 2
  header.write('Mac OS X        ', 8, 'ascii');
  return header;
}

export interface MacMount {
  davLevel: number;
  readOnly: boolean;
}

export interface MacFile {
  name: string;
  isFolder: boolean;
  size: number;
  modified: Date;
}

export class MacWebDavFs {
  readonly log: string[] = [];

  constructor(
    private readonly base: string,
    private readonly credentials?: { user: string; password: string },
  ) {}

  private headers(extra: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { 'User-Agent': WEBDAVFS_UA, Accept: '*/*', ...extra };
    if (this.credentials) h.Authorization = `Basic ${Buffer.from(`${this.credentials.user}:${this.credentials.password}`).toString('base64')}`;
    return h;
  }

  private request(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer | GeneratedBody): Promise<WireResponse> {
    this.log.push(`${method} ${path}`);
    return send(this.base, { method, path, headers: this.headers(headers), body });
  }

  /** Connect to Server: OPTIONS (the DAV level decides read-only), then PROPFIND Depth 0 on the mount URL. */
  async mount(folder = ''): Promise<MacMount> {
    const options = expectStatus(await this.request('OPTIONS', urlPath(folder, true)), [200], 'OPTIONS');
    const davLevel = davLevelOf(String(options.headers.dav ?? ''));
    if (davLevel === 0) throw new Error('mount_webdav: WebDAV protocol not supported');
    const stat = expectStatus(await this.request('PROPFIND', urlPath(folder, true), { 'Content-Type': 'text/xml', Depth: '0' }, STAT_BODY), [207], 'PROPFIND mount');
    if (!parseMultistatus(stat.text)[0]?.isFolder) throw new Error('mount_webdav: URL is not a collection');
    return { davLevel, readOnly: davLevel === 1 };
  }

  async browse(folder: string): Promise<MacFile[]> {
    const res = expectStatus(await this.request('PROPFIND', urlPath(folder, true), { 'Content-Type': 'text/xml', Depth: '1' }, READDIR_BODY), [207], `PROPFIND ${folder}`);
    return parseMultistatus(res.text).slice(1).map(toFile);
  }

  async stat(path: string): Promise<DavEntry | undefined> {
    const res = await this.request('PROPFIND', urlPath(path), { 'Content-Type': 'text/xml', Depth: '0' }, STAT_BODY);
    if (res.status === 404) return undefined;
    return parseMultistatus(expectStatus(res, [207], `PROPFIND ${path}`).text)[0];
  }

  /** Opening a file: stat, then a GET that CFNetwork lets follow redirects. */
  async open(path: string): Promise<{ status: number; size: number; quickXorHash: string; peakArrayBuffers: number }> {
    await this.stat(path);
    this.log.push(`GET ${urlPath(path)}`);
    return fetchHashed(`${this.base}${urlPath(path)}`, this.headers({}), true);
  }

  /**
   * Copying a file onto the volume: create (empty PUT), LOCK, the streamed chunked PUT with
   * X-Expected-Entity-Length, UNLOCK on close; then the `._` AppleDouble companion the same way when
   * the file has extended attributes; a look-up of the result. Returns the PUT's answer.
   */
  async copyIn(path: string, body: Buffer | GeneratedBody, options: { xattrs?: boolean } = {}): Promise<WireResponse> {
    const answer = await this.writeFile(path, body);
    if (options.xattrs) await this.writeFile(appleDoubleOf(path), appleDouble());
    return answer;
  }

  /** One file written through webdavfs: network_create, network_lock, network_fsync, network_unlock. */
  async writeFile(path: string, body: Buffer | GeneratedBody): Promise<WireResponse> {
    const created = await this.request('PUT', urlPath(path), { 'Content-Length': '0' });
    if (created.status === 403) return created;
    expectStatus(created, [200, 201, 204], `PUT ${path} (create)`);
    const token = await this.lock(path);
    const size = body instanceof GeneratedBody ? body.size : body.length;
    const headers: Record<string, string> = { 'Transfer-Encoding': 'chunked', If: `(<${token}>)` };
    if (size !== 0) headers['X-Expected-Entity-Length'] = String(size);
    const put = expectStatus(await this.request('PUT', urlPath(path), headers, body), [200, 201, 204], `PUT ${path}`);
    if (!put.headers.etag && !put.headers['last-modified']) await this.request('PROPFIND', urlPath(path), { 'Content-Type': 'text/xml', Depth: '0' }, STAT_BODY);
    await this.unlock(path, token);
    return put;
  }

  /**
   * A document app saving (NSDocument's safe save): the new version goes to a temporary name in the
   * same folder (with its `._` companion), the temporary replaces the document by rename (MOVE over
   * the existing file), and Finder updates the folder's `.DS_Store`.
   */
  async saveLikeMacApp(path: string, bytes: Buffer): Promise<{ temp: string }> {
    const slash = path.lastIndexOf('/');
    const folder = path.slice(0, slash);
    const name = path.slice(slash + 1);
    const temp = `${folder}/${name}.sb-${randomBytes(4).toString('hex')}-Xq3Fz1`;
    expectStatus(await this.writeFile(temp, bytes), [200, 201, 204], `write ${temp}`);
    // A refused `._` (macMetadata: refuse) only loses the extended attributes; there is then nothing to rename.
    const companion = await this.writeFile(appleDoubleOf(temp), appleDouble());
    expectStatus(await this.rename(temp, path), [201, 204], `MOVE ${temp}`);
    if (companion.status !== 403) expectStatus(await this.rename(appleDoubleOf(temp), appleDoubleOf(path)), [201, 204], `MOVE ._${temp}`);
    // Finder ignores a refused .DS_Store (view settings are then not kept on the volume).
    await this.writeFile(`${folder}/.DS_Store`, Buffer.alloc(6148, 0));
    return { temp };
  }

  /** rename(2): MOVE without Overwrite; over a folder only when it is empty. */
  async rename(from: string, to: string, isFolder = false): Promise<WireResponse> {
    const target = await this.stat(to);
    if (target?.isFolder && (await this.browse(to)).length > 0) throw new Error(`rename: ${to} is not empty (ENOTEMPTY)`);
    return this.request('MOVE', urlPath(from, isFolder), { Destination: `${this.base}${urlPath(to, isFolder)}` });
  }

  async move(from: string, to: string, isFolder = false): Promise<WireResponse> {
    return this.rename(from, to, isFolder);
  }

  async mkdir(path: string): Promise<void> {
    expectStatus(await this.request('MKCOL', urlPath(path, true)), [201], `MKCOL ${path}`);
  }

  /** Move to Trash + Empty / rm -r: files first, each folder once empty (network_rmdir checks). */
  async deleteTree(folder: string): Promise<void> {
    for (const child of await this.browse(folder)) {
      const path = `${folder}/${child.name}`;
      if (child.isFolder) await this.deleteTree(path);
      else expectStatus(await this.request('DELETE', urlPath(path)), [204], `DELETE ${path}`);
    }
    if ((await this.browse(folder)).length > 0) throw new Error(`rmdir: ${folder} is not empty`);
    expectStatus(await this.request('DELETE', urlPath(folder, true)), [204], `DELETE ${folder}`);
  }

  /**
   * statfs(2): what Finder shows as capacity and "available" (parse_statfs). When the server gives
   * no capacity (f_blocks 0), the kernel side substitutes its own large constants
   * (webdav_fs.kextproj webdav_vfsops.c, webdav_statfs: WEBDAV_NUM_BLOCKS/WEBDAV_FREE_BLOCKS): `known` false.
   */
  async freeSpace(folder = ''): Promise<{ available: number; total: number; known: boolean }> {
    const res = expectStatus(await this.request('PROPFIND', urlPath(folder, true), { 'Content-Type': 'text/xml', Depth: '0' }, STATFS_BODY), [207], 'PROPFIND statfs');
    const props = parseMultistatus(res.text)[0].props;
    const available = props.get('{DAV:}quota-available-bytes');
    const used = props.get('{DAV:}quota-used-bytes');
    if (available !== undefined && used !== undefined) return { available: Number(available), total: Number(available) + Number(used), known: true };
    // The deprecated pair, or nothing: Finder then shows no capacity (zeroes).
    const quota = Number(props.get('{DAV:}quota') ?? 0);
    const quotaUsed = Number(props.get('{DAV:}quotaused') ?? 0);
    return { available: quota > quotaUsed ? quota - quotaUsed : 0, total: quota, known: quota !== 0 };
  }

  async lock(path: string): Promise<string> {
    return lockTokenOf(expectStatus(await this.request('LOCK', urlPath(path), { Depth: '0', Timeout: 'Second-600', 'Content-Type': 'text/xml' }, LOCK_BODY), [200, 201], `LOCK ${path}`));
  }

  /** The lock pulse while a file stays open for writing (network_lock with refresh). */
  async refreshLock(path: string, token: string): Promise<WireResponse> {
    return this.request('LOCK', urlPath(path), { Depth: '0', Timeout: 'Second-600', 'Content-Type': 'text/xml', If: `(<${token}>)` });
  }

  async unlock(path: string, token: string): Promise<void> {
    expectStatus(await this.request('UNLOCK', urlPath(path), { 'Lock-Token': `<${token}>` }), [204], `UNLOCK ${path}`);
  }
}

/** ParseDAVLevel: the highest of the tokens '1' and '2' in the DAV header (0 when neither). */
export function davLevelOf(header: string): number {
  let level = 0;
  for (const token of header.split(',').map((t) => t.trim())) {
    if (token === '1') level = Math.max(level, 1);
    if (token === '2') level = Math.max(level, 2);
  }
  return level;
}

export function appleDoubleOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return `${path.slice(0, slash + 1)}._${path.slice(slash + 1)}`;
}

function toFile(e: DavEntry): MacFile {
  return { name: e.name, isFolder: e.isFolder, size: Number(e.props.get('{DAV:}getcontentlength') ?? 0), modified: new Date(e.props.get('{DAV:}getlastmodified') ?? NaN) };
}
