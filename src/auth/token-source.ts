/**
 * Where the Graph client gets its bearer token. The refresher implements it; the Graph client
 * knows nothing else of auth.
 */
export interface TokenSource {
  /** A token valid for at least a little while; refreshes ahead of expiry, single-flight. */
  getAccessToken(): Promise<string>;
  /** Graph said 401 with this token: refresh now (once, even if many callers ask) and return the new one. */
  refreshAfterRejection(rejected: string): Promise<string>;
}
