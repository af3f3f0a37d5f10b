import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { QuickXorHash } from '../../graph/quickxorhash.js';
import type { DriveProfile } from './profile.js';

/**
 * The hashes Graph reports for a file. No sha256Hash: "This property isn't supported. Don't use."
 * (https://learn.microsoft.com/graph/api/resources/hashes)
 */
export interface ContentHashes {
  quickXorHash: string;
  /** Only where the drive reports it (DriveProfile.sha1Hash). */
  sha1Hash?: string;
}

/** Which hashes a blob gets: those of the drive it is written for. */
export type HashChoice = Pick<DriveProfile, 'sha1Hash'>;

export interface StoredBlob extends ContentHashes {
  id: string;
  size: number;
}

/** What the service does to bytes on their way into a blob. */
export interface ContentChanges {
  /** Flip the first byte (tests of hash-mismatch handling). */
  corrupt?: boolean;
  /** Bytes the service adds at the end (see enrichment.ts). */
  append?: Buffer;
}

/** Hashes bytes as they pass, the ways the drive reports content (and no other: each costs CPU per byte). */
class ContentHasher {
  private readonly qx = new QuickXorHash();
  private readonly sha1;
  size = 0;

  constructor(choice: HashChoice) {
    this.sha1 = choice.sha1Hash ? createHash('sha1') : undefined;
  }

  update(chunk: Uint8Array): void {
    this.qx.update(chunk);
    this.sha1?.update(chunk);
    this.size += chunk.length;
  }

  digest(): ContentHashes {
    const hashes: ContentHashes = { quickXorHash: this.qx.digestBase64() };
    if (this.sha1) hashes.sha1Hash = this.sha1.digest('hex').toUpperCase();
    return hashes;
  }
}

/**
 * File content lives on disk, one immutable file per blob, so a 1 GiB upload never sits in memory.
 * Items share blobs (copies); the drive store counts references and removes unreferenced ones.
 */
export class BlobStore {
  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<BlobStore> {
    await mkdir(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
    return new BlobStore(dir);
  }

  pathOf(id: string): string {
    if (!/^[a-f0-9]{32}$/.test(id)) throw new Error(`Not a blob id: ${id}`);
    return join(this.dir, id);
  }

  /** A fresh file under `tmp/` for an upload in progress. */
  tempPath(): string {
    return join(this.dir, 'tmp', `${randomBytes(16).toString('hex')}.part`);
  }

  /**
   * Streams `source` into a new blob, hashing as it goes. `overLimit` is called (and its error thrown)
   * as soon as more than `limit` bytes arrive; a failed or aborted stream leaves nothing behind.
   */
  async writeStream(source: AsyncIterable<unknown>, limit: number, overLimit: () => Error, hashes: HashChoice, changes: ContentChanges = {}): Promise<StoredBlob> {
    const temp = this.tempPath();
    const handle = await open(temp, 'w', 0o600);
    let size = 0;
    try {
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > limit) throw overLimit();
        await writeAll(handle, buf, size - buf.length);
      }
      await handle.close();
    } catch (err) {
      await handle.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw err;
    }
    return this.adopt(temp, hashes, changes);
  }

  /**
   * Turns a finished temp file into a blob: optionally damages it (tests) or appends the service's
   * own bytes (SharePoint's rewrite of some files), hashes it as `hashes` says, moves it in place.
   */
  async adopt(temp: string, hashes: HashChoice, changes: ContentChanges = {}): Promise<StoredBlob> {
    try {
      if (changes.corrupt) await flipFirstByte(temp);
      if (changes.append && (await stat(temp)).size > 0) await appendFile(temp, changes.append);
      const { size, ...digests } = await hashFile(temp, hashes);
      const id = randomBytes(16).toString('hex');
      await rename(temp, this.pathOf(id));
      return { id, size, ...digests };
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
  }

  /** Reads bytes `start..end` (inclusive) of a blob. */
  read(id: string, start?: number, end?: number): Readable {
    return createReadStream(this.pathOf(id), { start, end, highWaterMark: 256 * 1024 });
  }

  async size(id: string): Promise<number> {
    return (await stat(this.pathOf(id))).size;
  }

  async remove(id: string): Promise<void> {
    await unlink(this.pathOf(id)).catch(() => {});
  }

  async removeTemp(path: string): Promise<void> {
    await unlink(path).catch(() => {});
  }

  async destroy(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function writeAll(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < buf.length) {
    const { bytesWritten } = await handle.write(buf, offset, buf.length - offset, position + offset);
    offset += bytesWritten;
  }
}

async function hashFile(path: string, choice: HashChoice): Promise<ContentHashes & { size: number }> {
  const hasher = new ContentHasher(choice);
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hasher.update(chunk as Buffer);
  return { size: hasher.size, ...hasher.digest() };
}

async function flipFirstByte(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    const { bytesRead } = await handle.read(one, 0, 1, 0);
    if (bytesRead === 1) {
      one[0] ^= 0xff;
      await handle.write(one, 0, 1, 0);
    }
  } finally {
    await handle.close();
  }
}
