import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.js';

describe('config', () => {
  it('accepts config.example.json, comments and all', async () => {
    const raw = JSON.parse(await readFile(new URL('../config.example.json', import.meta.url), 'utf8'));
    const config = parseConfig(raw, {});
    expect(config.mounts.map((m) => m.path)).toEqual(['/', '/team', '/e5']);
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

  it('refuses a mount that names an unknown account', () => {
    expect(() => parseConfig({ mounts: [{ path: '/', account: 'ghost' }] }, {})).toThrow(/no account named "ghost"/);
  });
});
