import { REDIS_DEADLINE_MS, withinDeadline } from './deadline.js';

/**
 * Shared state (locks, dead properties, tokens, upload ownership) is out of reach: Redis is down,
 * restarting or too slow. Operations that need it fail with this instead of guessing — a replica
 * that carried on alone could grant a lock another replica also grants (split brain). WebDAV
 * answers 503 with Retry-After; onedav reconnects by itself.
 */
export class SharedStateUnavailableError extends Error {
  constructor(
    message: string,
    /** Seconds a client should wait before trying again. */
    readonly retryAfter = 2,
  ) {
    super(message);
    this.name = 'SharedStateUnavailableError';
  }
}

/**
 * Runs one Redis operation; a connection failure, a closed stream or no answer within
 * REDIS_DEADLINE_MS of event-loop time (withinDeadline: a busy replica is not a dead Redis) becomes
 * SharedStateUnavailableError.
 */
export async function viaRedis<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await withinDeadline(run(), REDIS_DEADLINE_MS, () => new SharedStateUnavailableError(`Shared state is unavailable (${what}): Redis did not answer within ${REDIS_DEADLINE_MS} ms`));
  } catch (err) {
    if (err instanceof SharedStateUnavailableError) throw err;
    if (isConnectionFailure(err)) throw new SharedStateUnavailableError(`Shared state is unavailable (${what}): ${(err as Error).message}`);
    throw err;
  }
}

/**
 * ioredis's own wording for "not connected" (enableOfflineQueue off), "connection lost with the
 * command in flight" and commandTimeout; plus socket errors. A Lua script's error or a WRONGTYPE
 * reply is a bug, not an outage, and is rethrown as is.
 */
function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  return /Stream isn't writeable|Connection is closed|Command timed out|max retries per request|LOADING|MASTERDOWN|READONLY|connect ETIMEDOUT/i.test(err.message);
}
