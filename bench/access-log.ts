/**
 * The cost of one WebDAV access line: `npx tsx bench/access-log.ts [lines] 2>/dev/null`.
 * Writes `lines` (default 100 000) access lines through the real logger to standard error (send it
 * to /dev/null, a file or a pipe) in each format, and prints microseconds per line (best of 3 runs):
 * wall time, and CPU time (user + system) which other processes on a shared machine disturb less.
 */
import { logRequest, type RequestRecord } from '../src/dav/http/request-log.js';
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

function run(format: 'json' | 'pretty', level: 'info' | 'warn'): { wall: number; cpu: number } {
  const logger = createLogger({ format, level }).child({ mount: '/' });
  let wall = Infinity;
  let cpu = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    const startCpu = process.cpuUsage();
    for (let i = 0; i < lines; i++) logRequest(logger, record);
    const used = process.cpuUsage(startCpu);
    wall = Math.min(wall, Number(process.hrtime.bigint() - start) / 1000 / lines);
    cpu = Math.min(cpu, (used.user + used.system) / lines);
  }
  return { wall, cpu };
}

for (const [format, level] of [['json', 'info'], ['pretty', 'info'], ['json', 'warn']] as const) {
  const { wall, cpu } = run(format, level);
  process.stdout.write(`${format.padEnd(6)} level=${level.padEnd(4)} wall ${wall.toFixed(2)} µs/line  cpu ${cpu.toFixed(2)} µs/line\n`);
}
