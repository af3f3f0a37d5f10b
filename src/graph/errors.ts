/**
 * The one error type the Graph client raises. `code` is Graph's `error.code`
 * (itemNotFound, nameAlreadyExists, accessDenied, quotaLimitReached, activityLimitReached, …)
 * or one of ours for failures below HTTP: `networkError`, `timeout`, `hashMismatch`.
 */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
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
}
