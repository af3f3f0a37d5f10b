import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../src/emulator/server.js';
import { CONSUMERS_TENANT_ID } from '../../../src/emulator/directory.js';
import { expectAadError, getJson } from './helpers.js';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});

describe('OpenID configuration', () => {
  it.each([
    ['contoso.onmicrosoft.com', 'microsoftonline.com', 'graph.microsoft.com', 'WW'],
    ['fabrikam.partner.onmschina.cn', 'partner.microsoftonline.cn', 'microsoftgraph.chinacloudapi.cn', 'AS'],
    ['tailspin.onmicrosoft.us', 'microsoftonline.us', 'graph.microsoft.us', 'NA'],
    ['wingtip.onmicrosoft.us', 'microsoftonline.us', 'dod-graph.microsoft.us', 'NA'],
  ])('describes %s in its national cloud, with endpoints on the emulator', async (domain, instance, graphHost, region) => {
    const tenant = emulator.state.directory.tenants.find((t) => t.domains.includes(domain))!;
    const { status, body } = await getJson(`${emulator.url}/${domain}/v2.0/.well-known/openid-configuration`);
    expect(status).toBe(200);
    expect(body.issuer).toBe(`${emulator.url}/${tenant.id}/v2.0`);
    expect(body.token_endpoint).toBe(`${emulator.url}/${tenant.id}/oauth2/v2.0/token`);
    expect(body.authorization_endpoint).toBe(`${emulator.url}/${tenant.id}/oauth2/v2.0/authorize`);
    expect(body.device_authorization_endpoint).toBe(`${emulator.url}/${tenant.id}/oauth2/v2.0/devicecode`);
    expect(body.cloud_instance_name).toBe(instance);
    expect(body.msgraph_host).toBe(graphHost);
    expect(body.tenant_region_scope).toBe(region);
  });

  it('gives the sub-scope of US government tenants', async () => {
    const gcc = await getJson(`${emulator.url}/tailspin.onmicrosoft.us/v2.0/.well-known/openid-configuration`);
    const dod = await getJson(`${emulator.url}/wingtip.onmicrosoft.us/v2.0/.well-known/openid-configuration`);
    expect(gcc.body.tenant_region_sub_scope).toBe('GCC');
    expect(dod.body.tenant_region_sub_scope).toBe('DOD');
  });

  it('answers common with the {tenantid} placeholder and consumers with the MSA tenant', async () => {
    const common = await getJson(`${emulator.url}/common/v2.0/.well-known/openid-configuration`);
    expect(common.body.issuer).toBe(`${emulator.url}/{tenantid}/v2.0`);
    expect(common.body.tenant_region_scope).toBeNull();
    const consumers = await getJson(`${emulator.url}/consumers/v2.0/.well-known/openid-configuration`);
    expect(consumers.body.issuer).toBe(`${emulator.url}/${CONSUMERS_TENANT_ID}/v2.0`);
  });

  it('serves the v1 document with the sts.windows.net issuer', async () => {
    const { body } = await getJson(`${emulator.url}/contoso.com/.well-known/openid-configuration`);
    expect(body.issuer).toMatch(/^https:\/\/sts\.windows\.net\/[0-9a-f-]{36}\/$/);
    expect(body.token_endpoint).toMatch(/\/oauth2\/token$/);
  });

  it('rejects an unknown tenant with AADSTS90002', async () => {
    const { status, body } = await getJson(`${emulator.url}/nowhere.example/v2.0/.well-known/openid-configuration`);
    expect(status).toBe(400);
    expectAadError(body, 'invalid_tenant', 90002);
  });
});

describe('user realm', () => {
  it('knows managed organisational domains and their cloud', async () => {
    const { body } = await getJson(`${emulator.url}/common/userrealm/lei@fabrikam.partner.onmschina.cn?api-version=2.1`);
    expect(body).toMatchObject({ NameSpaceType: 'Managed', DomainName: 'fabrikam.partner.onmschina.cn', FederationBrandName: 'Fabrikam China', cloud_instance_name: 'partner.microsoftonline.cn' });
  });

  it('says Unknown for unknown domains', async () => {
    const { body } = await getJson(`${emulator.url}/common/userrealm/?user=someone@example.org&api-version=2.1&checkForMicrosoftAccount=true`);
    expect(body).toMatchObject({ NameSpaceType: 'Unknown', DomainName: 'example.org', MicrosoftAccount: 0 });
  });

  it('detects personal Microsoft accounts when asked to', async () => {
    const { body } = await getJson(`${emulator.url}/common/userrealm/alex@outlook.com?api-version=2.1&checkForMicrosoftAccount=true`);
    expect(body).toMatchObject({ NameSpaceType: 'Unknown', DomainName: 'outlook.com', MicrosoftAccount: 1 });
  });

  it('serves the legacy getuserrealm.srf shape', async () => {
    const { body } = await getJson(`${emulator.url}/getuserrealm.srf?login=adele@contoso.com`);
    expect(body).toMatchObject({ State: 4, NameSpaceType: 'Managed', DomainName: 'contoso.com', CloudInstanceName: 'microsoftonline.com', CloudInstanceIssuerUri: 'urn:federation:MicrosoftOnline' });
  });

  it('serves the api-version 1.0 shape', async () => {
    const { body } = await getJson(`${emulator.url}/common/userrealm/sam@tailspin.onmicrosoft.us?api-version=1.0`);
    expect(body).toMatchObject({ ver: '1.0', account_type: 'Managed', domain_name: 'tailspin.onmicrosoft.us', cloud_instance_name: 'microsoftonline.us' });
  });
});
