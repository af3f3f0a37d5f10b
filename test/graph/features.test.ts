import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphClient } from '../../src/graph/client.js';
import { DriveApi } from '../../src/graph/drive-api.js';
import { graphFeaturesOf } from '../../src/graph/features.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { withEmulator } from './emulator-helper.js';

describe('Graph features per cloud', () => {
  it('serves path addressing and delta everywhere but in 21Vianet; an unknown cloud gets the least', () => {
    expect(graphFeaturesOf('global')).toEqual({ pathAddressing: true, delta: true });
    expect(graphFeaturesOf('usgov')).toEqual({ pathAddressing: true, delta: true });
    expect(graphFeaturesOf('usgovdod')).toEqual({ pathAddressing: true, delta: true });
    expect(graphFeaturesOf('china')).toEqual({ pathAddressing: false, delta: false });
    expect(graphFeaturesOf(undefined)).toEqual({ pathAddressing: false, delta: false });
    expect(graphFeaturesOf('elsewhere')).toEqual({ pathAddressing: false, delta: false });
  });
});

describe('DriveApi without path addressing and delta', () => {
  let emulator: RunningEmulator;
  let client: GraphClient;
  let api: DriveApi;

  beforeAll(async () => {
    const started = await withEmulator();
    emulator = started.emulator;
    client = new GraphClient({ baseUrl: `${emulator.url}/v1.0`, tokens: started.tokens });
    api = new DriveApi(client, { type: 'me' }, { features: graphFeaturesOf('china') });
  });
  afterAll(async () => {
    await client.close();
    await emulator.close();
  });

  it('never sends a path-addressed or delta request (the service would answer for another item)', async () => {
    emulator.counters.reset();
    await expect(api.getItem({ path: '/a.txt' })).rejects.toMatchObject({ code: 'pathAddressingUnsupported' });
    await expect(api.delete({ path: '/a.txt' })).rejects.toMatchObject({ code: 'pathAddressingUnsupported' });
    await expect(api.delta()).rejects.toMatchObject({ status: 400, code: 'notSupported' });
    expect(emulator.counters.snapshot().graphCalls).toBe(0);
  });

  it("addresses the root as /root and a child by name under its folder id with children('{name}')", async () => {
    const root = await api.getItem({ path: '/' });
    const { item: created } = await api.simpleUpload({ parentId: root.id, name: "it's.txt" }, Buffer.from('x'));
    expect(created.name).toBe("it's.txt");
    expect((await api.getItem({ parentId: root.id, name: "IT'S.txt" })).id).toBe(created.id);
    expect(Object.keys(emulator.counters.snapshot().byRoute).filter((r) => r.includes(':/{path}:'))).toEqual([]);
  });
});
