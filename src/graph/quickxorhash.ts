/**
 * QuickXorHash, the content hash OneDrive for Business and personal OneDrive report in
 * `file.hashes.quickXorHash`. Each input byte is XORed into a 160-bit ring at a bit
 * position that advances by 11 per byte; the total length is XORed into the last 8 bytes.
 *
 * The position pattern repeats every 160 bytes, so we fold the input into 160 byte-wide
 * accumulators (one XOR per input byte) and only place them on the ring when digesting.
 */
const WIDTH_BITS = 160;
const WIDTH_BYTES = WIDTH_BITS / 8;
const SHIFT = 11;

export class QuickXorHash {
  private readonly folded = new Uint8Array(WIDTH_BITS);
  private position = 0; // length so far, modulo 160
  private length = 0n;

  update(data: Uint8Array): this {
    const folded = this.folded;
    let pos = this.position;
    const n = data.length;
    let i = 0;
    // Run to the end of the current 160-byte period, then whole periods, then the tail.
    const head = Math.min(n, (WIDTH_BITS - pos) % WIDTH_BITS);
    for (; i < head; i++) folded[pos++] ^= data[i];
    if (pos === WIDTH_BITS) pos = 0;
    if (pos === 0) {
      for (; i + WIDTH_BITS <= n; i += WIDTH_BITS) {
        for (let k = 0; k < WIDTH_BITS; k++) folded[k] ^= data[i + k];
      }
    }
    for (; i < n; i++) {
      folded[pos++] ^= data[i];
      if (pos === WIDTH_BITS) pos = 0;
    }
    this.position = pos;
    this.length += BigInt(n);
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
    let len = this.length;
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
