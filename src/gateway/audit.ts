import type { Logger } from '../util/logger.js';

export type AuditEvent = 'signed in' | 'signed out' | 'sign-in refused' | 'app password created' | 'app password first used' | 'app password revoked' | 'sign-in required' | 'revoked by admin';

/**
 * One log line per security event of the gateway, `audit: <event>` with who and what, at info level
 * so operators keep them. Never a secret: names and ids only (no password, token, code or cookie).
 */
export class Audit {
  constructor(private readonly logger: Logger) {}

  event(event: AuditEvent, who: { upn?: string; oid?: string; tid?: string }, details: Record<string, string | number | undefined> = {}): void {
    this.logger.info(`audit: ${event}`, { audit: event, upn: who.upn, oid: who.oid, tid: who.tid, ...details });
  }
}
