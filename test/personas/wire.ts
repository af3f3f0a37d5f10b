import { randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { QuickXorHash } from '../../src/graph/quickxorhash.js';
import { DAV_NS, childElements, findChild, parseXml, textContent, type XmlElement } from '../../src/dav/protocol/xml.js';
import { mountOf, type DriveKind } from '../helpers/drive-kinds.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * The wire under the client personas: one HTTP/1.1 request exactly as given (method, headers in the
 * client's spelling, a body that is a string, bytes, or a generated stream sent as it is produced),
 * over node:http so that chunked bodies and Content-Length stay under the persona's control.
 */
export interface WireRequest {
  method: string;
  /** Path and query, already percent-encoded the way the client encodes it. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer | GeneratedBody;
}

export interface WireResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A body produced while it is sent: `size` bytes from a few random blocks, hashed on the way. */
export class GeneratedBody {
  private static readonly blocks = Array.from({ length: 5 }, () => randomBytes(1024 * 1024));
  readonly hash = new QuickXorHash();
  /** Peak of process.memoryUsage().arrayBuffers seen while sending (the test's bounded-memory check). */
  peakArrayBuffers = 0;

  constructor(readonly size: number) {}

  stream(): Readable {
    let sent = 0;
    let index = 0;
    const self = this;
    return new Readable({
      read() {
        if (sent >= self.size) return void this.push(null);
        const block = GeneratedBody.blocks[index++ % GeneratedBody.blocks.length];
        const chunk = self.size - sent >= block.length ? block : block.subarray(0, self.size - sent);
        sent += chunk.length;
        self.hash.update(chunk);
        self.peakArrayBuffers = Math.max(self.peakArrayBuffers, process.memoryUsage().arrayBuffers);
        this.push(chunk);
      },
    });
  }
}

/** node:http or, for an `https:` base, node:https trusting the tests' self-signed loopback certificate. */
function request(url: string, options: RequestOptions, onResponse: (res: IncomingMessage) => void): ClientRequest {
  if (new URL(url).protocol === 'https:') return httpsRequest({ ...options, rejectUnauthorized: false }, onResponse);
  return httpRequest(options, onResponse);
}

export function send(base: string, req: WireRequest): Promise<WireResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const out = request(base, { host: hostname, port, method: req.method, path: req.path, headers: req.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    out.on('error', reject);
    const body = req.body;
    if (body instanceof GeneratedBody) body.stream().pipe(out);
    else out.end(body);
  });
}

/** GET whose body is hashed as it arrives, never held whole: the QuickXorHash and the byte count. */
export function fetchHashed(url: string, headers: Record<string, string>, followRedirects: boolean, hops = 0): Promise<{ status: number; size: number; quickXorHash: string; peakArrayBuffers: number }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const out = request(url, { host: target.hostname, port: target.port, method: 'GET', path: `${target.pathname}${target.search}`, headers }, (res) => {
      const status = res.statusCode ?? 0;
      if (followRedirects && status >= 300 && status < 400 && res.headers.location && hops < 10) {
        res.resume();
        // CFNetwork drops Authorization on a hop to another host, as browsers do.
        const next = new URL(res.headers.location, url);
        const nextHeaders = next.host === target.host ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
        return void fetchHashed(next.href, nextHeaders, followRedirects, hops + 1).then(resolve, reject);
      }
      const qx = new QuickXorHash();
      let size = 0;
      let peak = 0;
      res.on('data', (d: Buffer) => {
        qx.update(d);
        size += d.length;
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      });
      res.on('end', () => resolve({ status, size, quickXorHash: qx.digestBase64(), peakArrayBuffers: peak }));
      res.on('error', reject);
    });
    out.on('error', reject);
    out.end();
  });
}

/** One `D:response` of a multistatus, as a client reads it. */
export interface DavEntry {
  href: string;
  /** Decoded last path segment ('' for the root). */
  name: string;
  isFolder: boolean;
  /** Properties answered with 200, by `{ns}local`, as text. */
  props: Map<string, string>;
}

export function parseMultistatus(text: string): DavEntry[] {
  const root = parseXml(text);
  if (root.ns !== DAV_NS || root.local !== 'multistatus') throw new Error(`not a multistatus: ${text.slice(0, 200)}`);
  return childElements(root)
    .filter((r) => r.ns === DAV_NS && r.local === 'response')
    .map((r) => {
      const href = textContent(findChild(r, DAV_NS, 'href')!);
      const props = new Map<string, string>();
      let isFolder = false;
      for (const ps of childElements(r).filter((c) => c.ns === DAV_NS && c.local === 'propstat')) {
        const status = textContent(findChild(ps, DAV_NS, 'status')!);
        if (!/ 200 /.test(status)) continue;
        for (const p of childElements(findChild(ps, DAV_NS, 'prop')!)) {
          props.set(`{${p.ns}}${p.local}`, textContent(p));
          if (p.ns === DAV_NS && p.local === 'resourcetype') isFolder = childElements(p).some((c: XmlElement) => c.ns === DAV_NS && c.local === 'collection');
        }
      }
      const segments = new URL(href, 'http://x').pathname.split('/').filter(Boolean);
      return { href, name: decodeURIComponent(segments[segments.length - 1] ?? ''), isFolder, props };
    });
}

/** The path of a drive path in a URL, each segment percent-encoded (what both clients send). */
export function urlPath(path: string, folder = false): string {
  const encoded = path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  return `/${encoded}${folder && encoded ? '/' : ''}`;
}

/** The lock token of a LOCK response (Lock-Token: <token>). */
export function lockTokenOf(res: WireResponse): string {
  const match = /<([^>]+)>/.exec(String(res.headers['lock-token'] ?? ''));
  if (!match) throw new Error(`LOCK answered ${res.status} without a Lock-Token: ${res.text.slice(0, 300)}`);
  return match[1];
}

/** Fails with the request's answer when the status is not one the client accepts. */
export function expectStatus(res: WireResponse, accepted: number[], what: string): WireResponse {
  if (!accepted.includes(res.status)) throw new Error(`${what}: ${res.status} ${res.text.slice(0, 300)}`);
  return res;
}

/**
 * The drive both personas start from: onedav on the emulator with one mount of `kind`, holding a
 * report and a note in a sub-folder whose name has an accent and a CJK character.
 */
export async function startPersonaDrive(kind: DriveKind): Promise<{ stack: DavStack; driveId: string }> {
  const stack = await startDavStack({ mounts: [mountOf(kind)] });
  const driveId = stack.driveIds[0];
  await stack.emulator.drive.putFile(driveId, 'Documents/report.txt', 'quarterly report');
  await stack.emulator.drive.putFile(driveId, 'Documents/Sub/notes é 中.txt', 'notes');
  return { stack, driveId };
}
