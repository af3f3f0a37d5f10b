import { describe, expect, it } from 'vitest';
import { inBinaryUnits } from '../../src/util/binary-units.js';

describe('inBinaryUnits', () => {
  it('keeps counts under 1024 in bytes', () => {
    expect(inBinaryUnits(0)).toEqual({ value: 0, unit: 'B' });
    expect(inBinaryUnits(1023)).toEqual({ value: 1023, unit: 'B' });
  });

  it('moves up a unit at each 1024', () => {
    expect(inBinaryUnits(1024)).toEqual({ value: 1, unit: 'KiB' });
    expect(inBinaryUnits(1536)).toEqual({ value: 1.5, unit: 'KiB' });
    expect(inBinaryUnits(1024 ** 2 - 1).unit).toBe('KiB');
    expect(inBinaryUnits(5 * 1024 ** 2)).toEqual({ value: 5, unit: 'MiB' });
    expect(inBinaryUnits(3 * 1024 ** 3)).toEqual({ value: 3, unit: 'GiB' });
  });

  it('stops at TiB', () => {
    expect(inBinaryUnits(2048 * 1024 ** 4)).toEqual({ value: 2048, unit: 'TiB' });
  });
});
