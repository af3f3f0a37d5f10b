import { describe, expect, it } from 'vitest';
import { createLogger, PRETTY_LINE } from '../../src/util/logger.js';

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

  it('prints a PRETTY_LINE instead of msg and fields in the pretty format; JSON ignores it', () => {
    const lines: string[] = [];
    const fields = { method: 'GET', status: 200, [PRETTY_LINE]: 'GET / 200 Bearer abc.def' };
    createLogger({ format: 'pretty', write: (l) => lines.push(l) }).info('request', fields);
    createLogger({ format: 'json', write: (l) => lines.push(l) }).info('request', fields);
    expect(lines[0]).toMatch(/^\S+ INFO {2}GET \/ 200 Bearer \[redacted\]\n$/);
    const { time: _t, ...json } = JSON.parse(lines[1]);
    expect(json).toEqual({ level: 'info', msg: 'request', method: 'GET', status: 200 });
  });
});
