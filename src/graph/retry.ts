import { ABORTED, GraphError, NETWORK_ERROR, TIMEOUT } from './errors.js';

/**
 * The one retry policy (rclone's pacer idea): which failures are worth another attempt, and how
 * long to wait before it. Pure: the client owns the sleeping.
 *
 * What is retried:
 * - 429 and 503: Graph refused the request without doing it, so every method may retry,
 *   after `Retry-After` when given.
 * - 504 and 500/502: the backend may have done the work; retried only for idempotent requests.
 * - Connection failures before the request was sent (refused, connect timeout): always safe.
 * - Resets and timeouts after sending: only for idempotent requests. POSTs are not idempotent
 *   in general (create folder, copy, createUploadSession: on OneDrive for Business a first attempt
 *   that arrived holds the file's one upload session) and are declared `unsent-only`.
 * - Any other 4xx: never (the same request would fail the same way).
 */
export type RetryMode = 'idempotent' | 'unsent-only' | 'none';

export interface RetryOptions {
  /** Attempts in total, the first included. */
  maxAttempts: number;
  /** First backoff ceiling; doubles per attempt. */
  baseDelayMs: number;
  /** Largest backoff ceiling (before jitter). */
  maxDelayMs: number;
  /** Give up rather than wait longer than this in total for one request. */
  maxTotalWaitMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 6,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  maxTotalWaitMs: 120_000,
};

/** Undici/Node error codes meaning the request never left this machine. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export interface TransportFailure {
  /** Whether the request certainly did not reach the server. */
  unsent: boolean;
  error: GraphError;
}

/** Turns a thrown undici/Node error into our GraphError, noting whether the request was sent. */
export function classifyTransportError(err: unknown): TransportFailure {
  if (err instanceof GraphError) return { unsent: false, error: err };
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (e?.name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') {
    return { unsent: false, error: new GraphError(0, ABORTED, 'The request was aborted.') };
  }
  const isTimeout = TIMEOUT_CODES.has(code);
  const what = isTimeout ? 'timed out' : 'failed on the network';
  return {
    unsent: UNSENT_CODES.has(code),
    error: new GraphError(0, isTimeout ? TIMEOUT : NETWORK_ERROR, `The request to Graph ${what} (${code || e?.message || 'unknown error'}); it is safe to try again later.`),
  };
}

/** Whether a failed attempt may be tried again under `mode`. */
export function isRetryable(failure: { status: number; unsent?: boolean; code?: string }, mode: RetryMode): boolean {
  if (mode === 'none') return false;
  const { status } = failure;
  if (failure.code === ABORTED) return false;
  if (status === 0) return failure.unsent === true || mode === 'idempotent';
  if (status === 429 || status === 503) return true;
  if (status === 500 || status === 502 || status === 504) return mode === 'idempotent';
  return false;
}

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(max, base·2^attempt)].
 * `attempt` counts retries from 0.
 */
export function backoffDelay(attempt: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** The wait before the next attempt: Retry-After when Graph gave one, else backoff. */
export function delayBeforeRetry(attempt: number, retryAfterSeconds: number | undefined, options: RetryOptions, random?: () => number): number {
  if (retryAfterSeconds !== undefined) return Math.ceil(retryAfterSeconds * 1000);
  return backoffDelay(attempt, options, random);
}
