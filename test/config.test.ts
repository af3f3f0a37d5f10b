import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.js';

describe('config', () => {
  it('accepts config.example.json, comments and all', async () => {
    const raw = JSON.parse(await readFile(new URL('../config.example.json', import.meta.url), 'utf8'));
    const config = parseConfig(raw, {});
    expect(config.mounts.map((m) => m.path)).toEqual(['/', '/team', '/e5']);
    expect(config.mounts.map((m) => m.download?.mode)).toEqual([undefined, 'proxy', undefined]);
    expect(config.upload.fragmentSize % 327_680).toBe(0);
    expect(config.server.monitoring).toBe('open');
  });

  it('serves the monitoring endpoints openly unless told otherwise, and knows only open, users and off', () => {
    expect(parseConfig({}, {}).server.monitoring).toBe('open');
    expect(parseConfig({ server: { monitoring: 'users' } }, {}).server.monitoring).toBe('users');
    expect(() => parseConfig({ server: { monitoring: 'public' } }, {})).toThrow(/server\.monitoring/);
  });

  it('names each bad field and the fix', () => {
    let error: ConfigError | undefined;
    try {
      parseConfig({ upload: { fragmentSize: 1_000_000 }, mounts: [{ path: '/x/', account: 'nobody' }], extra: true }, {});
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = error!.problems.join('\n');
    expect(text).toMatch(/upload\.fragmentSize: must be a multiple of 327680/);
    expect(text).toMatch(/mounts\.0\.path: must start with \/ and have no trailing slash/);
    expect(text).toMatch(/Unrecognized key: "extra"/);
  });

  it('takes client secrets from the environment', () => {
    const config = parseConfig(
      { accounts: { work: { clientId: 'abc', flow: 'clientCredentials' } }, mounts: [{ path: '/', account: 'work' }] },
      { ONEDAV_CLIENT_SECRET_WORK: 's3cret' },
    );
    expect(config.accounts.work.clientSecret).toBe('s3cret');
  });

  it('gives environment secrets to confidential accounts only, never to public ones', () => {
    const config = parseConfig(
      {
        accounts: {
          desk: { clientId: 'abc' },
          device: { clientId: 'abc', flow: 'deviceCode' },
          web: { clientId: 'def', clientType: 'confidential' },
          daemon: { clientId: 'def', flow: 'clientCredentials' },
        },
      },
      { ONEDAV_CLIENT_SECRET: 'shared', ONEDAV_CLIENT_SECRET_DESK: 'named' },
    );
    expect(config.accounts.desk.clientSecret).toBeUndefined();
    expect(config.accounts.device.clientSecret).toBeUndefined();
    expect(config.accounts.web.clientSecret).toBe('shared');
    expect(config.accounts.daemon.clientSecret).toBe('shared');
  });

  it('refuses client types that Entra would refuse at the first token request, saying what to change', () => {
    const problems = (account: Record<string, unknown>) => {
      try {
        parseConfig({ accounts: { a: { clientId: 'abc', ...account } } }, {});
        return '';
      } catch (e) {
        return (e as ConfigError).problems.join('\n');
      }
    };
    expect(problems({ clientSecret: 'x' })).toMatch(/accounts\.a\.clientSecret: a public client sends no secret \(Entra refuses it: AADSTS700025\).*"clientType": "confidential"/);
    expect(problems({ flow: 'deviceCode', clientType: 'confidential' })).toMatch(/accounts\.a\.clientType: the device-code flow is for public clients/);
    expect(problems({ flow: 'clientCredentials', clientType: 'public' })).toMatch(/accounts\.a\.clientType: client credentials are a confidential-client flow/);
    expect(problems({ clientType: 'confidential', clientSecret: 'x' })).toBe('');
  });

  it('refuses a mount that names an unknown account', () => {
    expect(() => parseConfig({ mounts: [{ path: '/', account: 'ghost' }] }, {})).toThrow(/no account named "ghost"/);
  });
});
