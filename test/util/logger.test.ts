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

  it('redacts secrets nested in logged objects and token query parameters in URLs', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(l) });
    log.debug('graph answered', {
      headers: { authorization: 'Bearer-less-raw-credential-1', 'content-type': 'application/json' },
      response: { access_token: 'raw-access-token-2', refresh_token: 'raw-refresh-token-3', expires_in: 3600 },
      item: { name: 'a.txt', '@microsoft.graph.downloadUrl': 'https://contoso.sharepoint.com/download-path-4' },
      session: { uploadUrl: 'https://contoso.sharepoint.com/upload-path-5', expirationDateTime: 'soon' },
      uploadUrl: 'https://contoso.sharepoint.com/upload-path-6',
      location: 'https://contoso.sharepoint.com/_layouts/15/download.aspx?UniqueId=1&tempauth=raw-tempauth-7',
    });
    log.warn('refused https://login.example/?code=raw-code-8&state=s');
    const text = lines.join('');
    for (let i = 1; i <= 8; i++) expect(text).not.toMatch(new RegExp(`-${i}\\b`));
    const [parsed] = lines.map((l) => JSON.parse(l));
    expect(parsed.headers).toEqual({ authorization: '[redacted]', 'content-type': 'application/json' });
    expect(parsed.response).toEqual({ access_token: '[redacted]', refresh_token: '[redacted]', expires_in: 3600 });
    expect(parsed.item).toEqual({ name: 'a.txt', '@microsoft.graph.downloadUrl': '[redacted]' });
    expect(parsed.location).toBe('https://contoso.sharepoint.com/_layouts/15/download.aspx?UniqueId=1&tempauth=[redacted]');
  });

  it('writes JSON when the format is auto and standard error is not a terminal', () => {
    const lines: string[] = [];
    createLogger({ format: 'auto', write: (l) => lines.push(l) }).warn('disk almost full', { path: '/a' });
    expect(process.stderr.isTTY).toBeFalsy();
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'warn', msg: 'disk almost full', path: '/a' });
  });

  it('prints bound fields and call fields as key=value in the pretty format', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'pretty', write: (l) => lines.push(l) }).child({ account: 'adele' });
    log.info('token refresh failed; retrying', { attempt: 2, reason: 'timeout', detail: { retryAfter: 5 } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\S+Z INFO {2}token refresh failed; retrying account=adele attempt=2 reason=timeout detail=\{"retryAfter":5\}\n$/);
  });
});
