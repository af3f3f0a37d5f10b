import { RedisTokenStore } from '../auth/redis-token-store.js';
import { TokenStore, type SignInStore } from '../auth/token-store.js';
import type { Config } from '../config.js';
import { isLoopbackRedisUrl, redactedUrl, type SharedRedis } from '../redis/connection.js';
import { openSharedRedis } from './shared-redis.js';
import { SecretBox, STATE_KEY_VARIABLE } from '../redis/secret-box.js';
import { silentLogger, type Logger } from '../util/logger.js';

export interface OpenedSignInStore {
  store: SignInStore;
  /** The token files under dataDir (leftover cleanup, the one-time import into Redis). */
  files: TokenStore;
  /** The fleet's Redis, when the config has one (the login throttle shares it). */
  redis?: SharedRedis;
  /** Closes the Redis connection when the store opened one. */
  close(): Promise<void>;
}

/**
 * Problems and warnings about keeping sign-ins in Redis: tokens are sealed with ONEDAV_STATE_KEY;
 * without it they would sit in clear text in Redis's memory, its RDB/AOF files and its replicas,
 * which is only acceptable on a Redis on this machine.
 */
export function checkSharedSignIn(config: Config, env: NodeJS.ProcessEnv): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!config.redis) return { problems, warnings };
  let box: SecretBox | undefined;
  try {
    box = SecretBox.fromEnvironment(env);
  } catch (err) {
    problems.push((err as Error).message);
    return { problems, warnings };
  }
  if (box) return { problems, warnings };
  const where = redactedUrl(config.redis.url);
  if (isLoopbackRedisUrl(config.redis.url)) {
    warnings.push(`${STATE_KEY_VARIABLE} is not set: sign-ins are stored in the loopback Redis ${where} unsealed (set it to seal them: openssl rand -base64 32)`);
  } else {
    problems.push(`redis.url ${where} is not on this machine and ${STATE_KEY_VARIABLE} is not set: refresh tokens would be stored unsealed. Set ${STATE_KEY_VARIABLE} on every replica (make one with: openssl rand -base64 32)`);
  }
  return { problems, warnings };
}

/**
 * Where sign-ins live: Redis when the config has `redis` (every replica of a fleet shares them),
 * files under dataDir otherwise. Throws when a non-loopback Redis has no ONEDAV_STATE_KEY.
 */
export async function openSignInStore(config: Config, options: { logger?: Logger; env?: NodeJS.ProcessEnv } = {}): Promise<OpenedSignInStore> {
  const files = new TokenStore(config.dataDir);
  if (!config.redis) return { store: files, files, close: async () => {} };
  const env = options.env ?? process.env;
  const { problems } = checkSharedSignIn(config, env);
  if (problems.length) throw new Error(problems.join('; '));
  const connection = openSharedRedis(config.redis, options.logger ?? silentLogger, env);
  try {
    await connection.ready();
  } catch (err) {
    await connection.close();
    throw err;
  }
  return { store: new RedisTokenStore(connection, SecretBox.fromEnvironment(env)), files, redis: connection, close: () => connection.close() };
}

/**
 * Moving one server to a fleet needs no new `onedav login`: the account's token file is copied
 * into Redis once, when Redis has no sign-in for it yet (a concurrent import by another replica
 * wins; this one then uses that). True when this call imported it.
 */
export async function importFileSignIn(store: SignInStore, files: TokenStore, account: string): Promise<boolean> {
  if (!store.shared || (await store.load(account))) return false;
  const saved = await files.load(account);
  if (!saved) return false;
  return (await store.shared.saveIfGeneration({ ...saved, generation: undefined }, 0)) !== undefined;
}
