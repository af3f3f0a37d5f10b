import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { freeNow } from '../util/free-now.js';

/**
 * Sees each piece of a read as it lands in the target, in order (e.g. to hash it while the read goes on).
 * The piece may be freed as soon as the observer returns (ChunkReaderOptions.freeChunks): keep no reference to it.
 */
export type ChunkObserver = (chunk: Uint8Array) => void;

/** Where an upload session reads its fragments from: a request body or a spool file. */
export interface FragmentSource {
  readInto(target: Buffer, n?: number, signal?: AbortSignal, observe?: ChunkObserver): Promise<Buffer>;
  atEnd(signal?: AbortSignal): Promise<boolean>;
}

/** A read in progress: chunks go to `take` until it has `want` bytes (a peek takes none and keeps the first chunk). */
interface PendingRead {
  want: number;
  have: number;
  take: ((chunk: Buffer) => void) | undefined;
  /** `take` copies what it is given (and keeps no reference): a chunk it took whole may be freed. */
  copies: boolean;
  resolve: (have: number) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export interface ChunkReaderOptions {
  /**
   * The stream's chunks are fresh buffers nobody else keeps (a node:http request body): each one a
   * `readInto` has copied is then freed at once (see util/free-now.ts), not left to the garbage
   * collector — unless another 'data' listener may still look at it.
   */
  freeChunks?: boolean;
}

/**
 * Pulls exact-size chunks from a Readable, so the source is only read as fast as we upload: the
 * stream flows only while a read wants bytes and is paused in between (backpressure reaches the
 * client's TCP window). Each 'data' chunk goes straight to the read in progress, so a chunk costs
 * one copy and no promise; a 10 MiB fragment arrives in ~160 of them. Never destroys the stream:
 * the caller owns it and may still need to answer on the same connection.
 */
export class ChunkReader implements FragmentSource {
  private leftover: Buffer | undefined;
  /** The whole chunk `leftover` is the end of (or `leftover` itself), to free once it is copied; unset when part of it went to a `read` that keeps it. */
  private leftoverChunk: Buffer | undefined;
  private readonly freeChunks: boolean;
  private ended = false;
  private failure: Error | undefined;
  private pending: PendingRead | undefined;
  private readonly onData = (data: Buffer | string) => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    if (chunk.length === 0) return;
    const read = this.pending;
    if (!read || read.take === undefined) {
      // A peek, or (not expected: a paused stream emits no 'data') a chunk nobody asked for: keep it.
      if (this.leftover) {
        this.leftover = Buffer.concat([this.leftover, chunk]);
        this.free(this.leftoverChunk);
        this.free(chunk);
      } else this.leftover = chunk;
      this.leftoverChunk = this.leftover;
      this.stream.pause();
      if (read) this.settle(read);
      return;
    }
    const room = read.want - read.have;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (chunk.length > room) {
      this.leftover = chunk.subarray(room);
      this.leftoverChunk = read.copies ? chunk : undefined;
    }
    read.have += piece.length;
    try {
      read.take(piece);
    } catch (err) {
      this.stream.pause();
      this.settle(read, err);
      return;
    }
    if (piece === chunk && read.copies) this.free(chunk);
    if (read.have === read.want) {
      this.stream.pause();
      this.settle(read);
    }
  };
  private readonly onEnd = () => {
    this.ended = true;
    if (this.pending) this.settle(this.pending);
  };
  private readonly onError = (err: Error) => {
    this.failure = err;
    if (this.pending) this.settle(this.pending, err);
  };
  private readonly onClose = () => {
    if (!this.stream.readableEnded && !this.failure) this.failure = new Error('The request body was closed before it ended.');
    if (this.pending) this.settle(this.pending, this.failure);
  };

  constructor(
    private readonly stream: Readable,
    options: ChunkReaderOptions = {},
  ) {
    this.freeChunks = options.freeChunks ?? false;
    if (stream.readableEnded) this.ended = true;
    else if (stream.destroyed) this.failure = new Error('The request body was closed before it ended.');
    stream.on('data', this.onData);
    stream.pause(); // 'data' listeners start the flow: wait for the first read
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
  }

  /** Bytes consumed so far. */
  consumed = 0;

  /** Up to `n` bytes; fewer only at the end of the stream. */
  async read(n: number, signal?: AbortSignal): Promise<Buffer> {
    const parts: Buffer[] = [];
    const have = await this.pull(n, signal, false, (chunk) => parts.push(chunk));
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
    const have = await this.pull(Math.min(n, target.length), signal, true, (chunk) => {
      offset += chunk.copy(target, offset);
      observe?.(chunk);
    });
    return target.subarray(0, have);
  }

  /** Hands up to `n` bytes to `take` (which `copies` them, or keeps them), chunk by chunk; returns how many. */
  private async pull(n: number, signal: AbortSignal | undefined, copies: boolean, take: (chunk: Buffer) => void): Promise<number> {
    let have = 0;
    if (this.leftover && n > 0) {
      const chunk = this.leftover;
      const piece = chunk.length > n ? chunk.subarray(0, n) : chunk;
      this.leftover = chunk.length > n ? chunk.subarray(n) : undefined;
      have = piece.length;
      take(piece);
      if (!copies) this.leftoverChunk = undefined;
      if (!this.leftover) {
        this.free(this.leftoverChunk);
        this.leftoverChunk = undefined;
      }
    }
    if (have < n && !this.ended) have = await this.flowUntil({ want: n, have, take, copies }, signal);
    this.consumed += have;
    return have;
  }

  /** True when the stream has no more bytes (peeks one chunk, kept for the next read). */
  async atEnd(signal?: AbortSignal): Promise<boolean> {
    if (this.leftover && this.leftover.length > 0) return false;
    if (!this.ended) await this.flowUntil({ want: 0, have: 0, take: undefined, copies: false }, signal);
    return !(this.leftover && this.leftover.length > 0);
  }

  /** Stops listening; the stream is left paused as it is. */
  release(): void {
    if (!this.failure) this.failure = new Error('The body reader was released.');
    this.stream.pause();
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onError);
    this.stream.off('close', this.onClose);
    if (this.pending) this.settle(this.pending, this.failure);
  }

  /** Lets the stream flow into `read` until it is satisfied, the stream ends, fails, or `signal` aborts. */
  private flowUntil(read: Pick<PendingRead, 'want' | 'have' | 'take' | 'copies'>, signal: AbortSignal | undefined): Promise<number> {
    signal?.throwIfAborted();
    if (this.failure) throw this.failure;
    if (this.pending) throw new Error('ChunkReader: one read at a time.');
    return new Promise<number>((resolve, reject) => {
      const pending: PendingRead = { ...read, resolve, reject, signal, onAbort: () => this.settle(pending, signal?.reason) };
      this.pending = pending;
      signal?.addEventListener('abort', pending.onAbort, { once: true });
      this.stream.resume();
    });
  }

  /** Frees a chunk now copied, if the stream's chunks are ours to free and no other listener sees them. */
  private free(chunk: Buffer | undefined): void {
    if (chunk && this.freeChunks && this.stream.listenerCount('data') <= 1) freeNow(chunk);
  }

  private settle(read: PendingRead, err?: unknown): void {
    if (this.pending !== read) return;
    this.pending = undefined;
    read.signal?.removeEventListener('abort', read.onAbort);
    if (err !== undefined) {
      this.stream.pause();
      read.reject(err);
    } else read.resolve(read.have);
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
