/**
 * The logger every module takes. One JSON object a line (`json`) for machines, or a readable
 * line (`pretty`) for people. Fields whose names look secret are replaced before writing,
 * so a token passed by mistake never reaches the log.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown> & { [PRETTY_LINE]?: string };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /token|secret|password|authorization|cookie|assertion|code_verifier|^code$/i;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

/**
 * A field holding the whole line the pretty format prints instead of `msg` and the other fields
 * (access lines read better as `PUT /a.txt 201 12 ms …` than as key=value pairs). A symbol key,
 * so the JSON format never sees it and writes the fields as they are.
 */
export const PRETTY_LINE: unique symbol = Symbol('onedav.prettyLine');

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'pretty' | 'json';
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const format = options.format ?? 'pretty';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const all = redact({ ...bound, ...fields });
    if (format === 'json') {
      write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: scrub(msg), ...all })}\n`);
    } else if (typeof fields?.[PRETTY_LINE] === 'string') {
      write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${scrub(fields[PRETTY_LINE] as string)}\n`);
    } else {
      const extras = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${scrub(msg)}${extras ? ` ${extras}` : ''}\n`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SECRET_KEY.test(key)) out[key] = '[redacted]';
    else if (typeof value === 'string') out[key] = scrub(value);
    else if (value instanceof Error) out[key] = scrub(value.message);
    else out[key] = value;
  }
  return out;
}

function scrub(text: string): string {
  return text.replace(BEARER, '$1 [redacted]');
}
