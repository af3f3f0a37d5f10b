import { connect, type Socket } from 'node:net';

/**
 * HTTP exactly as written, over a plain TCP socket: for requests no HTTP client would send
 * (NUL bytes, invalid UTF-8, absurd lengths, trickled headers). One request per connection.
 */
export interface RawAnswer {
  /** Final status (interim 1xx answers skipped); 0 when the connection closed without one. */
  status: number;
  /** Everything received, as latin1 text. */
  text: string;
  /** The response body (after the final head). */
  body: string;
  /** The server closed the connection (as opposed to our timeout). */
  closedByServer: boolean;
}

export interface RawOptions {
  /** Give up (and close) after this long; default 10 s. */
  timeoutMs?: number;
  /** Called with the socket once connected, for trickling bytes; `bytes` is then sent first. */
  drive?: (socket: Socket) => void | Promise<void>;
  localAddress?: string;
  /** Resolve as soon as a final status line and head arrived (do not wait for the close). */
  untilHead?: boolean;
}

export function rawHttp(port: number, bytes: string | Buffer, options: RawOptions = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ ...finalAnswer(text), text, closedByServer });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.untilHead) {
        const answer = finalAnswer(Buffer.concat(chunks).toString('latin1'));
        if (answer.status !== 0 && answer.complete) finish(false);
      }
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => {});
    socket.on('connect', () => {
      if (bytes.length > 0) socket.write(bytes);
      void options.drive?.(socket);
    });
  });
}

/** The first non-1xx answer in `text`, with its body when Content-Length says how long it is. */
function finalAnswer(text: string): { status: number; body: string; complete: boolean } {
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) return { status: 0, body: '', complete: false };
    const head = rest.slice(0, headEnd);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    rest = rest.slice(headEnd + 4);
    if (status >= 100 && status < 200) continue;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const complete = length ? rest.length >= Number(length[1]) : true;
    return { status, body: length ? rest.slice(0, Number(length[1])) : rest, complete };
  }
}

/** A request head (and optional body) as bytes; `Host` and `Connection: close` are added. */
export function rawRequest(method: string, target: string, headers: Record<string, string> = {}, body?: string | Buffer): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  const all = { ...headers };
  if (body !== undefined && !Object.keys(all).some((k) => /^(content-length|transfer-encoding)$/i.test(k))) all['Content-Length'] = String(Buffer.byteLength(body));
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
}
