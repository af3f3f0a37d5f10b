import { request, type Dispatcher } from 'undici';
import { OAuthError, TransientAuthError } from './errors.js';

/** A successful token endpoint answer (v2.0). */
export interface TokenResponse {
  token_type: string;
  access_token: string;
  expires_in: number;
  ext_expires_in?: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

export interface IdentityHttpOptions {
  /** undici dispatcher (tests, proxies); the global one when absent. */
  dispatcher?: Dispatcher;
  /** Per request, headers and body together (default 30 s). */
  timeoutMs?: number;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function transportError(err: unknown, url: string): Error {
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code && TRANSIENT_CODES.has(code)) return new TransientAuthError(`No answer from ${new URL(url).host} (${code})`);
  if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') return new TransientAuthError(`No answer from ${new URL(url).host} in time`);
  return err as Error;
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

async function send(url: string, init: { method: 'GET' | 'POST'; body?: string; headers?: Record<string, string> }, options: IdentityHttpOptions): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const timeout = options.timeoutMs ?? 30_000;
  try {
    const res = await request(url, {
      method: init.method,
      body: init.body,
      headers: { accept: 'application/json', ...init.headers },
      dispatcher: options.dispatcher,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  } catch (err) {
    throw transportError(err, url);
  }
}

function errorFrom(status: number, headers: Record<string, string | string[] | undefined>, text: string, url: string): Error {
  if (status >= 500 || status === 429) {
    return new TransientAuthError(`${new URL(url).host} answered ${status}`, status, parseRetryAfter(headers['retry-after']));
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: fall through with the status alone.
  }
  const description = typeof body.error_description === 'string' ? body.error_description.split(/\r?\n/)[0] : '';
  const codes = Array.isArray(body.error_codes) ? (body.error_codes as unknown[]) : [];
  return new OAuthError(
    status,
    typeof body.error === 'string' ? body.error : `http_${status}`,
    description,
    typeof codes[0] === 'number' ? codes[0] : undefined,
    typeof body.correlation_id === 'string' ? body.correlation_id : undefined,
  );
}

/** POSTs a form to a token (or device-code) endpoint and returns its JSON, or throws OAuthError / TransientAuthError. */
export async function postForm<T = TokenResponse>(url: string, form: Record<string, string | undefined>, options: IdentityHttpOptions = {}, headers: Record<string, string> = {}): Promise<T> {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(form)) if (value !== undefined) body.set(key, value);
  const res = await send(url, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } }, options);
  if (res.status !== 200) throw errorFrom(res.status, res.headers, res.text, url);
  return JSON.parse(res.text) as T;
}

/** GETs a JSON document (OpenID configuration, user realm). */
export async function getJson<T = Record<string, unknown>>(url: string, options: IdentityHttpOptions = {}): Promise<T> {
  const res = await send(url, { method: 'GET' }, options);
  if (res.status !== 200) throw errorFrom(res.status, res.headers, res.text, url);
  return JSON.parse(res.text) as T;
}
