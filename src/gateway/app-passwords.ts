import { randomBytes } from 'node:crypto';

/** Lower-case letters and digits without 0/1/l/o, so a password read off a phone screen is typed right. */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/**
 * A new app password: 25 random characters of a 32-letter alphabet (125 bits) in five groups,
 * `xxxxx-xxxxx-xxxxx-xxxxx-xxxxx`. Random enough that scrypt is there for the stored copy, not
 * to slow down guessing; the login throttle does that.
 */
export function newAppPassword(): string {
  const bytes = randomBytes(25);
  const chars = Array.from(bytes, (b) => ALPHABET[b & 31]);
  return [0, 5, 10, 15, 20].map((i) => chars.slice(i, i + 5).join('')).join('-');
}

export function newId(): string {
  return randomBytes(9).toString('base64url');
}
