import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/**
 * The logger every module takes, on pino. One JSON object a line (`json`) for machines and pino's
 * own tools (`onedav serve 2>&1 | npx pino-pretty`), or a readable line (`pretty`) for people;
 * `auto` picks `pretty` when standard error is a terminal and `json` otherwise. Secrets are kept out
 * three ways, before anything is written: fields whose names look secret are replaced, `Bearer`/
 * `Basic` credentials and token query parameters inside strings are cut out, and pino's `redact`
 * censors the known secret paths, nested ones too.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'pretty' | 'json' | 'auto';
export type LogFields = Record<string, unknown> & { [PRETTY_LINE]?: string };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/**
 * A field holding the whole line the pretty format prints instead of `msg` and the other fields
 * (access lines read better as `PUT /a.txt 201 12 ms …` than as key=value pairs). A symbol key,
 * so the JSON format never sees it and writes the fields as they are.
 */
export const PRETTY_LINE: unique symbol = Symbol('onedav.prettyLine');

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go (each ends in `\n`); standard error when absent. */
  write?: (line: string) => void;
}

const REDACTED = '[redacted]';
const SECRET_KEY = /token|secret|password|authorization|cookie|assertion|code_verifier|^code$|upload_?url|download_?url/i;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;
/** Query parameters that carry a credential in Graph's pre-authenticated URLs (`tempauth`) and OAuth redirects. */
const TOKEN_PARAM = /([?&](?:tempauth|access_token|refresh_token|client_secret|code|sig|token)=)[^&\s"']+/gi;

/**
 * pino's own redaction, for secrets one level down in the objects a caller may log whole: request
 * headers, a token response, a Graph item (its pre-authenticated download URL), an upload session.
 * Named top-level keys, no leading wildcard: pino then redacts only lines that carry those keys, so
 * an access line pays nothing for it (a `*.` path costs every line a walk, 3-4x the line's cost).
 */
const REDACT_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'response.access_token',
  'response.refresh_token',
  'response.id_token',
  'body.access_token',
  'body.refresh_token',
  'body.client_secret',
  'body.password',
  'item["@microsoft.graph.downloadUrl"]',
  'session.uploadUrl',
];

/** The key of the pretty line in the JSON the pretty format reads back (pretty format only). */
const LINE_KEY = 'onedav.line';

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = resolveFormat(options.format ?? 'auto');
  const raw = options.write ? { write: options.write } : pino.destination({ dest: 2, sync: true });
  const destination: DestinationStream = format === 'pretty' ? prettyStream(raw) : raw;
  const base = pino(
    {
      level: options.level ?? 'info',
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
    },
    destination,
  );
  return wrap(base, format);
}

function wrap(base: PinoLogger, format: 'pretty' | 'json'): Logger {
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    if (!base.isLevelEnabled(level)) return;
    const line = fields?.[PRETTY_LINE];
    if (format === 'pretty' && typeof line === 'string') base[level]({ [LINE_KEY]: scrub(line) }, scrub(msg));
    else base[level](fields ? redact(fields) : {}, scrub(msg));
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (fields) => wrap(base.child(redact(fields)), format),
  };
}

function resolveFormat(format: LogFormat): 'pretty' | 'json' {
  if (format !== 'auto') return format;
  return process.stderr.isTTY ? 'pretty' : 'json';
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

/** The fields as they may be written: secret-named ones replaced, strings scrubbed, errors reduced to their message. */
function redact(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (SECRET_KEY.test(key)) out[key] = REDACTED;
    else if (typeof value === 'string') out[key] = scrub(value);
    else if (value instanceof Error) out[key] = scrub(value.message);
    else out[key] = value;
  }
  return out;
}

function scrub(text: string): string {
  return text.replace(BEARER, `$1 ${REDACTED}`).replace(TOKEN_PARAM, `$1${REDACTED}`);
}

/**
 * pino writes JSON; for people, each line is read back and printed as
 * `2026-01-02T03:04:05.678Z INFO  msg key=value …`, or as the caller's pretty line.
 */
function prettyStream(out: { write(line: string): unknown }): DestinationStream {
  return {
    write(json: string) {
      const { time, level, msg, [LINE_KEY]: line, ...fields } = JSON.parse(json) as Record<string, unknown>;
      const head = `${String(time)} ${String(level).toUpperCase().padEnd(5)}`;
      if (typeof line === 'string') {
        out.write(`${head} ${line}\n`);
        return;
      }
      const extras = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(`${head} ${String(msg)}${extras ? ` ${extras}` : ''}\n`);
    },
  };
}
