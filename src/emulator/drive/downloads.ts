import { createHmac, timingSafeEqual } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { RequestContext, SharedState } from '../context.js';
import { EmulatorHttpError } from '../request-io.js';
import type { ItemRecord } from './model.js';
import { profileOf } from './profile.js';
import { eTagOf } from './serialize.js';
import type { DriveStore } from './store.js';
import type { VersionView } from './versions.js';

/**
 * Pre-authenticated download URLs (`@microsoft.graph.downloadUrl`): `/dl/{signed token}/{name}`.
 * They need no Authorization header, serve GET and HEAD with single byte ranges, and stop working
 * after `settings.downloadUrlLifetimeSec` or the drive profile's `downloadUrlMaxLifetimeSec`,
 * whichever is shorter, with a 401, as SharePoint's expired `tempauth` URLs do.
 * A URL for an earlier version (`…/versions/{id}/content`) serves that version's bytes.
 */
export class DownloadUrls {
  constructor(
    private readonly shared: SharedState,
    private readonly store: DriveStore,
  ) {}

  urlFor(item: ItemRecord, version?: VersionView): string {
    const drive = this.store.drive(item.driveId);
    const profileMax = drive ? profileOf(drive, this.shared.directory).downloadUrlMaxLifetimeSec : Infinity;
    const expires = this.shared.clock.now() + Math.min(this.shared.settings.downloadUrlLifetimeSec, profileMax) * 1000;
    const claims: { d: string; i: string; e: number; v?: string } = { d: item.driveId, i: item.id, e: expires };
    if (version && !version.current) claims.v = version.id;
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${this.shared.baseUrl}/dl/${payload}.${this.sign(payload)}/${encodeURIComponent(item.name)}`;
  }

  async serve(ctx: RequestContext): Promise<void> {
    const { req, res, method } = ctx;
    ctx.setRoute(`${method} /dl/{token}`);
    if (method !== 'GET' && method !== 'HEAD') {
      throw new EmulatorHttpError(405, 'invalidRequest', 'Download URLs answer GET and HEAD only.', { allow: 'GET, HEAD' });
    }
    const token = ctx.url.pathname.slice('/dl/'.length).split('/')[0];
    const claims = this.verify(token);
    if (claims.e <= this.shared.clock.now()) {
      throw new EmulatorHttpError(401, 'unauthenticated', 'The download URL has expired. Request the item again for a fresh @microsoft.graph.downloadUrl.');
    }
    const item = this.store.item(claims.i);
    if (!item || item.driveId !== claims.d || item.isFolder || !item.blobId) {
      throw new EmulatorHttpError(404, 'itemNotFound', 'The file behind this download URL no longer exists.');
    }
    let content = { blobId: item.blobId, size: item.size, etag: eTagOf(item), modifiedAt: item.modifiedAt };
    if (claims.v !== undefined) {
      const version = item.versions?.find((v) => v.id === claims.v);
      if (!version) throw new EmulatorHttpError(404, 'itemNotFound', 'The file version behind this download URL no longer exists.');
      content = { blobId: version.blobId, size: version.size, etag: `"{${item.tagGuid}},v${version.number}"`, modifiedAt: version.modifiedAt };
    }
    const { size, etag } = content;
    const headers: Record<string, string | number> = {
      'content-type': item.mimeType ?? 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag,
      'last-modified': new Date(content.modifiedAt).toUTCString(),
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(item.name)}`,
    };
    let range = parseRange(req.headers.range, size);
    const ifRange = req.headers['if-range'];
    if (range && ifRange && ifRange !== etag && ifRange !== headers['last-modified']) range = null;
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': 0 });
      res.end();
      return;
    }
    const [start, end] = range ?? [0, size - 1];
    const length = size === 0 ? 0 : end - start + 1;
    if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    headers['content-length'] = length;
    res.writeHead(range ? 206 : 200, headers);
    if (method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    const { blobId } = content;
    try {
      await pipeline(this.store.blobs.read(blobId, start, end), res);
    } catch {
      res.destroy();
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.shared.tokens.signingKey).update(`download-url:${payload}`).digest('base64url');
  }

  private verify(token: string): { d: string; i: string; e: number; v?: string } {
    const [payload, signature] = token.split('.');
    const expected = payload ? Buffer.from(this.sign(payload)) : Buffer.alloc(0);
    const given = Buffer.from(signature ?? '');
    if (!payload || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new EmulatorHttpError(401, 'unauthenticated', 'The download URL is not valid. Request the item again for a fresh @microsoft.graph.downloadUrl.');
    }
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw new EmulatorHttpError(401, 'unauthenticated', 'The download URL is not valid.');
    }
  }
}

/**
 * One `bytes=` range, resolved against the size: `[start, end]`, `'unsatisfiable'`, or null
 * (no header, several ranges or a syntax we ignore, all of which get the whole file).
 */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}
