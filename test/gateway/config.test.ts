import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { preflight } from '../../src/cli/preflight.js';

const gateway = { publicUrl: 'https://dav.contoso.com', tenants: ['contoso.com'], app: { clientId: '33333333-3333-3333-3333-333333333333' } };

describe('the gateway section of the config', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'onedav-gateway-config-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('takes the client secret from ONEDAV_GATEWAY_CLIENT_SECRET and fills the defaults', () => {
    const config = parseConfig({ gateway }, { ONEDAV_GATEWAY_CLIENT_SECRET: 'from-env' });
    expect(config.gateway).toMatchObject({ app: { clientSecret: 'from-env', cloud: 'global' }, behindTls: false, sessionHours: 8, maxAppPasswords: 20, scopes: ['Files.ReadWrite', 'offline_access', 'User.Read'] });
  });

  it('says what to fix: a public URL with a path, no tenants, an unknown key', () => {
    const problems = (raw: unknown) => {
      try {
        parseConfig(raw, {});
        return '';
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
    };
    expect(problems({ gateway: { ...gateway, publicUrl: 'https://dav.contoso.com/webdav' } })).toContain('gateway.publicUrl: must be an origin without a path');
    expect(problems({ gateway: { ...gateway, tenants: [] } })).toContain('gateway.tenants: name at least one tenant');
    expect(problems({ gateway: { ...gateway, tenant: 'x' } })).toContain('gateway');
  });

  it('check-config: the gateway replaces users; a missing secret or state key, or plain HTTP beyond loopback, is a problem', async () => {
    const file = (extra: Record<string, unknown>) => parseConfig({ dataDir, gateway: { ...gateway, ...extra } }, {});
    const key = { ONEDAV_STATE_KEY: Buffer.alloc(32, 3).toString('base64') };
    const ok = await preflight(file({ app: { ...gateway.app, clientSecret: 's' } }), { env: key });
    expect(ok.problems).toEqual([]);
    expect(ok.notes.join()).toContain('/.well-known/onedav/account/');
    const missing = await preflight(file({}), { env: {} });
    expect(missing.problems.join('\n')).toContain('ONEDAV_GATEWAY_CLIENT_SECRET');
    expect(missing.problems.join('\n')).toContain('ONEDAV_STATE_KEY');
    const exposed = parseConfig({ dataDir, server: { host: '0.0.0.0' }, gateway: { ...gateway, app: { ...gateway.app, clientSecret: 's' } } }, {});
    expect((await preflight(exposed, { env: key })).problems.join()).toContain('refuses plain HTTP');
    await writeFile(join(dataDir, 'unused'), '');
  });
});
