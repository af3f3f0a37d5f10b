/**
 * Where the Graph client gets its bearer token. The refresher implements it; the Graph client
 * knows nothing else of auth.
 */
export interface TokenSource {
  // Both methods reject when no token can be had. An error with `transient: true` may go away by
  // itself (the identity service is unreachable); any other means a person must act (sign in again,
  // fix the client secret) and its message says how.
  /** A token valid for at least a little while; refreshes ahead of expiry, single-flight. */
  getAccessToken(): Promise<string>;
  /** Graph said 401 with this token: refresh now (once, even if many callers ask) and return the new one. */
  refreshAfterRejection(rejected: string): Promise<string>;
}
