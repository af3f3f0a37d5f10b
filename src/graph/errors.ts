/**
 * The one error type the Graph client raises. `code` is Graph's `error.code`
 * (itemNotFound, nameAlreadyExists, accessDenied, quotaLimitReached, activityLimitReached, …)
 * or one of ours for failures below HTTP or after it:
 * `networkError`, `timeout`, `aborted`, `hashMismatch`, `invalidName`, `sizeMismatch`, `uploadSessionLost`.
 */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds Graph asked us to wait (429/503), when it said so. */
    readonly retryAfter?: number,
    readonly requestId?: string,
    readonly innerCode?: string,
  ) {
    super(message);
    this.name = 'GraphError';
  }

  get isNotFound(): boolean {
    return this.status === 404 || this.code === 'itemNotFound';
  }

  get isThrottled(): boolean {
    return this.status === 429 || this.code === 'activityLimitReached';
  }
}

/** Codes we give failures that never got a Graph answer. */
export const NETWORK_ERROR = 'networkError';
export const TIMEOUT = 'timeout';
export const ABORTED = 'aborted';

/**
 * Builds a GraphError from a non-2xx response. Graph's body is
 * `{ error: { code, message, innerError: { code?, request-id, date } } }`; anything else
 * (HTML from a proxy, an empty body) still yields an error with the HTTP status.
 */
export function parseGraphError(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
  nowMs: number = Date.now(),
): GraphError {
  let code = defaultCodeFor(status);
  let message = `Graph answered HTTP ${status}.`;
  let innerCode: string | undefined;
  let requestId = headerValue(headers, 'request-id');
  try {
    const parsed = JSON.parse(bodyText) as unknown;
    const error = (parsed as { error?: unknown })?.error;
    if (error && typeof error === 'object') {
      const e = error as Record<string, unknown>;
      if (typeof e.code === 'string' && e.code) code = e.code;
      if (typeof e.message === 'string' && e.message) message = e.message;
      const inner = (e.innerError ?? e.innererror) as Record<string, unknown> | undefined;
      if (inner && typeof inner === 'object') {
        if (typeof inner.code === 'string') innerCode = inner.code;
        if (!requestId && typeof inner['request-id'] === 'string') requestId = inner['request-id'] as string;
      }
    }
  } catch {
    // Not JSON: keep the status-derived code.
  }
  const retryAfter = parseRetryAfter(headerValue(headers, 'retry-after'), nowMs);
  return new GraphError(status, code, message, retryAfter, requestId, innerCode);
}

/**
 * `Retry-After` as seconds: Graph sends delta-seconds; an HTTP-date is accepted too.
 * Returns undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function defaultCodeFor(status: number): string {
  switch (status) {
    case 400:
      return 'invalidRequest';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'accessDenied';
    case 404:
      return 'itemNotFound';
    case 409:
      return 'nameAlreadyExists';
    case 412:
      return 'preconditionFailed';
    case 416:
      return 'invalidRange';
    case 429:
      return 'activityLimitReached';
    case 503:
      return 'serviceNotAvailable';
    case 507:
      return 'quotaLimitReached';
    default:
      return status >= 500 ? 'generalException' : 'invalidRequest';
  }
}
