import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

/** Writes a JSON body with the headers Graph sends. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Graph's error body: `{ error: { code, message, innerError: { date, request-id, client-request-id } } }`.
 * `request-id` is also sent as a header, as Graph does.
 */
export function sendGraphError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  innerCode?: string,
): void {
  const requestId = randomUUID();
  const innerError: Record<string, string> = {
    date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
    'request-id': requestId,
    'client-request-id': requestId,
  };
  if (innerCode) innerError.code = innerCode;
  sendJson(res, status, { error: { code, message, innerError } }, { 'request-id': requestId, 'client-request-id': requestId, ...headers });
}

/** Thrown by handlers; turned into a Graph error response by the server. */
export class EmulatorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly innerCode?: string,
  ) {
    super(message);
  }
}

/** Reads the whole body, refusing more than `limit` bytes with a 413. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new EmulatorHttpError(413, 'requestTooLarge', `The request body exceeds the limit of ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads and parses a JSON body; an empty body is `{}`; malformed JSON is Graph's 400 invalidRequest. */
export async function readJson(req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit);
  if (body.length === 0) return {};
  try {
    const parsed = JSON.parse(body.toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new EmulatorHttpError(400, 'invalidRequest', 'Invalid request body: the body must be a JSON object.');
  }
}

/** Reads an application/x-www-form-urlencoded body, as the identity endpoints take. */
export async function readForm(req: IncomingMessage, limit = 64 * 1024): Promise<URLSearchParams> {
  const body = await readBody(req, limit);
  return new URLSearchParams(body.toString('utf8'));
}
