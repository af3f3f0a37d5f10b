import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one incoming request cost downstream, for its log line. The WebDAV server opens a scope
 * around each request; the Graph client adds to the scope it runs in. Work started by another
 * request (a cache load this one joined) or by no request (token timers, delta polls) is counted
 * where it started, so every Graph call is attributed at most once.
 */
export interface RequestScope {
  /** Graph attempts sent, retries included. */
  graphCalls: number;
  /** Of those, retries. */
  graphRetries: number;
  /** Milliseconds spent waiting for Retry-After or backoff. */
  graphWaitMs: number;
}

const storage = new AsyncLocalStorage<RequestScope>();

export function newRequestScope(): RequestScope {
  return { graphCalls: 0, graphRetries: 0, graphWaitMs: 0 };
}

/** Runs `fn` with `scope` as the current request scope (for everything it awaits or starts). */
export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The scope of the request being served here, if any. */
export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}

/** Runs `fn` outside any request scope (background work that must not be billed to a request). */
export function runOutsideRequestScope<T>(fn: () => T): T {
  return storage.exit(fn);
}
