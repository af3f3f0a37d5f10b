/** Plain-text tables and the small number formats the benchmarks print. */

export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  notes?: string[];
}

export function printTable(table: Table, out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): void {
  const cells = [table.columns, ...table.rows.map((r) => r.map(String))];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (isNumeric(c) && i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  out('');
  out(`## ${table.title}`);
  out('');
  out(line(table.columns));
  out(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of cells.slice(1)) out(line(row));
  for (const note of table.notes ?? []) out(`  ${note}`);
}

function isNumeric(s: string): boolean {
  return /^[-+]?[\d.,]+\s*(%|×|x|ms|s|MiB\/s|MiB|req\/s)?$/.test(s);
}

export function verdict(pass: boolean): string {
  return pass ? 'PASS' : 'MISS';
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value >= 100 ? `${value.toFixed(0)} ms` : value >= 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(2)} ms`;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function mibPerSec(bytes: number, millis: number): string {
  return `${(bytes / 1024 / 1024 / (millis / 1000)).toFixed(1)} MiB/s`;
}

export function ratio(value: number): string {
  return `${value.toFixed(2)}×`;
}

/** Monotonic milliseconds. */
export function now(): number {
  return performance.now();
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = now();
  const result = await fn();
  return { result, ms: now() - start };
}
