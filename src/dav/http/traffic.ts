import type { IncomingMessage, ServerResponse } from 'node:http';

/** Body bytes of one request and its response, counted as they pass. */
export interface Traffic {
  bytesIn(): number;
  bytesOut(): number;
  /** Called after every chunk of request body a handler takes (upload progress). */
  onBodyBytes(listener: (total: number) => void): void;
}

/**
 * Counts body bytes without putting anything between the request and its handler: PUT hands the
 * request itself to the drive (so backpressure reaches the client), so the count comes from the
 * stream's own `data` emissions, which happen for every chunk read in paused and flowing mode
 * alike. Response bytes are counted at `write`/`end`.
 */
export function countTraffic(req: IncomingMessage, res: ServerResponse): Traffic {
  let received = 0;
  let sent = 0;
  const listeners: Array<(total: number) => void> = [];

  const emit = req.emit;
  req.emit = function (this: IncomingMessage, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') {
      received += byteLength(args[0]);
      for (const listener of listeners) listener(received);
    }
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as IncomingMessage['emit'];

  const write = res.write;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    sent += byteLength(chunk, rest[0]);
    return write.apply(this, [chunk, ...rest] as Parameters<typeof write>);
  } as ServerResponse['write'];
  const end = res.end;
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    if (typeof chunk !== 'function') sent += byteLength(chunk, rest[0]);
    return end.apply(this, [chunk, ...rest] as Parameters<typeof end>);
  } as ServerResponse['end'];

  return {
    bytesIn: () => received,
    bytesOut: () => sent,
    onBodyBytes: (listener) => listeners.push(listener),
  };
}

function byteLength(chunk: unknown, encoding?: unknown): number {
  if (chunk === undefined || chunk === null) return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
