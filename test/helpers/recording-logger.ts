import { createLogger, type LogLevel, type Logger } from '../../src/util/logger.js';

type LogRecord = Record<string, unknown>;

/**
 * A real logger (JSON or pretty) whose lines the test keeps; `records()` parses the JSON ones,
 * `accessLines()` only the WebDAV access lines (`msg: 'request'`) among them.
 */
export function recordingLogger(
  format: 'json' | 'pretty' = 'json',
  level: LogLevel = 'debug',
): Logger & { lines: string[]; records(): LogRecord[]; accessLines(): LogRecord[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, format, write: (line) => lines.push(line) });
  const records = () => lines.map((line) => JSON.parse(line) as LogRecord);
  return Object.assign(logger, {
    lines,
    records,
    accessLines: () => records().filter((r) => r.msg === 'request'),
  });
}
