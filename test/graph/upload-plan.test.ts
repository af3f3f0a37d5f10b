import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ChunkReader, FileChunks } from '../../src/graph/chunk-reader.js';
import { contentRange, FRAGMENT_UNIT, nextExpectedStart, planFragments, validateFragmentSize } from '../../src/graph/upload.js';

describe('fragment planner', () => {
  it('cuts full fragments and a short last one', () => {
    const plan = planFragments(3 * FRAGMENT_UNIT + 10, FRAGMENT_UNIT);
    expect(plan).toEqual([
      [0, FRAGMENT_UNIT],
      [FRAGMENT_UNIT, FRAGMENT_UNIT],
      [2 * FRAGMENT_UNIT, FRAGMENT_UNIT],
      [3 * FRAGMENT_UNIT, 10],
    ]);
    expect(planFragments(2 * FRAGMENT_UNIT, FRAGMENT_UNIT)).toHaveLength(2);
    expect(planFragments(0, FRAGMENT_UNIT)).toEqual([]);
  });

  it('accepts only multiples of 320 KiB up to 60 MiB', () => {
    expect(validateFragmentSize(32 * FRAGMENT_UNIT)).toBe(10 * 1024 * 1024);
    expect(() => validateFragmentSize(10 * 1000 * 1000)).toThrow(/multiple of 327680/);
    expect(() => validateFragmentSize(0)).toThrow();
    expect(() => validateFragmentSize(FRAGMENT_UNIT * 193)).toThrow(/up to/);
    expect(validateFragmentSize(FRAGMENT_UNIT * 192)).toBe(60 * 1024 * 1024);
  });

  it('writes Content-Range with inclusive ends and the total', () => {
    expect(contentRange(0, 26, 128)).toBe('bytes 0-25/128');
    expect(contentRange(327680, 100, 327780)).toBe('bytes 327680-327779/327780');
  });

  it('reads the resume point from nextExpectedRanges', () => {
    expect(nextExpectedStart(['12345-'])).toBe(12345);
    expect(nextExpectedStart(['400-499', '100-199'])).toBe(100);
    expect(nextExpectedStart([])).toBeUndefined();
    expect(nextExpectedStart(undefined)).toBeUndefined();
  });
});

describe('chunk reader', () => {
  it('returns exact chunks across source chunk boundaries and detects the end', async () => {
    const source = Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')], { objectMode: false });
    const reader = new ChunkReader(source);
    expect((await reader.read(4)).toString()).toBe('abcd');
    expect(await reader.atEnd()).toBe(false);
    expect((await reader.read(4)).toString()).toBe('efgh');
    expect((await reader.read(4)).toString()).toBe('ij');
    expect(await reader.atEnd()).toBe(true);
    expect((await reader.read(4)).length).toBe(0);
    expect(reader.consumed).toBe(10);
  });

  it('fills a caller-owned buffer, reusing it from one read to the next', async () => {
    const source = Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')], { objectMode: false });
    const reader = new ChunkReader(source);
    const target = Buffer.alloc(4);
    const first = await reader.readInto(target);
    expect(first.toString()).toBe('abcd');
    expect(first.buffer).toBe(target.buffer);
    expect((await reader.readInto(target, 3)).toString()).toBe('efg');
    expect((await reader.readInto(target)).toString()).toBe('hij');
    expect((await reader.readInto(target)).length).toBe(0);
  });

  it('shows each piece to the observer as it arrives, before the read completes', async () => {
    // Upload sessions hash a fragment this way while the previous one is on its way to Graph.
    const source = new Readable({ read() {} });
    const reader = new ChunkReader(source);
    const seen: string[] = [];
    const pending = reader.readInto(Buffer.alloc(8), 6, undefined, (chunk) => seen.push(Buffer.from(chunk).toString()));
    source.push(Buffer.from('abc'));
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['abc']);
    source.push(Buffer.from('defgh'));
    expect((await pending).toString()).toBe('abcdef');
    expect(seen).toEqual(['abc', 'def']); // only the bytes this read took; 'gh' is the next read's
    source.push(null);
    expect((await reader.readInto(Buffer.alloc(8), 8, undefined, (chunk) => seen.push(Buffer.from(chunk).toString()))).toString()).toBe('gh');
    expect(seen).toEqual(['abc', 'def', 'gh']);
  });

  it('lets the body flow only while a read wants bytes (backpressure reaches the client)', async () => {
    let produced = 0;
    const body = new Readable({
      highWaterMark: 64,
      read() {
        produced += 16;
        this.push(produced > 64 * 1024 ? null : Buffer.alloc(16, 1));
      },
    });
    const reader = new ChunkReader(body);
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    await settle();
    expect(produced).toBeLessThanOrEqual(64 + 16); // nothing asked yet: at most the stream's own buffer
    expect((await reader.readInto(Buffer.alloc(100))).length).toBe(100);
    await settle();
    expect(produced).toBeLessThanOrEqual(100 + 64 + 2 * 16);
    expect(await reader.atEnd()).toBe(false);
    await settle();
    expect(produced).toBeLessThanOrEqual(100 + 64 + 3 * 16);
    reader.release();
  });

  it('surfaces stream errors', async () => {
    const source = new Readable({ read() {} });
    const reader = new ChunkReader(source);
    const pending = reader.read(10);
    source.push(Buffer.from('abc'));
    source.destroy(new Error('client went away'));
    await expect(pending).rejects.toThrow('client went away');
  });
});

describe('file chunks', () => {
  it('reads a file straight into the given buffers and knows its end', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-file-chunks-'));
    try {
      await writeFile(join(dir, 'f'), 'abcdefghij');
      const handle = await open(join(dir, 'f'), 'r');
      try {
        const chunks = new FileChunks(handle, 10);
        const target = Buffer.alloc(4);
        expect((await chunks.readInto(target)).toString()).toBe('abcd');
        expect(await chunks.atEnd()).toBe(false);
        expect((await chunks.readInto(target)).toString()).toBe('efgh');
        expect((await chunks.readInto(target, 4)).toString()).toBe('ij');
        expect(await chunks.atEnd()).toBe(true);
        expect((await chunks.readInto(target)).length).toBe(0);
        const again = new FileChunks(handle, 10);
        const seen: string[] = [];
        const whole = await again.readInto(Buffer.alloc(16), 16, undefined, (chunk) => seen.push(Buffer.from(chunk).toString()));
        expect(whole.toString()).toBe('abcdefghij');
        expect(seen.join('')).toBe('abcdefghij');
      } finally {
        await handle.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
