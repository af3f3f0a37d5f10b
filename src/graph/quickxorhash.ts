/**
 * QuickXorHash, the content hash OneDrive for Business and personal OneDrive report in
 * `file.hashes.quickXorHash`. Each input byte is XORed into a 160-bit ring at a bit
 * position that advances by 11 per byte; the total length is XORed into the last 8 bytes.
 *
 * The position pattern repeats every 160 bytes, so we fold the input into 160 byte-wide
 * accumulators (one XOR per input byte) and only place them on the ring when digesting.
 * XOR works byte by byte, so the folding is done four bytes at a time on 32-bit words
 * (40 words per 160-byte period), eight periods per pass: about ten times faster than byte by byte.
 */
const WIDTH_BITS = 160;
const WIDTH_BYTES = WIDTH_BITS / 8;
const SHIFT = 11;
const WORDS = WIDTH_BITS / 4;

/** Input not 4-byte aligned in its ArrayBuffer is copied here (in pieces) to be read as words. */
const SCRATCH_WORDS = 16 * 1024;
const scratchWords = new Int32Array(SCRATCH_WORDS);
const scratchBytes = new Uint8Array(scratchWords.buffer);

export class QuickXorHash {
  private readonly folded = new Uint8Array(WIDTH_BITS);
  private readonly foldedWords = new Int32Array(this.folded.buffer);
  private position = 0; // length so far, modulo 160
  private length = 0; // exact up to 2^53 bytes

  update(data: Uint8Array): this {
    const folded = this.folded;
    const n = data.length;
    let pos = this.position;
    let i = 0;
    // Bytes until the ring position is word aligned, then words, then the last bytes.
    while (i < n && (pos & 3) !== 0) {
      folded[pos++] ^= data[i++];
      if (pos === WIDTH_BITS) pos = 0;
    }
    let words = (n - i) >>> 2;
    if (words > 0) {
      const start = data.byteOffset + i;
      if ((start & 3) === 0) {
        pos = this.foldWords(new Int32Array(data.buffer, start, words), pos >>> 2) << 2;
        i += words << 2;
      } else {
        while (words > 0) {
          const take = Math.min(words, SCRATCH_WORDS);
          scratchBytes.set(data.subarray(i, i + (take << 2)));
          pos = this.foldWords(take === SCRATCH_WORDS ? scratchWords : scratchWords.subarray(0, take), pos >>> 2) << 2;
          i += take << 2;
          words -= take;
        }
      }
    }
    for (; i < n; i++) {
      folded[pos++] ^= data[i];
      if (pos === WIDTH_BITS) pos = 0;
    }
    this.position = pos;
    this.length += n;
    return this;
  }

  /** XORs `src` into the accumulators from word `at`; returns the word position after it. */
  private foldWords(src: Int32Array, at: number): number {
    const acc = this.foldedWords;
    const n = src.length;
    let w = at;
    let j = 0;
    if (w !== 0) {
      for (; j < n && w < WORDS; j++) acc[w++] ^= src[j];
      if (w < WORDS) return w;
      w = 0;
    }
    // Eight periods XORed together per accumulator update: fewer stores, about three times faster.
    for (; j + 8 * WORDS <= n; j += 8 * WORDS) {
      for (let k = 0; k < WORDS; k++) {
        const a = j + k;
        acc[k] ^= src[a] ^ src[a + WORDS] ^ src[a + 2 * WORDS] ^ src[a + 3 * WORDS] ^ src[a + 4 * WORDS] ^ src[a + 5 * WORDS] ^ src[a + 6 * WORDS] ^ src[a + 7 * WORDS];
      }
    }
    for (; j + WORDS <= n; j += WORDS) {
      for (let k = 0; k < WORDS; k++) acc[k] ^= src[j + k];
    }
    for (; j < n; j++) acc[w++] ^= src[j];
    return w;
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
