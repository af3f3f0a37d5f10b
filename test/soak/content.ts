import { createCipheriv, createHash } from 'node:crypto';

/**
 * Deterministic file contents for the soak: the bytes of a version are the AES-128-CTR keystream
 * of a key derived from (seed, version id). Any range can be regenerated without keeping the file,
 * so a 64 MiB upload costs no memory and a Range GET can be checked byte for byte.
 */
export interface Version {
  id: number;
  key: Buffer;
  size: number;
  /** sha256 (hex) of the whole content, computed while generating it. */
  sha256: string;
}

export function versionKey(seed: number, id: number): Buffer {
  return createHash('sha256').update(`onedav-soak:${seed}:${id}`).digest().subarray(0, 16);
}

/** Yields the bytes [start, end) of a version's content in chunks of at most `chunk` bytes. */
export function* contentChunks(key: Buffer, start: number, end: number, chunk = 256 * 1024): Generator<Buffer> {
  if (end <= start) return;
  const block = Math.floor(start / 16);
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(Math.floor(block / 2 ** 32), 8);
  iv.writeUInt32BE(block >>> 0, 12);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  const skip = start - block * 16;
  if (skip > 0) cipher.update(Buffer.alloc(skip));
  for (let at = start; at < end; at += chunk) {
    const n = Math.min(chunk, end - at);
    yield cipher.update(Buffer.alloc(n));
  }
}

export function contentBytes(key: Buffer, start: number, end: number): Buffer {
  return Buffer.concat([...contentChunks(key, start, end)]);
}

export function sha256Of(key: Buffer, start: number, end: number): string {
  const hash = createHash('sha256');
  for (const c of contentChunks(key, start, end)) hash.update(c);
  return hash.digest('hex');
}

export function makeVersion(seed: number, id: number, size: number): Version {
  const key = versionKey(seed, id);
  return { id, key, size, sha256: sha256Of(key, 0, size) };
}
