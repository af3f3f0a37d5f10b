import { GeneratedBody, expectStatus, fetchHashed, lockTokenOf, parseMultistatus, send, urlPath, type DavEntry, type WireResponse } from './wire.js';

/**
 * Windows Explorer on a mapped drive, as the WebClient service (the WebDAV Mini-Redirector) speaks
 * to the server. Sources for what it sends:
 * - [MS-WDV] (WebDAV Protocol: Client Extensions): the `Translate: f` header on requests
 *   (https://learn.microsoft.com/en-us/openspecs/windows_protocols/MS-WDV/9c41bf63-2da8-40af-9fcb-1d79e59f2750),
 *   X-MSDAVEXT only towards servers that advertise `X-MSDAVEXT: 1` in OPTIONS — onedav does not,
 *   so the client sends plain RFC 4918 requests
 *   (https://learn.microsoft.com/en-us/openspecs/windows_protocols/MS-WDV/901f02ff-ad84-4512-a1f6-58ae5e5d11db).
 * - [MS-WDVSE] 2.2.1/3.2.5.1 (Translate: f means "the source, untranslated").
 * - A wire capture of Microsoft-WebDAV-MiniRedir/10.0.17134 (the "WebDAV annotations" of a public
 *   WebDAV server's README, found by code search): OPTIONS then PROPFIND Depth 0 with an empty body
 *   (allprop) on the mapped URL; PUT; LOCK with `Timeout: Second-3600`, `Cache-Control`/`Pragma:
 *   no-cache`, an exclusive write lock owned by `<D:href>HOST\user</D:href>`; PROPPATCH of
 *   Z:Win32CreationTime, Z:Win32LastAccessTime, Z:Win32LastModifiedTime and Z:Win32FileAttributes
 *   (xmlns:Z="urn:schemas-microsoft-com:", RFC 1123 dates) with `If: (<token>)`; UNLOCK with
 *   `Lock-Token: <token>`; MOVE with an absolute Destination and `Overwrite: F`; MKCOL.
 * The header names keep the client's spelling (`translate` in lower case). Folder URLs carry no
 * trailing slash (the capture's `MKCOL /Nova%20pasta`): the redirector names files and folders alike.
 */
export const MINIREDIR_UA = 'Microsoft-WebDAV-MiniRedir/10.0.19045';

const MS_NS = 'urn:schemas-microsoft-com:';
/** FILE_ATTRIBUTE_ARCHIVE, what a freshly written file carries (the capture above). */
const FILE_ATTRIBUTE_ARCHIVE = '00000020';

export interface WindowsFile {
  name: string;
  isFolder: boolean;
  size: number;
  /** What Explorer shows in "Date modified": getlastmodified. */
  modified: Date;
}

export class WindowsMiniRedir {
  /** Every request sent, `METHOD path`, for assertions on the sequence. */
  readonly log: string[] = [];

  constructor(
    private readonly base: string,
    private readonly credentials?: { user: string; password: string },
    private readonly owner = 'CONTOSO\\adele',
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { Connection: 'Keep-Alive', 'User-Agent': MINIREDIR_UA, ...extra, translate: 'f' };
    if (this.credentials) h.Authorization = `Basic ${Buffer.from(`${this.credentials.user}:${this.credentials.password}`).toString('base64')}`;
    return h;
  }

  private async request(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer | GeneratedBody): Promise<WireResponse> {
    this.log.push(`${method} ${path}`);
    return send(this.base, { method, path, headers: this.headers(headers), body });
  }

  /** `net use Z: http://…/`: OPTIONS, then PROPFIND Depth 0 with no body (allprop) on the mapped folder. */
  async mount(folder = ''): Promise<{ dav: string; root: DavEntry }> {
    const options = expectStatus(await this.request('OPTIONS', urlPath(folder)), [200], 'OPTIONS');
    const found = expectStatus(await this.request('PROPFIND', urlPath(folder), { Depth: '0', 'Content-Length': '0' }), [207], 'PROPFIND mount');
    return { dav: String(options.headers.dav ?? ''), root: parseMultistatus(found.text)[0] };
  }

  /** Opening a folder in Explorer: PROPFIND Depth 1, empty body (allprop). */
  async browse(folder: string): Promise<WindowsFile[]> {
    const res = expectStatus(await this.request('PROPFIND', urlPath(folder), { Depth: '1', 'Content-Length': '0' }), [207], `PROPFIND ${folder}`);
    return parseMultistatus(res.text)
      .slice(1)
      .map((e) => ({ name: e.name, isFolder: e.isFolder, size: Number(e.props.get('{DAV:}getcontentlength') ?? 0), modified: new Date(e.props.get('{DAV:}getlastmodified') ?? NaN) }));
  }

  /** Double-clicking a file: PROPFIND Depth 0 on it, then GET (the WebClient never follows a 302: see windows.md). */
  async open(path: string): Promise<{ status: number; size: number; quickXorHash: string; peakArrayBuffers: number }> {
    expectStatus(await this.request('PROPFIND', urlPath(path), { Depth: '0', 'Content-Length': '0' }), [207], `PROPFIND ${path}`);
    this.log.push(`GET ${urlPath(path)}`);
    return fetchHashed(`${this.base}${urlPath(path)}`, this.headers(), false);
  }

  /**
   * Copying a file onto the mapped drive (drag and drop, `copy`): the name is looked up (404), the
   * file is created empty, locked, written with its length known up front (Content-Length, never
   * chunked), given its Win32 times and attributes, and unlocked.
   */
  async copyIn(path: string, body: Buffer | GeneratedBody, modified: Date): Promise<void> {
    expectStatus(await this.request('PROPFIND', urlPath(path), { Depth: '0', 'Content-Length': '0' }), [404], `PROPFIND ${path} before create`);
    expectStatus(await this.request('PUT', urlPath(path), { 'Content-Length': '0' }, Buffer.alloc(0)), [200, 201, 204], `PUT ${path} (create)`);
    const token = await this.lock(path);
    const size = body instanceof GeneratedBody ? body.size : body.length;
    expectStatus(await this.request('PUT', urlPath(path), { 'Content-Length': String(size), If: `(<${token}>)` }, body), [200, 201, 204], `PUT ${path}`);
    await this.setWin32Times(path, modified, token);
    await this.unlock(path, token);
  }

  /**
   * Word or Excel saving a new document on the mapped drive (Office on top of the Mini-Redirector):
   * LOCK on the unmapped name (RFC 4918 §9.10.4: creates an empty file, 201), a refresh of that lock
   * while the document is open (LOCK without body, If with the token), the 0-byte PUT that
   * truncates, the PUT of the content, PROPPATCH of the Win32 times, UNLOCK.
   */
  async saveLikeOffice(path: string, bytes: Buffer, modified: Date): Promise<{ lockStatus: number; refreshStatus: number }> {
    const locked = await this.lockRaw(path);
    expectStatus(locked, [200, 201], `LOCK ${path}`);
    const token = lockTokenOf(locked);
    const refreshed = expectStatus(await this.request('LOCK', urlPath(path), { Timeout: 'Second-3600', If: `(<${token}>)`, 'Cache-Control': 'no-cache', Pragma: 'no-cache' }), [200], `LOCK refresh ${path}`);
    expectStatus(await this.request('PUT', urlPath(path), { 'Content-Length': '0', If: `(<${token}>)` }, Buffer.alloc(0)), [200, 201, 204], `PUT ${path} (truncate)`);
    expectStatus(await this.request('PUT', urlPath(path), { 'Content-Length': String(bytes.length), If: `(<${token}>)` }, bytes), [200, 201, 204], `PUT ${path}`);
    await this.setWin32Times(path, modified, token);
    await this.unlock(path, token);
    return { lockStatus: locked.status, refreshStatus: refreshed.status };
  }

  /**
   * Word saving over a document it has open from the drive (Microsoft KB 211632, "Description of
   * how Word creates temporary files", and KB 102888: save to a temporary file, then rename, so the
   * original survives a lost connection): the open document is locked; the new version is written
   * as ~WRDnnnn.tmp; the original is renamed to ~WRLnnnn.tmp (with its lock token), the temporary
   * renamed to the document's name, the old version deleted, and the document's UNLOCK sent.
   * Returns the statuses of the steps after the first write, in order.
   */
  async saveOverLikeWord(path: string, bytes: Buffer, modified: Date): Promise<number[]> {
    const folder = path.slice(0, path.lastIndexOf('/'));
    const token = await this.lock(path);
    const temp = `${folder}/~WRD0001.tmp`;
    const old = `${folder}/~WRL0002.tmp`;
    await this.copyIn(temp, bytes, modified);
    const statuses: number[] = [];
    statuses.push((await this.request('MOVE', urlPath(path), { Destination: `${this.base}${urlPath(old)}`, Overwrite: 'F', 'Content-Length': '0', If: `(<${token}>)` })).status);
    statuses.push((await this.move(temp, path)).status);
    // The lock stayed with the old URL and ended with the MOVE (RFC 4918 §7.7: a MOVE must not move the
    // write lock with the resource); the old version is a plain file now, deleted without a token.
    statuses.push((await this.request('DELETE', urlPath(old), { 'Content-Length': '0' })).status);
    statuses.push((await this.request('UNLOCK', urlPath(path), { 'Cache-Control': 'no-cache', Pragma: 'no-cache', 'Lock-Token': `<${token}>` })).status);
    return statuses;
  }

  /** Renaming in Explorer, and moving to another folder: MOVE with an absolute Destination, Overwrite: F. */
  async move(from: string, to: string): Promise<WireResponse> {
    return this.request('MOVE', urlPath(from), { Destination: `${this.base}${urlPath(to)}`, Overwrite: 'F', 'Content-Length': '0' });
  }

  async rename(from: string, to: string): Promise<WireResponse> {
    return this.move(from, to);
  }

  /** New folder. */
  async mkdir(path: string): Promise<void> {
    expectStatus(await this.request('MKCOL', urlPath(path), { 'Content-Length': '0' }), [201], `MKCOL ${path}`);
  }

  /**
   * Deleting a folder in Explorer: the shell walks the tree and the redirector deletes what it is
   * told — each file, then each folder once empty (Win32 RemoveDirectory needs an empty folder).
   */
  async deleteTree(folder: string): Promise<void> {
    for (const child of await this.browse(folder)) {
      const path = `${folder}/${child.name}`;
      if (child.isFolder) await this.deleteTree(path);
      else expectStatus(await this.request('DELETE', urlPath(path), { 'Content-Length': '0' }), [204], `DELETE ${path}`);
    }
    expectStatus(await this.request('DELETE', urlPath(folder), { 'Content-Length': '0' }), [204], `DELETE ${folder}`);
  }

  /**
   * The drive's free space (GetDiskFreeSpaceEx on the mapped letter): the RFC 4331 properties on
   * the mapped folder, Depth 0. Not in [MS-WDV]; the body is RFC 4331 §3's.
   */
  async freeSpace(folder = ''): Promise<{ available: number; used: number }> {
    const body = '<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>';
    const res = expectStatus(await this.request('PROPFIND', urlPath(folder), { Depth: '0', 'Content-Type': 'text/xml; charset="utf-8"' }, body), [207], 'PROPFIND quota');
    const props = parseMultistatus(res.text)[0].props;
    return { available: Number(props.get('{DAV:}quota-available-bytes')), used: Number(props.get('{DAV:}quota-used-bytes')) };
  }

  private async lockRaw(path: string): Promise<WireResponse> {
    const body =
      '<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>' +
      `<D:owner><D:href>${this.owner}</D:href></D:owner></D:lockinfo>`;
    return this.request('LOCK', urlPath(path), { 'Cache-Control': 'no-cache', Pragma: 'no-cache', 'Content-Type': 'text/xml; charset="utf-8"', Timeout: 'Second-3600' }, body);
  }

  async lock(path: string): Promise<string> {
    return lockTokenOf(expectStatus(await this.lockRaw(path), [200, 201], `LOCK ${path}`));
  }

  async unlock(path: string, token: string): Promise<void> {
    expectStatus(await this.request('UNLOCK', urlPath(path), { 'Cache-Control': 'no-cache', Pragma: 'no-cache', 'Lock-Token': `<${token}>` }), [204], `UNLOCK ${path}`);
  }

  async setWin32Times(path: string, modified: Date, token?: string): Promise<WireResponse> {
    const date = modified.toUTCString();
    const body =
      `<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="${MS_NS}"><D:set><D:prop>` +
      `<Z:Win32CreationTime>${date}</Z:Win32CreationTime><Z:Win32LastAccessTime>${date}</Z:Win32LastAccessTime>` +
      `<Z:Win32LastModifiedTime>${date}</Z:Win32LastModifiedTime><Z:Win32FileAttributes>${FILE_ATTRIBUTE_ARCHIVE}</Z:Win32FileAttributes>` +
      '</D:prop></D:set></D:propertyupdate>';
    const headers: Record<string, string> = { 'Cache-Control': 'no-cache', Pragma: 'no-cache', 'Content-Type': 'text/xml; charset="utf-8"' };
    if (token) headers.If = `(<${token}>)`;
    const res = expectStatus(await this.request('PROPPATCH', urlPath(path), headers, body), [207], `PROPPATCH ${path}`);
    if (!/HTTP\/1\.1 200/.test(res.text) || /HTTP\/1\.1 (4|5)\d\d/.test(res.text)) throw new Error(`PROPPATCH ${path} refused a property: ${res.text}`);
    return res;
  }
}
