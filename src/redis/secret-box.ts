import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The environment variable that holds the key for secrets kept in Redis (32 bytes, base64 or hex). */
export const STATE_KEY_VARIABLE = 'ONEDAV_STATE_KEY';

const VERSION = 'v1';

/**
 * Seals secrets (refresh tokens) before they reach Redis: AES-256-GCM with a random 96-bit IV per
 * value, so a copy of the Redis data (RDB/AOF file, a replica, a backup) does not hand out sign-ins.
 * The key never leaves the environment of the onedav processes.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** The box for `ONEDAV_STATE_KEY`, or undefined when it is not set; throws when it is set but malformed. */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): SecretBox | undefined {
    const text = env[STATE_KEY_VARIABLE]?.trim();
    if (!text) return undefined;
    return new SecretBox(parseKey(text));
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    // The context (e.g. the Redis key) is authenticated: a sealed value copied to another key does not open.
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /** Throws when the value was sealed with another key or for another context, or was altered. */
  open(sealed: string, context: string): string {
    if (!sealed.startsWith(`${VERSION}:`)) throw new Error('Not a sealed value (was it stored without ONEDAV_STATE_KEY?).');
    const raw = Buffer.from(sealed.slice(VERSION.length + 1), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(`A sealed value does not open with ${STATE_KEY_VARIABLE} (another key, or altered).`);
    }
  }
}

export function isSealed(value: string): boolean {
  return value.startsWith(`${VERSION}:`);
}

/** 32 bytes as 64 hex digits or base64 (`openssl rand -base64 32`). */
export function parseKey(text: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new Error(`${STATE_KEY_VARIABLE} must be 32 bytes, as 64 hex digits or base64 (make one with: openssl rand -base64 32).`);
  return key;
}
