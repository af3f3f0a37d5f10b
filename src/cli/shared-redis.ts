import type { Config } from '../config.js';
import { redactedUrl, SharedRedis } from '../redis/connection.js';
import { silentLogger, type Logger } from '../util/logger.js';

/** The environment variable for the Redis AUTH password, kept out of the config file. */
export const REDIS_PASSWORD_VARIABLE = 'ONEDAV_REDIS_PASSWORD';

type RedisConfig = NonNullable<Config['redis']>;

/** The fleet's one Redis connection for this process, AUTH from the URL or ONEDAV_REDIS_PASSWORD. */
export function openSharedRedis(redis: RedisConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): SharedRedis {
  return new SharedRedis({ url: redis.url, keyPrefix: redis.keyPrefix, password: env[REDIS_PASSWORD_VARIABLE] || undefined, logger });
}

/**
 * What preflight says about `redis`: a problem when it does not answer a PING (onedav would answer
 * every lock and PROPPATCH with 503), a warning when its password and data would cross the
 * network in clear text (not loopback, not rediss://).
 */
export async function checkRedis(redis: RedisConfig, env: NodeJS.ProcessEnv = process.env): Promise<{ problems: string[]; warnings: string[] }> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const shared = openSharedRedis(redis, silentLogger, env);
  try {
    if (!shared.loopback && !redis.url.startsWith('rediss://')) {
      warnings.push(
        `redis.url ${redactedUrl(redis.url)} is neither loopback nor rediss://: the AUTH password, locks and dead properties cross the network in clear text. Use rediss:// (TLS).`,
      );
    }
    try {
      await shared.ready(3000);
      await shared.ping();
    } catch (err) {
      problems.push(`redis at ${redactedUrl(redis.url)} does not answer (${(err as Error).message.replace(redis.url, redactedUrl(redis.url))}): start it, or fix redis.url / ${REDIS_PASSWORD_VARIABLE}`);
    }
  } finally {
    await shared.close();
  }
  return { problems, warnings };
}
