import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Sees each piece of a read as it lands in the target, in order (e.g. to hash it while the read goes on). */
export type ChunkObserver = (chunk: Uint8Array) => void;

/** Where an upload session reads its fragments from: a request body or a spool file. */
export interface FragmentSource {
  readInto(target: Buffer, n?: number, signal?: AbortSignal, observe?: ChunkObserver): Promise<Buffer>;
  atEnd(signal?: AbortSignal): Promise<boolean>;
}

/**
 * Pulls exact-size chunks from a Readable in paused mode, so the source is only read as fast as we
 * upload (backpressure reaches the client's TCP window). Never destroys the stream: the caller owns
 * it and may still need to answer on the same connection.
 */
export class ChunkReader implements FragmentSource {
  private leftover: Buffer | undefined;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly onReadable = () => this.notify();
  private readonly onEnd = () => {
    this.ended = true;
    this.notify();
  };
  private readonly onError = (err: Error) => {
    this.failure = err;
    this.notify();
  };
  private readonly onClose = () => {
    if (!this.stream.readableEnded && !this.failure) this.failure = new Error('The request body was closed before it ended.');
    this.notify();
  };

  constructor(private readonly stream: Readable) {
    if (stream.readableEnded) this.ended = true;
    stream.on('readable', this.onReadable);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
  }

  /** Bytes consumed so far. */
  consumed = 0;

  /** Up to `n` bytes; fewer only at the end of the stream. */
  async read(n: number, signal?: AbortSignal): Promise<Buffer> {
    const parts: Buffer[] = [];
    const have = await this.pull(n, signal, (chunk) => parts.push(chunk));
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, have);
  }

  /**
   * Up to `n` bytes (default: its length) copied into `target`, which the caller reuses from one
   * read to the next, so a long upload does not leave a trail of fragment-sized garbage; returns
   * the filled part of `target`, shorter only at the end of the stream. `observe` is shown each
   * chunk as it is copied, so work on the bytes spreads over the time the client takes to send them.
   */
  async readInto(target: Buffer, n = target.length, signal?: AbortSignal, observe?: ChunkObserver): Promise<Buffer> {
    let offset = 0;
    const have = await this.pull(Math.min(n, target.length), signal, (chunk) => {
      offset += chunk.copy(target, offset);
      observe?.(chunk);
    });
    return target.subarray(0, have);
  }

  /** Hands up to `n` bytes to `take`, chunk by chunk; returns how many. */
  private async pull(n: number, signal: AbortSignal | undefined, take: (chunk: Buffer) => void): Promise<number> {
    let have = 0;
    while (have < n) {
      signal?.throwIfAborted();
      if (this.failure) throw this.failure;
      let chunk: Buffer | null = this.leftover ?? null;
      this.leftover = undefined;
      if (chunk === null) {
        const raw = this.stream.read() as Buffer | string | null;
        chunk = raw === null ? null : typeof raw === 'string' ? Buffer.from(raw) : raw;
      }
      if (chunk === null) {
        if (this.ended || this.stream.readableEnded) break;
        await this.waitForData(signal);
        continue;
      }
      if (have + chunk.length > n) {
        const take = n - have;
        this.leftover = chunk.subarray(take);
        chunk = chunk.subarray(0, take);
      }
      take(chunk);
      have += chunk.length;
    }
    this.consumed += have;
    return have;
  }

  /** True when the stream has no more bytes (peeks one chunk, kept for the next read). */
  async atEnd(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (this.leftover && this.leftover.length > 0) return false;
      signal?.throwIfAborted();
      if (this.failure) throw this.failure;
      const raw = this.stream.read() as Buffer | string | null;
      if (raw !== null) {
        this.leftover = typeof raw === 'string' ? Buffer.from(raw) : raw;
        continue;
      }
      if (this.ended || this.stream.readableEnded) return true;
      await this.waitForData(signal);
    }
  }

  /** Stops listening; the stream is left as it is. */
  release(): void {
    if (!this.failure) this.failure = new Error('The body reader was released.');
    this.stream.off('readable', this.onReadable);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onError);
    this.stream.off('close', this.onClose);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private waitForData(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.wake = undefined;
        reject(signal?.reason);
      };
      this.wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * A file of known size read front to back straight into the caller's buffers: no stream and no
 * intermediate chunks, so uploading a spooled body leaves no garbage behind.
 */
export class FileChunks implements FragmentSource {
  private position = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
  ) {}

  async readInto(target: Buffer, n = target.length, signal?: AbortSignal, observe?: ChunkObserver): Promise<Buffer> {
    const want = Math.min(n, target.length, this.size - this.position);
    let have = 0;
    while (have < want) {
      signal?.throwIfAborted();
      const { bytesRead } = await this.handle.read(target, have, want - have, this.position);
      if (bytesRead === 0) break;
      observe?.(target.subarray(have, have + bytesRead));
      have += bytesRead;
      this.position += bytesRead;
    }
    return target.subarray(0, have);
  }

  async atEnd(): Promise<boolean> {
    return this.position >= this.size;
  }
}
