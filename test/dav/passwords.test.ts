import { describe, expect, it } from 'vitest';
import { hashPassword, parsePasswordHash, PasswordHashError, verifyPassword } from '../../src/dav/access/passwords.js';

const FAST = { N: 1 << 10, r: 8, p: 1 };

describe('passwords', () => {
  it('hashes into scrypt$N$r$p$salt$hash and verifies only the right password', async () => {
    const hash = await hashPassword('correct horse', FAST);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horse ', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same', FAST)).not.toBe(await hashPassword('same', FAST));
  });

  it('treats NFC and NFD spellings of a password alike', async () => {
    const hash = await hashPassword('caf\u00e9', FAST);
    expect(await verifyPassword('cafe\u0301', hash)).toBe(true);
  });

  it('uses the default cost when not told otherwise', async () => {
    const hash = await hashPassword('x');
    expect(parsePasswordHash(hash).params).toEqual({ N: 32768, r: 8, p: 1 });
  });

  it.each(['plain', 'bcrypt$x', 'scrypt$1000$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'scrypt$1024$8$1$AA$aGFzaGhhc2hoYXNoaGFzaA', 'scrypt$1048576000$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'])(
    'refuses malformed or dangerous hash %s with advice',
    (encoded) => {
      expect(() => parsePasswordHash(encoded)).toThrow(PasswordHashError);
    },
  );
});
