import { GraphError } from '../graph/errors.js';

/**
 * Whether a failed Graph write may have been done anyway: the connection broke after the request
 * was sent, or the service answered 500/502/504 (graph/retry.ts: the backend may have done the work).
 * Before reporting such a failure, look at the drive and answer what is true.
 */
export function mayHaveHappened(err: unknown): boolean {
  if (!(err instanceof GraphError)) return false;
  return err.status === 0 || err.status === 500 || err.status === 502 || err.status === 504;
}
