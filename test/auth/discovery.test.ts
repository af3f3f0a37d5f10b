import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudFromDiscovery, NATIONAL_CLOUDS } from '../../src/auth/clouds.js';
import { discover, DiscoveryCache, DiscoveryError } from '../../src/auth/discovery.js';
import { scopesForRequest } from '../../src/auth/endpoints.js';
import { CONSUMERS_TENANT_ID } from '../../src/emulator/directory.js';
import { AuthFixture } from './helpers.js';

const fx = new AuthFixture();
beforeAll(async () => {
  await fx.start();
});
afterAll(async () => {
  await fx.stop();
});

const tenantId = (domain: string) => fx.emulator.state.directory.tenants.find((t) => t.domains.includes(domain))!.id;

describe('discover', () => {
  it.each([
    ['adele@contoso.com', 'contoso.com', 'organizational', 'global', 'graph.microsoft.com', 'WW'],
    ['lei@fabrikam.partner.onmschina.cn', 'fabrikam.partner.onmschina.cn', 'organizational', 'china', 'microsoftgraph.chinacloudapi.cn', 'AS'],
    ['sam@tailspin.onmicrosoft.us', 'tailspin.onmicrosoft.us', 'organizational', 'usgov', 'graph.microsoft.us', 'NA'],
    ['pat@wingtip.onmicrosoft.us', 'wingtip.onmicrosoft.us', 'organizational', 'usgovdod', 'dod-graph.microsoft.us', 'NA'],
  ])('finds the tenant and national cloud of %s', async (email, domain, accountType, cloud, graphHost, region) => {
    const d = await discover(email, { loginUrl: fx.emulator.url });
    const tid = tenantId(domain);
    expect(d).toMatchObject({ domain, accountType, cloud, graphHost, regionScope: region, tenant: tid, tenantId: tid, loginUrl: fx.emulator.url });
    expect(d.authority).toBe(`${fx.emulator.url}/${tid}`);
    expect(d.tokenEndpoint).toBe(`${fx.emulator.url}/${tid}/oauth2/v2.0/token`);
    expect(d.graphBaseUrl).toBe(`${fx.emulator.url}/v1.0`);
    expect(d.cloudInstanceName).toBe(NATIONAL_CLOUDS[cloud as 'global'].instanceName);
  });

  it('tells GCC High from DoD by their Graph hosts', async () => {
    expect((await discover('tailspin.onmicrosoft.us', { loginUrl: fx.emulator.url })).regionSubScope).toBe('GCC');
    expect((await discover('wingtip.onmicrosoft.us', { loginUrl: fx.emulator.url })).regionSubScope).toBe('DOD');
  });

  it('recognises a personal Microsoft account', async () => {
    const d = await discover('alex@outlook.com', { loginUrl: fx.emulator.url });
    expect(d).toMatchObject({ accountType: 'personal', tenant: 'consumers', tenantId: CONSUMERS_TENANT_ID, cloud: 'global' });
    expect(d.authority).toBe(`${fx.emulator.url}/consumers`);
  });

  it('works from a bare domain and knows the organisation name', async () => {
    const d = await discover('contoso.onmicrosoft.com', { loginUrl: fx.emulator.url });
    expect(d.organization).toBe('Contoso');
  });

  it('says what to check for an unknown domain or a malformed input', async () => {
    await expect(discover('bob@unknown.example', { loginUrl: fx.emulator.url })).rejects.toThrow(/No Microsoft Entra tenant or personal Microsoft account is known for "unknown.example"/);
    await expect(discover('not an email', { loginUrl: fx.emulator.url })).rejects.toBeInstanceOf(DiscoveryError);
  });

  it('caches results per domain in the data folder', async () => {
    const cache = new DiscoveryCache(fx.dataDir);
    const d = await discover('sam@tailspin.onmicrosoft.us', { loginUrl: fx.emulator.url });
    await cache.put(d);
    expect(await cache.get('tailspin.onmicrosoft.us', fx.emulator.url)).toEqual(d);
    expect(await cache.get('tailspin.onmicrosoft.us', 'https://login.microsoftonline.com')).toBeUndefined();
  });
});

describe('clouds', () => {
  it('maps discovery facts back to a cloud', () => {
    expect(cloudFromDiscovery({ cloudInstanceName: 'microsoftonline.us', msgraphHost: 'dod-graph.microsoft.us' })).toBe('usgovdod');
    expect(cloudFromDiscovery({ cloudInstanceName: 'microsoftonline.us', msgraphHost: 'graph.microsoft.us' })).toBe('usgov');
    expect(cloudFromDiscovery({ cloudInstanceName: 'partner.microsoftonline.cn' })).toBe('china');
    expect(cloudFromDiscovery({ cloudInstanceName: 'elsewhere.example' })).toBeUndefined();
  });

  it('qualifies Graph scopes with the national Graph resource', () => {
    expect(scopesForRequest(['Files.Read', 'offline_access', 'openid'], NATIONAL_CLOUDS.china.graphResource)).toEqual([
      'https://microsoftgraph.chinacloudapi.cn/Files.Read',
      'offline_access',
      'openid',
    ]);
  });
});
