import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes for WebDAV users: `scrypt$N$r$p$salt$hash`, salt and hash in base64url.
 * `onedav hash-password` writes them into the config; the server only ever verifies.
 */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const MAX_N = 1 << 20;

export class PasswordHashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PasswordHashError';
  }
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  checkParams(params);
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, KEY_LENGTH, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when `password` matches `encoded`; the comparison takes the same time whatever matches. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  const key = await scrypt(password, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(key, parsed.hash);
}

export interface ParsedPasswordHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

/** Parses and checks a stored hash; throws a PasswordHashError saying how to make a good one. */
/** Whether a configured password is one of our hashes (rather than plaintext). */
export function isPasswordHash(value: string): boolean {
  try {
    parsePasswordHash(value);
    return true;
  } catch {
    return false;
  }
}

export function parsePasswordHash(encoded: string): ParsedPasswordHash {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    throw new PasswordHashError('not an onedav password hash (expected scrypt$N$r$p$salt$hash); create one with "onedav hash-password"');
  }
  const [N, r, p] = parts.slice(1, 4).map((n) => (/^\d+$/.test(n) ? Number(n) : NaN));
  const params = { N, r, p };
  checkParams(params);
  const salt = Buffer.from(parts[4], 'base64url');
  const hash = Buffer.from(parts[5], 'base64url');
  if (salt.length < 8 || hash.length < 16) throw new PasswordHashError('the salt or hash of the password hash is too short; create a new one with "onedav hash-password"');
  return { params, salt, hash };
}

function checkParams({ N, r, p }: ScryptParams): void {
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) throw new PasswordHashError(`scrypt N must be a power of two between 2 and ${MAX_N}`);
  if (!Number.isInteger(r) || r < 1 || r > 32) throw new PasswordHashError('scrypt r must be between 1 and 32');
  if (!Number.isInteger(p) || p < 1 || p > 16) throw new PasswordHashError('scrypt p must be between 1 and 16');
}

function scrypt(password: string, salt: Buffer, length: number, { N, r, p }: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
