import { createHash } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

/**
 * A WebDAV client for the soak on node:http: exact paths and headers, streamed request bodies
 * from a generator (with backpressure), response bodies hashed as they arrive (never held whole
 * unless asked), a deliberate mid-body abort, and a generous per-request timeout.
 */
export interface SoakResponse {
  /** 0 when no answer came (connection broke or timed out). */
  status: number;
  headers: IncomingHttpHeaders;
  /** sha256 (hex) and length of the body as received. */
  sha256: string;
  length: number;
  /** The body itself, when `keepBody` was asked for. */
  body?: Buffer;
  /** Why no (complete) answer came. */
  error?: string;
  /** We cut the request body on purpose. */
  aborted?: boolean;
  /** The answer's body was cut after the headers. */
  truncated?: boolean;
}

export interface SoakRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Request body: a Buffer, or chunks produced lazily. */
  body?: Buffer | Iterable<Buffer>;
  /** Destroy the request after this many body bytes were written. */
  abortAfter?: number;
  keepBody?: boolean;
  timeoutMs?: number;
}

export class SoakHttp {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(readonly base: URL) {}

  send(spec: SoakRequest): Promise<SoakResponse> {
    return new Promise((resolve) => {
      const hash = createHash('sha256');
      const parts: Buffer[] = [];
      let length = 0;
      let settled = false;
      let aborted = false;
      let answer: { status: number; headers: IncomingHttpHeaders } | undefined;
      const finish = (extra: Partial<SoakResponse> = {}) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: answer?.status ?? 0,
          headers: answer?.headers ?? {},
          sha256: hash.digest('hex'),
          length,
          body: spec.keepBody ? Buffer.concat(parts) : undefined,
          aborted,
          ...extra,
        });
      };
      const req = request(
        { host: this.base.hostname, port: this.base.port, method: spec.method, path: spec.path, headers: spec.headers, agent: this.agent },
        (res) => {
          answer = { status: res.statusCode ?? 0, headers: res.headers };
          res.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            length += chunk.length;
            if (spec.keepBody) parts.push(chunk);
          });
          res.on('end', () => finish());
          res.on('aborted', () => finish({ truncated: true, error: 'response aborted' }));
          res.on('error', (err) => finish({ truncated: true, error: err.message }));
        },
      );
      const timer = setTimeout(() => {
        req.destroy(new Error('soak client timeout'));
        finish({ status: 0, error: 'timeout' });
      }, spec.timeoutMs ?? 300_000);
      req.on('error', (err) => {
        if (answer) finish({ truncated: true, error: err.message });
        else finish({ status: 0, error: aborted ? 'aborted by the client' : err.message });
      });
      void writeBody(req, spec, () => {
        aborted = true;
      }).catch(() => {});
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

async function writeBody(req: ReturnType<typeof request>, spec: SoakRequest, onAbort: () => void): Promise<void> {
  if (spec.body === undefined) {
    req.end();
    return;
  }
  if (Buffer.isBuffer(spec.body)) {
    req.end(spec.body);
    return;
  }
  let written = 0;
  for (const chunk of spec.body) {
    if (req.destroyed) return;
    let piece = chunk;
    if (spec.abortAfter !== undefined && written + piece.length >= spec.abortAfter) {
      piece = piece.subarray(0, spec.abortAfter - written);
      if (piece.length > 0) req.write(piece);
      // Let the bytes leave, then cut the connection without ending the body.
      await new Promise((r) => setTimeout(r, 20));
      onAbort();
      req.destroy(new Error('aborted by the client'));
      return;
    }
    written += piece.length;
    if (!req.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          req.off('drain', done);
          req.off('close', done);
          resolve();
        };
        req.on('drain', done);
        req.on('close', done);
      });
    }
  }
  if (!req.destroyed) req.end();
}
