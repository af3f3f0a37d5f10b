import { createLogger, type LogLevel, type Logger } from '../../src/util/logger.js';

/** A real logger (JSON or pretty) whose lines the test keeps; `records()` parses the JSON ones. */
export function recordingLogger(format: 'json' | 'pretty' = 'json', level: LogLevel = 'debug'): Logger & { lines: string[]; records(): Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = createLogger({ level, format, write: (line) => lines.push(line) });
  return Object.assign(logger, {
    lines,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  });
}
