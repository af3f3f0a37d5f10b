import { inBinaryUnits } from '../../util/binary-units.js';
import type { Clock } from '../../util/clock.js';
import { PRETTY_LINE, type Logger } from '../../util/logger.js';
import type { RequestScope } from '../../util/request-scope.js';

/** What the access line says about one request. */
export interface RequestRecord {
  method: string;
  /** The request target as sent (percent-encoded), without its query. */
  path: string;
  /** 499 when the client went away before the answer was complete (nginx's convention). */
  status: number;
  ms: number;
  user: string;
  bytesIn: number;
  bytesOut: number;
  graph: RequestScope;
  /** COPY/MOVE: the Destination path. */
  destination?: string;
}

/**
 * One info line per WebDAV request. JSON: `{"msg":"request","method","path","status","ms",
 * "graphCalls","bytesIn","bytesOut","user"}` (plus `graphRetries`/`graphWaitMs` when non-zero,
 * `destination` for COPY/MOVE). Pretty: `PUT /a/big.bin 201 5321ms graph=14 in=100.0MiB out=0B user=alice`.
 * Never a header, a query string or a credential.
 */
export function logRequest(logger: Logger, record: RequestRecord): void {
  const fields: Record<string, unknown> = {
    method: record.method,
    path: record.path,
    status: record.status,
    ms: record.ms,
    graphCalls: record.graph.graphCalls,
    bytesIn: record.bytesIn,
    bytesOut: record.bytesOut,
    user: record.user,
  };
  if (record.graph.graphRetries > 0) fields.graphRetries = record.graph.graphRetries;
  if (record.graph.graphWaitMs > 0) fields.graphWaitMs = Math.round(record.graph.graphWaitMs);
  if (record.destination !== undefined) fields.destination = record.destination;

  const extras = [
    record.graph.graphRetries > 0 ? ` retries=${record.graph.graphRetries}` : '',
    record.graph.graphWaitMs > 0 ? ` waited=${Math.round(record.graph.graphWaitMs)}ms` : '',
  ].join('');
  const to = record.destination !== undefined ? ` → ${record.destination}` : '';
  const line =
    `${record.method} ${record.path}${to} ${record.status} ${record.ms}ms graph=${record.graph.graphCalls}${extras} ` +
    `in=${compactSize(record.bytesIn)} out=${compactSize(record.bytesOut)} user=${record.user}`;
  logger.info('request', { ...fields, [PRETTY_LINE]: line });
}

/** The path part of a request target, safe for a log line: no query, no control characters, bounded. */
export function loggablePath(target: string | undefined): string {
  const raw = (target ?? '/').split('?')[0];
  const clean = raw.replace(/[\x00-\x20\x7f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return clean.length > 1000 ? `${clean.slice(0, 1000)}…` : clean;
}

/** A Destination header reduced to its path (it is a full URL); `undefined` when absent. */
export function loggableDestination(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return loggablePath(new URL(value, 'http://placeholder').pathname);
  } catch {
    return loggablePath(value);
  }
}

/** `1.5KiB`, `100.0MiB`: no space, so pretty lines split on spaces. */
function compactSize(bytes: number): string {
  const { value, unit } = inBinaryUnits(bytes);
  if (unit === 'B') return `${bytes}B`;
  return `${value.toFixed(1)}${unit}`;
}

// ---------------------------------------------------------------------------------------------
// Upload progress

/** How often a long upload reports its progress. */
export const UPLOAD_PROGRESS_INTERVAL_MS = 5_000;

export interface UploadProgressOptions {
  logger: Logger;
  clock: Clock;
  path: string;
  user: string;
  /** Declared size (Content-Length or X-Expected-Entity-Length), when known. */
  total?: number;
  intervalMs?: number;
}

/**
 * Info lines while a large upload arrives: one every `intervalMs` (5 s) after the first interval,
 * so uploads that finish sooner never report. Driven by the bytes as they come (no timer), so a
 * stalled upload goes quiet, and its access line shows how it ended. Speeds are over the last
 * interval, in MB/s (10^6 bytes, as network speeds are quoted).
 *   pretty: `upload /big.bin 42% (440.4 of 1048.6 MB) at 87.3 MB/s user=alice`
 *           `upload /stream.bin 440.4 MB so far at 87.3 MB/s user=alice` (size unknown)
 *   json:   {"msg":"upload progress","path","user","bytes","totalBytes","percent","mbPerSecond"}
 */
export class UploadProgress {
  private readonly intervalMs: number;
  private lastAt: number;
  private lastBytes = 0;

  constructor(private readonly options: UploadProgressOptions) {
    this.intervalMs = options.intervalMs ?? UPLOAD_PROGRESS_INTERVAL_MS;
    this.lastAt = options.clock.now();
  }

  /** `bytes`: received so far. */
  update(bytes: number): void {
    const now = this.options.clock.now();
    const elapsed = now - this.lastAt;
    if (elapsed < this.intervalMs || elapsed <= 0) return;
    const mbPerSecond = round1((bytes - this.lastBytes) / 1e6 / (elapsed / 1000));
    this.lastAt = now;
    this.lastBytes = bytes;
    const { total, path, user } = this.options;
    const mb = round1(bytes / 1e6);
    const fields: Record<string, unknown> = { path, user, bytes, mbPerSecond };
    let line: string;
    if (total !== undefined && total > 0) {
      const percent = Math.min(100, Math.floor((bytes / total) * 100));
      fields.totalBytes = total;
      fields.percent = percent;
      line = `upload ${path} ${percent}% (${mb.toFixed(1)} of ${round1(total / 1e6).toFixed(1)} MB) at ${mbPerSecond.toFixed(1)} MB/s user=${user}`;
    } else {
      line = `upload ${path} ${mb.toFixed(1)} MB so far at ${mbPerSecond.toFixed(1)} MB/s user=${user}`;
    }
    this.options.logger.info('upload progress', { ...fields, [PRETTY_LINE]: line });
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
