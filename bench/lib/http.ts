import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';

/** One keep-alive agent for the driver's own requests (the load generator of table 3 has its own pools). */
export const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000, headersTimeout: 600_000, bodyTimeout: 600_000 });

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Bytes of body received (the body itself is only kept when `keepBody`). */
  bytes: number;
  text?: string;
}

export interface RequestInit {
  headers?: Record<string, string>;
  body?: string | Buffer | Readable;
  keepBody?: boolean;
  dispatcher?: Dispatcher;
}

export async function send(base: string, method: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await request(`${base}${path}`, {
    method: method as Dispatcher.HttpMethod,
    headers: init.headers,
    body: init.body,
    dispatcher: init.dispatcher ?? agent,
  });
  let bytes = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) {
    bytes += (chunk as Buffer).length;
    if (init.keepBody) chunks.push(chunk as Buffer);
  }
  return { status: res.statusCode, headers: res.headers, bytes, text: init.keepBody ? Buffer.concat(chunks).toString('utf8') : undefined };
}

/** Fails loudly when a request the bench relies on did not do what it should. */
export function expectStatus(answer: Answer, allowed: number[], what: string): Answer {
  if (!allowed.includes(answer.status)) throw new Error(`${what}: expected HTTP ${allowed.join('/')}, got ${answer.status}${answer.text ? `: ${answer.text.slice(0, 300)}` : ''}`);
  return answer;
}

/** What a file manager asks for in a listing. */
export const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>' +
  '<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:getcontenttype/><D:displayname/>' +
  '</D:prop></D:propfind>';

export function propfind(base: string, path: string, depth: '0' | '1', init: RequestInit = {}): Promise<Answer> {
  return send(base, 'PROPFIND', path, {
    ...init,
    headers: { depth, 'content-type': 'application/xml; charset=utf-8', ...init.headers },
    body: init.body ?? PROPFIND_BODY,
  });
}

/** How many `<D:response>` a multistatus holds (a sanity check on listings). */
export function countResponses(xml: string): number {
  return xml.match(/<(?:[A-Za-z]+:)?response[\s>]/g)?.length ?? 0;
}

/** Encodes a drive path for a URL, segment by segment. */
export function urlPath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

/** `total` bytes of a repeating pseudo-random pattern, in `chunk`-sized buffers, without allocating per chunk. */
export function patternStream(total: number, chunk = 1024 * 1024): Readable {
  const block = PATTERN.length >= chunk ? PATTERN.subarray(0, chunk) : Buffer.alloc(chunk, PATTERN);
  let left = total;
  return new Readable({
    highWaterMark: chunk,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

/** `size` bytes of the same pattern, in one buffer. */
export function patternBuffer(size: number): Buffer {
  return size <= PATTERN.length ? PATTERN.subarray(0, size) : Buffer.alloc(size, PATTERN);
}

const PATTERN = (() => {
  // xorshift: cheap, deterministic, incompressible enough for hashing to mean something
  const buf = Buffer.alloc(4 * 1024 * 1024);
  let x = 0x9e3779b9;
  for (let i = 0; i < buf.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  return buf;
})();

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
