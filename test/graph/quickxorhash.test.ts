import { describe, expect, it } from 'vitest';
import { foldPeriodsJs, QuickXorHash, quickXorHash } from '../../src/graph/quickxorhash.js';
import { foldPeriodsSimd } from '../../src/graph/quickxorhash-simd.js';

// Vectors published with rclone's OneDrive backend (size, base64 input, base64 hash).
const vectors: Array<[number, string, string]> = [
  [0, '', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
  [1, 'Sg==', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA='],
  [2, 'tbQ=', 'taAFAAAAAAAAAAAAAgAAAAAAAAA='],
  [3, '0pZP', '0rDEEwAAAAAAAAAAAwAAAAAAAAA='],
  [7, 'qaApEj66lw==', 'qQBFCiTgA11cAgAABwAAAAAAAAA='],
  [16, '2fuxhBJXtpWFe8dOfdGeHw==', 'O9tHLAghgSvYohKFyMMxnNCHaHg='],
  [20, 'T6LYJIfDh81JrAK309H2JMJTXis=', 'zBTHrspn3mEcohlJdIUAbjGNaNg='],
  [21, 'DWAAX5/CIfrmErgZa8ot6ZraeSbu', 'LR2Z0PjuRYGKQB/mhQAuMrAGZbQ='],
  [64, 'Mb7EGva2rEE5fENDL85P+BsapHEEjv2/siVhKjvAQe02feExVOQSkfmuYzU/kTF1MaKjPmKF/w+cbvwfdWL8aQ==', 'n1anP5NfvD4XDYWIeRPW3ZkPv1Y='],
  [222, 'PfxMcUd0vIW6VbHG/uj/Y0W6qEoKmyBD0nYebEKazKaKG+UaDqBEcmQjbfQeVnVLuodMoPp7P7TR1htX5n2VnkHh22xDyoJ8C/ZQKiSNqQfXvh83judf4RVr9exJCud8Uvgip6aVZTaPrJHVjQhMCp/dEnGvqg0oN5OVkM2qqAXvA0teKUDhgNM71sDBVBCGXxNOR2bpbD1iM4dnuT0ey4L+loXEHTL0fqMeUcEi2asgImnlNakwenDzz0x57aBwyq3AspCFGB1ncX4yYCr/OaCcS5OKi/00WH+wNQU3', 'QX/YEpG0gDsmhEpCdWhsxDzsfVE='],
  [333, 'w0LGhqU1WXFbdavqDE4kAjEzWLGGzmTNikzqnsiXHx2KRReKVTxkv27u3UcEz9+lbMvYl4xFf2Z4aE1xRBBNd1Ke5C0zToSaYw5o4B/7X99nKK2/XaUX1byLow2aju2XJl2OpKpJg+tSJ2fmjIJTkfuYUz574dFX6/VXxSxwGH/xQEAKS5TCsBK3CwnuG1p5SAsQq3gGVozDWyjEBcWDMdy8/AIFrj/y03Lfc/RNRCQTAfZbnf2QwV7sluw4fH3XJr07UoD0YqN+7XZzidtrwqMY26fpLZnyZjnBEt1FAZWO7RnKG5asg8xRk9YaDdedXdQSJAOy6bWEWlABj+tVAigBxavaluUH8LOj+yfCFldJjNLdi90fVHkUD/m4Mr5OtmupNMXPwuG3EQlqWUVpQoYpUYKLsk7a5Mvg6UFkiH596y5IbJEVCI1Kb3D1', 'e3+wo77iKcILiZegnzyUNcjCdoQ='],
];

describe('QuickXorHash', () => {
  it.each(vectors)('matches the published vector for %i bytes', (size, input, expected) => {
    const data = Buffer.from(input, 'base64');
    expect(data.length).toBe(size);
    expect(quickXorHash(data)).toBe(expected);
  });

  it('gives the same hash whatever the chunking', () => {
    for (const [, input, expected] of vectors) {
      const data = Buffer.from(input, 'base64');
      for (const block of [1, 2, 7, 64, 159, 160, 161, 512]) {
        const h = new QuickXorHash();
        for (let i = 0; i < data.length; i += block) h.update(data.subarray(i, i + block));
        expect(h.digestBase64()).toBe(expected);
      }
    }
  });
  it('folds with WebAssembly SIMD on this runtime', () => {
    expect(foldPeriodsSimd).toBeTypeOf('function');
  });

  it.each([
    ['WebAssembly SIMD', foldPeriodsSimd!],
    ['JavaScript', foldPeriodsJs],
  ])('hashes large, misaligned and oddly chunked input like the byte-by-byte definition (%s)', (_, folder) => {
    // The period folders work on words or 128-bit lanes; compare them with a literal reading of the algorithm.
    const reference = (data: Uint8Array): string => {
      const ring = new Uint8Array(20);
      for (let i = 0; i < data.length; i++) {
        const bit = (i * 11) % 160;
        const byte = bit >> 3;
        const shift = bit & 7;
        ring[byte] ^= (data[i] << shift) & 0xff;
        if (shift !== 0) ring[(byte + 1) % 20] ^= data[i] >> (8 - shift);
      }
      let len = BigInt(data.length);
      for (let i = 0; i < 8; i++) {
        ring[12 + i] ^= Number(len & 0xffn);
        len >>= 8n;
      }
      return Buffer.from(ring).toString('base64');
    };
    const backing = Buffer.alloc(300_000);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 2654435761) >>> 24;
    for (const offset of [0, 1, 2, 3, 5]) {
      const data = backing.subarray(offset, offset + 200_003);
      const expected = reference(data);
      expect(new QuickXorHash(folder).update(data).digestBase64()).toBe(expected);
      for (const blocks of [[1, 3, 70_001], [161, 4, 65_536], [6, 100_000, 7], [160, 128_000, 128_160, 320]]) {
        const h = new QuickXorHash(folder);
        let at = 0;
        for (let b = 0; at < data.length; b++) {
          const size = blocks[b % blocks.length];
          h.update(data.subarray(at, at + size));
          at += size;
        }
        expect(h.digestBase64()).toBe(expected);
      }
    }
  });
});
