import { foldPeriodsSimd, type PeriodFolder } from './quickxorhash-simd.js';

/**
 * QuickXorHash, the content hash OneDrive for Business and personal OneDrive report in
 * `file.hashes.quickXorHash`. Each input byte is XORed into a 160-bit ring at a bit
 * position that advances by 11 per byte; the total length is XORed into the last 8 bytes.
 *
 * The position pattern repeats every 160 bytes, so we fold the input into 160 byte-wide
 * accumulators (one XOR per input byte) and only place them on the ring when digesting.
 * Whole 160-byte periods are folded by WebAssembly SIMD where it runs (quickxorhash-simd.ts),
 * else four bytes at a time on 32-bit words, eight periods per pass; the few bytes before the
 * first whole period and after the last go one by one.
 */
const WIDTH_BITS = 160;
const WIDTH_BYTES = WIDTH_BITS / 8;
const SHIFT = 11;
const WORDS = WIDTH_BITS / 4;

/** Input not 4-byte aligned in its ArrayBuffer is copied here (in pieces) to be read as words. */
const SCRATCH_WORDS = 400 * WORDS;
const scratchWords = new Int32Array(SCRATCH_WORDS);
const scratchBytes = new Uint8Array(scratchWords.buffer);

/** The JavaScript period folder: 32-bit words, eight periods XORed together per accumulator update. */
export const foldPeriodsJs: PeriodFolder = (acc, periods) => {
  const accWords = new Int32Array(acc.buffer, acc.byteOffset, WORDS);
  if (periods.byteOffset % 4 === 0) {
    foldWords(accWords, new Int32Array(periods.buffer, periods.byteOffset, periods.length >>> 2));
    return;
  }
  for (let at = 0; at < periods.length; at += SCRATCH_WORDS * 4) {
    const block = periods.subarray(at, at + SCRATCH_WORDS * 4);
    scratchBytes.set(block);
    foldWords(accWords, scratchWords.subarray(0, block.length >>> 2));
  }
};

/** XORs `src` (whole periods of 40 words) into the accumulators. */
function foldWords(acc: Int32Array, src: Int32Array): void {
  const n = src.length;
  let j = 0;
  // Eight periods XORed together per accumulator update: fewer stores, about three times faster.
  for (; j + 8 * WORDS <= n; j += 8 * WORDS) {
    for (let k = 0; k < WORDS; k++) {
      const a = j + k;
      acc[k] ^= src[a] ^ src[a + WORDS] ^ src[a + 2 * WORDS] ^ src[a + 3 * WORDS] ^ src[a + 4 * WORDS] ^ src[a + 5 * WORDS] ^ src[a + 6 * WORDS] ^ src[a + 7 * WORDS];
    }
  }
  for (; j < n; j += WORDS) {
    for (let k = 0; k < WORDS; k++) acc[k] ^= src[j + k];
  }
}

export class QuickXorHash {
  private readonly folded = new Uint8Array(WIDTH_BITS);
  private position = 0; // length so far, modulo 160
  private length = 0; // exact up to 2^53 bytes

  /** `foldPeriods`: which inner loop (tests compare them); by default the fastest this runtime has. */
  constructor(private readonly foldPeriods: PeriodFolder = foldPeriodsSimd ?? foldPeriodsJs) {}

  update(data: Uint8Array): this {
    const folded = this.folded;
    const n = data.length;
    let pos = this.position;
    let i = 0;
    while (i < n && pos !== 0) {
      folded[pos++] ^= data[i++];
      if (pos === WIDTH_BITS) pos = 0;
    }
    const whole = n - i - ((n - i) % WIDTH_BITS);
    if (whole > 0) {
      this.foldPeriods(folded, data.subarray(i, i + whole));
      i += whole;
    }
    for (; i < n; i++) folded[pos++] ^= data[i]; // fewer than 160 bytes, from position 0
    this.position = pos;
    this.length += n;
    return this;
  }

  digest(): Buffer {
    const out = Buffer.alloc(WIDTH_BYTES);
    for (let k = 0; k < WIDTH_BITS; k++) {
      const value = this.folded[k];
      if (value === 0) continue;
      const bit = (k * SHIFT) % WIDTH_BITS;
      const byte = bit >> 3;
      const shift = bit & 7;
      out[byte] ^= (value << shift) & 0xff;
      if (shift !== 0) out[(byte + 1) % WIDTH_BYTES] ^= value >> (8 - shift);
    }
    let len = BigInt(this.length);
    for (let i = 0; i < 8; i++) {
      out[WIDTH_BYTES - 8 + i] ^= Number(len & 0xffn);
      len >>= 8n;
    }
    return out;
  }

  /** Base64, as Graph reports it. */
  digestBase64(): string {
    return this.digest().toString('base64');
  }
}

export function quickXorHash(data: Uint8Array): string {
  return new QuickXorHash().update(data).digestBase64();
}
