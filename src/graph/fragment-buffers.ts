/**
 * Fragment-sized buffers kept between uploads. A fresh pair of 10 MiB buffers per upload is
 * external memory V8 counts against its old-generation limit until a full collection frees it; in
 * a server that streams hundreds of MiB/s of short-lived 64 KiB chunks besides, that kept V8 in a
 * loop of back-to-back mark-compacts (about 70 per 2 GiB uploaded, a third of the PUT's CPU).
 * Reusing the same buffers makes that allocation happen once per burst of uploads instead.
 *
 * A buffer is handed back only by an upload that finished cleanly (nothing still reads into it or
 * writes from it); failed uploads drop theirs to the garbage collector. Free buffers are bounded in
 * number and released after a quiet spell, so an idle server gives the memory back.
 */
export interface FragmentBufferPoolOptions {
  /** Free buffers kept at most (default 4: two uploads' worth). */
  maxFree?: number;
  /** Free buffers are released after this long without an upload taking or returning one (default 30 s). */
  idleMs?: number;
}

export class FragmentBufferPool {
  private free: Buffer[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly maxFree: number;
  private readonly idleMs: number;

  constructor(options: FragmentBufferPoolOptions = {}) {
    this.maxFree = options.maxFree ?? 4;
    this.idleMs = options.idleMs ?? 30_000;
  }

  /** A buffer of exactly `size` bytes (contents undefined): a kept one when one is large enough. */
  take(size: number): Buffer {
    const at = this.free.findIndex((b) => b.length >= size);
    if (at < 0) return Buffer.allocUnsafeSlow(size);
    const [buffer] = this.free.splice(at, 1);
    return buffer.length === size ? buffer : buffer.subarray(0, size);
  }

  /** Hands buffers from `take` back, for the next upload. Only once nothing uses them any more. */
  give(buffers: Buffer[]): void {
    for (const buffer of buffers) {
      if (this.free.length >= this.maxFree) break;
      // The whole allocation, whatever part of it the upload used.
      const whole = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.buffer.byteLength - buffer.byteOffset);
      if (whole.length > 0 && !this.free.some((b) => b.buffer === whole.buffer)) this.free.push(whole);
    }
    this.scheduleRelease();
  }

  /** Free buffers held now. */
  get size(): number {
    return this.free.length;
  }

  /** Drops the free buffers (the garbage collector frees them). */
  clear(): void {
    this.free = [];
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private scheduleRelease(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.free.length === 0) return;
    this.idleTimer = setTimeout(() => this.clear(), this.idleMs);
    this.idleTimer.unref();
  }
}

/** The pool every upload session of this process uses. */
export const fragmentBuffers = new FragmentBufferPool();
