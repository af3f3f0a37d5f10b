import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ChunkReader } from '../../src/graph/chunk-reader.js';
import { freeNow } from '../../src/util/free-now.js';
import { withRequest } from '../helpers/request-body.js';

/**
 * A request body's chunks are freed as soon as ChunkReader has copied them into a fragment (issue 16:
 * left to the garbage collector, they kept V8 in a loop of mark-compacts). Freed = detached: the
 * chunk the stream emitted reads as 0 bytes afterwards.
 */

describe('freeNow', () => {
  it('detaches a buffer that is a whole ArrayBuffer of its own, and nothing else', () => {
    const own = Buffer.allocUnsafeSlow(64 * 1024);
    expect(freeNow(own)).toBe(true);
    expect(own.length).toBe(0);
    const pooled = Buffer.from('abc'); // a slice of Buffer's shared pool
    expect(freeNow(pooled)).toBe(false);
    expect(pooled.toString()).toBe('abc');
    const whole = Buffer.alloc(100, 7);
    expect(freeNow(whole.subarray(10))).toBe(false); // part of a buffer
    expect(whole.length).toBe(100);
  });
});

describe('chunk reader over a node:http request body', () => {
  it('frees every chunk once it is copied into the caller’s buffer, including those split across reads', async () => {
    const body = randomBytes(1024 * 1024 + 12_345);
    const { got, emitted } = await withRequest(body, 37, async (req, emitted) => {
      const reader = new ChunkReader(req, { freeChunks: true });
      const target = Buffer.alloc(100_000); // not a multiple of any chunk: most reads end mid-chunk
      const parts: Buffer[] = [];
      const seen: number[] = [];
      for (;;) {
        const part = await reader.readInto(target, target.length, undefined, (chunk) => seen.push(chunk.length));
        if (part.length === 0) break;
        parts.push(Buffer.from(part));
      }
      expect(await reader.atEnd()).toBe(true);
      expect(seen.reduce((a, b) => a + b, 0)).toBe(body.length); // the observer (the hash) saw every byte
      reader.release();
      return { got: Buffer.concat(parts), emitted };
    });
    expect(got.equals(body)).toBe(true);
    expect(emitted.length).toBeGreaterThan(1);
    expect(emitted.map((chunk) => chunk.byteLength)).toEqual(emitted.map(() => 0));
  });

  it('keeps what a read hands out whole, and frees nothing without freeChunks or beside another listener', async () => {
    const body = randomBytes(300_000);
    // read() keeps the stream's own chunks in what it returns: the rest of such a chunk is not freed under it.
    await withRequest(body, 3, async (req) => {
      const reader = new ChunkReader(req, { freeChunks: true });
      const head = await reader.read(1000);
      const rest = await reader.readInto(Buffer.alloc(body.length));
      expect(head.equals(body.subarray(0, 1000))).toBe(true);
      expect(rest.equals(body.subarray(1000))).toBe(true);
      reader.release();
    });
    const untouched = async (freeChunks: boolean, otherListener: boolean) => {
      const emitted = await withRequest(body, 3, async (req, emitted) => {
        if (otherListener) req.on('data', () => {});
        const reader = new ChunkReader(req, { freeChunks });
        expect((await reader.readInto(Buffer.alloc(body.length))).equals(body)).toBe(true);
        reader.release();
        return emitted;
      });
      expect(emitted.reduce((n, chunk) => n + chunk.byteLength, 0)).toBe(body.length);
    };
    await untouched(false, false);
    await untouched(true, true);
  });

  it('never frees the chunks of a stream it was not told it owns', async () => {
    const data = Buffer.allocUnsafeSlow(200_000).fill(3); // a whole ArrayBuffer: freeNow would take it
    const reader = new ChunkReader(Readable.from([data]));
    expect((await reader.readInto(Buffer.alloc(data.length))).length).toBe(data.length);
    expect(data.length).toBe(200_000);
  });
});
