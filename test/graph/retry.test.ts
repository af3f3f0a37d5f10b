import { describe, expect, it } from 'vitest';
import { GraphError, parseGraphError, parseRetryAfter } from '../../src/graph/errors.js';
import { backoffDelay, classifyTransportError, DEFAULT_RETRY, delayBeforeRetry, isRetryable } from '../../src/graph/retry.js';
import { routeTemplate } from '../../src/graph/stats.js';

describe('retry policy', () => {
  it('retries throttling for every method, server errors only when idempotent', () => {
    for (const mode of ['idempotent', 'unsent-only'] as const) {
      expect(isRetryable({ status: 429 }, mode)).toBe(true);
      expect(isRetryable({ status: 503 }, mode)).toBe(true);
    }
    expect(isRetryable({ status: 504 }, 'idempotent')).toBe(true);
    expect(isRetryable({ status: 504 }, 'unsent-only')).toBe(false);
    expect(isRetryable({ status: 429 }, 'none')).toBe(false);
  });

  it('never retries other 4xx', () => {
    for (const status of [400, 401, 403, 404, 409, 412, 413, 416, 423]) {
      expect(isRetryable({ status }, 'idempotent')).toBe(false);
    }
  });

  it('retries resets only when idempotent, unsent failures always', () => {
    expect(isRetryable({ status: 0, unsent: false }, 'idempotent')).toBe(true);
    expect(isRetryable({ status: 0, unsent: false }, 'unsent-only')).toBe(false);
    expect(isRetryable({ status: 0, unsent: true }, 'unsent-only')).toBe(true);
    expect(isRetryable({ status: 0, code: 'aborted' }, 'idempotent')).toBe(false);
  });

  it('classifies transport errors', () => {
    expect(classifyTransportError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).unsent).toBe(true);
    const reset = classifyTransportError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    expect(reset.unsent).toBe(false);
    expect(reset.error.code).toBe('networkError');
    expect(classifyTransportError(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' })).error.code).toBe('timeout');
    expect(classifyTransportError(Object.assign(new Error('a'), { name: 'AbortError' })).error.code).toBe('aborted');
  });

  it('backs off exponentially with full jitter, capped', () => {
    const opts = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(0, opts, () => 0.999)).toBe(99);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(400);
    expect(backoffDelay(10, opts, () => 0.999)).toBe(999);
    expect(backoffDelay(2, opts, () => 0)).toBe(0);
  });

  it('prefers Retry-After over backoff', () => {
    expect(delayBeforeRetry(5, 2, DEFAULT_RETRY, () => 0.5)).toBe(2000);
    expect(delayBeforeRetry(0, undefined, { ...DEFAULT_RETRY, baseDelayMs: 100 }, () => 0.5)).toBe(50);
  });
});

describe('Graph error parsing', () => {
  it('reads code, message, inner code, request id and Retry-After', () => {
    const body = JSON.stringify({ error: { code: 'activityLimitReached', message: 'throttled', innerError: { code: 'throttledRequest', 'request-id': 'r-1' } } });
    const err = parseGraphError(429, { 'retry-after': '7' }, body);
    expect(err).toBeInstanceOf(GraphError);
    expect([err.status, err.code, err.message, err.retryAfter, err.requestId, err.innerCode]).toEqual([429, 'activityLimitReached', 'throttled', 7, 'r-1', 'throttledRequest']);
    expect(err.isThrottled).toBe(true);
  });

  it('prefers the request-id header and survives non-JSON bodies', () => {
    const err = parseGraphError(502, { 'request-id': 'h-1' }, '<html>bad gateway</html>');
    expect([err.status, err.code, err.requestId]).toEqual([502, 'generalException', 'h-1']);
    expect(parseGraphError(404, {}, '').isNotFound).toBe(true);
  });

  it('parses Retry-After as seconds or HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:05 GMT', now)).toBe(5);
  });
});

describe('route templates', () => {
  it('folds ids, paths and tokens', () => {
    expect(routeTemplate('GET', '/v1.0/drives/b!x/items/ABC123/children')).toBe('GET /v1.0/drives/{id}/items/{id}/children');
    expect(routeTemplate('GET', '/v1.0/me/drive/root:/a/b%20c:/children')).toBe('GET /v1.0/me/drive/root:{path}:/children');
    expect(routeTemplate('PUT', '/up/abcdef')).toBe('PUT /up/{token}');
  });
});
