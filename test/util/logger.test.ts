import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/util/logger.js';

describe('logger', () => {
  it('writes JSON lines with bound fields and drops lines below the level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }).child({ mount: '/' });
    log.debug('hidden');
    log.info('request', { method: 'GET', status: 200 });
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0]);
    expect(parsed).toMatchObject({ level: 'info', msg: 'request', mount: '/', method: 'GET', status: 200 });
  });

  it('never writes secrets, whether as fields or inside messages', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', format: 'pretty', write: (l) => lines.push(l) });
    log.warn('graph said 401 for Bearer eyJhbGciOi.abc.def', { refresh_token: 'M.R3_BAY.secret', clientSecret: 'shh', header: 'Basic dXNlcjpwYXNz' });
    const text = lines.join('');
    for (const secret of ['eyJhbGciOi', 'M.R3_BAY', 'shh', 'dXNlcjpwYXNz']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});
