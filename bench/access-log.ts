/**
 * The cost of one WebDAV access line: `npx tsx bench/access-log.ts [lines] 2>/dev/null`.
 * Writes `lines` (default 100 000) access lines through the real logger to standard error (send it
 * to /dev/null, a file or a pipe) in each format, and prints microseconds per line (best of 3 runs).
 */
import { logRequest, type RequestRecord } from '../src/dav/request-log.js';
import { createLogger } from '../src/util/logger.js';

const lines = Number(process.argv[2] ?? 100_000);
const record: RequestRecord = {
  method: 'PROPFIND',
  path: '/Documents/Reports%202026/q3.xlsx',
  status: 207,
  ms: 12,
  user: 'alice',
  bytesIn: 0,
  bytesOut: 1843,
  graph: { graphCalls: 1, graphRetries: 0, graphWaitMs: 0 },
};

function run(format: 'json' | 'pretty', level: 'info' | 'warn'): number {
  const logger = createLogger({ format, level }).child({ mount: '/' });
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < lines; i++) logRequest(logger, record);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1000 / lines);
  }
  return best;
}

for (const [format, level] of [['json', 'info'], ['pretty', 'info'], ['json', 'warn']] as const) {
  const us = run(format, level);
  process.stdout.write(`${format.padEnd(6)} level=${level.padEnd(4)} ${us.toFixed(2)} µs/line  (${Math.round(1e6 / us).toLocaleString('en')} lines/s)\n`);
}
