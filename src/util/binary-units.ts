export type BinaryUnit = 'B' | 'KiB' | 'MiB' | 'GiB' | 'TiB';

const UNITS: BinaryUnit[] = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/**
 * A byte count in the largest binary unit that keeps the value at 1 or more (TiB at most):
 * `1536` → `{ value: 1.5, unit: 'KiB' }`. Callers choose the digits and the spacing.
 */
export function inBinaryUnits(bytes: number): { value: number; unit: BinaryUnit } {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return { value, unit: UNITS[unit] };
}
