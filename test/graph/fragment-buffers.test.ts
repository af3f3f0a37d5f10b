import { describe, expect, it } from 'vitest';
import { FragmentBufferPool } from '../../src/graph/fragment-buffers.js';

describe('fragment buffer pool', () => {
  it('hands a returned buffer to the next upload instead of allocating another', () => {
    const pool = new FragmentBufferPool();
    const a = pool.take(1024);
    const b = pool.take(1024);
    expect(a.buffer).not.toBe(b.buffer);
    pool.give([a, b]);
    expect(pool.size).toBe(2);
    const again = [pool.take(1024), pool.take(1024)].map((x) => x.buffer);
    expect(again).toContain(a.buffer);
    expect(again).toContain(b.buffer);
    expect(pool.size).toBe(0);
    pool.clear();
  });

  it('gives exactly the size asked for, from a larger kept buffer too', () => {
    const pool = new FragmentBufferPool();
    const big = pool.take(4096);
    pool.give([big]);
    const small = pool.take(1000);
    expect(small.length).toBe(1000);
    expect(small.buffer).toBe(big.buffer);
    // Given back as part of a larger buffer: the whole allocation is kept, so a full-size take reuses it.
    pool.give([small]);
    const full = pool.take(4096);
    expect(full.length).toBe(4096);
    expect(full.buffer).toBe(big.buffer);
    pool.clear();
  });

  it('allocates when no kept buffer is large enough', () => {
    const pool = new FragmentBufferPool();
    const small = pool.take(100);
    pool.give([small]);
    const big = pool.take(200);
    expect(big.length).toBe(200);
    expect(big.buffer).not.toBe(small.buffer);
    expect(pool.size).toBe(1);
    pool.clear();
  });

  it('keeps a bounded number of free buffers, and never the same one twice', () => {
    const pool = new FragmentBufferPool({ maxFree: 2 });
    const buffers = [pool.take(10), pool.take(10), pool.take(10)];
    pool.give(buffers);
    expect(pool.size).toBe(2);
    pool.clear();
    const one = pool.take(10);
    pool.give([one, one]);
    expect(pool.size).toBe(1);
    pool.clear();
    expect(pool.size).toBe(0);
  });
});
