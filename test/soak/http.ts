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
  /**
   * Earlier attempts of this request (a retrying client) that may have done some or all of the
   * work: no answer, or a 5xx. The final answer alone does not tell what happened then.
   */
  uncertainAttempts?: number;
  /** Attempts made in all (1 without retries). */
  attempts?: number;
}

export interface SoakRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Request body: a Buffer, or chunks produced lazily (a function makes them anew for each attempt). */
  body?: Buffer | Iterable<Buffer> | (() => Iterable<Buffer>);
  /** Destroy the request after this many body bytes were written. */
  abortAfter?: number;
  keepBody?: boolean;
  timeoutMs?: number;
}

/**
 * A client behind a load balancer tries again, a bounded number of times, when the connection
 * broke or the answer was 502/503/504 (a replica died, or shared state was briefly unavailable),
 * waiting Retry-After (capped) between attempts.
 */
export interface RetryPolicy {
  attempts: number;
  /** Pause when the answer gave no Retry-After (ms). */
  pauseMs: number;
  /** Longest pause, whatever Retry-After says (ms). */
  maxPauseMs: number;
}

export class SoakHttp {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  /** Retries made, by the status that caused them (0: no answer). */
  readonly retried = new Map<number, number>();

  constructor(
    readonly base: URL,
    private readonly retry?: RetryPolicy,
  ) {}

  async send(spec: SoakRequest): Promise<SoakResponse> {
    const attempts = this.retry?.attempts ?? 1;
    let uncertain = 0;
    for (let attempt = 1; ; attempt++) {
      const res = await this.sendOnce(spec);
      const retryable = (res.status === 0 && !res.aborted && res.error !== 'timeout') || [502, 503, 504].includes(res.status);
      if (!retryable || attempt >= attempts || !this.retry) return { ...res, uncertainAttempts: uncertain, attempts: attempt };
      uncertain++;
      this.retried.set(res.status, (this.retried.get(res.status) ?? 0) + 1);
      const retryAfter = Number(res.headers['retry-after']);
      const pause = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : this.retry.pauseMs;
      await new Promise((r) => setTimeout(r, Math.min(pause, this.retry!.maxPauseMs)));
    }
  }

  private sendOnce(spec: SoakRequest): Promise<SoakResponse> {
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
  const body = typeof spec.body === 'function' ? spec.body() : spec.body;
  let written = 0;
  for (const chunk of body) {
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
