import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLockSystem } from '../../src/dav/stores/redis-lock-system.js';
import { RedisPropertyStore } from '../../src/dav/stores/redis-property-store.js';
import { SharedRedis } from '../../src/redis/connection.js';
import { systemClock } from '../../src/util/clock.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { HAS_REDIS, startRedis, type RunningRedis } from '../helpers/redis.js';
import { startReplicas, type Replicas } from '../helpers/replicas.js';
import { dav } from '../helpers/stack.js';

const X = 'http://example.com/ns/';
const lockBody = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:tester@example.com</D:href></D:owner></D:lockinfo>`;
const patch = (ops: string) => `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="${X}">${ops}</D:propertyupdate>`;
const getProps = (names: string) => `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:X="${X}"><D:prop>${names}</D:prop></D:propfind>`;

async function lock(replica: { url: string }, path: string, headers: Record<string, string> = {}): Promise<{ status: number; token: string }> {
  const res = await dav(replica, 'LOCK', path, { headers: { Timeout: 'Second-600', ...headers }, body: lockBody });
  await res.arrayBuffer();
  return { status: res.status, token: /^<(.+)>$/.exec(res.headers.get('lock-token') ?? '')?.[1] ?? '' };
}

/** Two onedav replicas on one emulator, sharing locks and dead properties through one Redis. */
describe.skipIf(!HAS_REDIS)('replicas sharing locks and dead properties through Redis', () => {
  let redis: RunningRedis;
  let fleet: Replicas;
  const connections: SharedRedis[] = [];
  let a: { url: string };
  let b: { url: string };

  beforeAll(async () => {
    redis = await startRedis();
    fleet = await startReplicas(2, {
      // Each replica its own connection, as separate processes have.
      async stores() {
        const shared = new SharedRedis({ url: redis.url, keyPrefix: 'replicas:' });
        connections.push(shared);
        await shared.ready();
        return { locks: new RedisLockSystem(shared, systemClock), properties: new RedisPropertyStore(shared) };
      },
    });
    [a, b] = fleet.replicas;
  });
  afterAll(async () => {
    await fleet?.close();
    await Promise.all(connections.map((c) => c.close()));
    await redis?.stop();
  });

  it('a lock taken through A is enforced by B; B accepts, refreshes and removes it by its token', async () => {
    await fleet.emulator.drive.putFile(fleet.driveId, 'doc.txt', 'original');
    const taken = await lock(a, '/doc.txt');
    expect(taken.status).toBe(200);
    expect((await dav(b, 'PUT', '/doc.txt', { body: 'without the token' })).status).toBe(423);
    expect((await fleet.emulator.drive.readFile(fleet.driveId, 'doc.txt')).toString()).toBe('original');
    // Refreshed through B: an empty LOCK with the token in If.
    const refreshed = await dav(b, 'LOCK', '/doc.txt', { headers: { If: `(<${taken.token}>)`, Timeout: 'Second-120' } });
    expect(refreshed.status).toBe(200);
    expect(await refreshed.text()).toContain('Second-120');
    expect((await dav(b, 'PUT', '/doc.txt', { body: 'with the token', headers: { If: `(<${taken.token}>)` } })).status).toBe(204);
    expect((await fleet.emulator.drive.readFile(fleet.driveId, 'doc.txt')).toString()).toBe('with the token');
    expect((await dav(b, 'UNLOCK', '/doc.txt', { headers: { 'Lock-Token': `<${taken.token}>` } })).status).toBe(204);
    expect((await dav(a, 'PUT', '/doc.txt', { body: 'free again' })).status).toBe(204);
    expect((await lock(a, '/doc.txt')).status).toBe(200);
  });

  it('a Depth infinity lock on a folder through A blocks a PUT into it through B', async () => {
    fleet.emulator.drive.mkdir(fleet.driveId, 'folder');
    const taken = await lock(a, '/folder', { Depth: 'infinity' });
    expect(taken.status).toBe(200);
    expect((await dav(b, 'PUT', '/folder/new.txt', { body: 'x' })).status).toBe(423);
    expect(fleet.emulator.drive.stat(fleet.driveId, 'folder/new.txt')).toBeUndefined();
    expect((await dav(b, 'PUT', '/folder/new.txt', { body: 'x', headers: { If: `(<${taken.token}>)` } })).status).toBe(201);
  });

  it('a PROPPATCH through A is what a PROPFIND through B returns', async () => {
    await fleet.emulator.drive.putFile(fleet.driveId, 'p.txt', 'props');
    const res = await dav(a, 'PROPPATCH', '/p.txt', { body: patch('<D:set><D:prop><X:color>blue</X:color></D:prop></D:set>') });
    expect(res.status).toBe(207);
    const [found] = parseMultistatus(await (await dav(b, 'PROPFIND', '/p.txt', { headers: { Depth: '0' }, body: getProps('<X:color/>') })).text());
    expect(found.props[`{${X}}color`]).toBe('blue');
  });

  it('of two exclusive LOCKs of one new resource, one through each replica at once, exactly one is granted', async () => {
    for (let round = 0; round < 5; round++) {
      const path = `/contended-${round}.txt`;
      const tries = await Promise.all([lock(a, path), lock(b, path)]);
      expect(tries.map((t) => t.status).sort()).toEqual([201, 423]);
    }
  });
  it('a Depth 1 PROPFIND of a large folder shows the dead properties and locks with a few Redis commands, not some per child', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `f${String(i).padStart(3, '0')}.txt`);
    for (const name of names) await fleet.emulator.drive.putFile(fleet.driveId, `big/${name}`, 'x');
    expect((await dav(a, 'PROPPATCH', '/big/f007.txt', { body: patch('<D:set><D:prop><X:color>red</X:color></D:prop></D:set>') })).status).toBe(207);
    expect((await lock(a, '/big/f123.txt')).status).toBe(200);
    const raw = new Redis({ host: '127.0.0.1', port: redis.port });
    const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await raw.info('stats'))![1]);
    try {
      await (await dav(b, 'PROPFIND', '/big/', { headers: { Depth: '1' }, body: getProps('<X:color/><D:lockdiscovery/>') })).text(); // warm B's listing cache
      const before = await commands();
      const res = await dav(b, 'PROPFIND', '/big/', { headers: { Depth: '1' }, body: getProps('<X:color/><D:lockdiscovery/>') });
      const listed = parseMultistatus(await res.text());
      const used = (await commands()) - before - 1; // minus the INFO itself
      expect(res.status).toBe(207);
      expect(listed).toHaveLength(names.length + 1);
      expect(listed.find((r) => r.path.endsWith('/f007.txt'))!.props[`{${X}}color`]).toBe('red');
      expect(listed.find((r) => r.path.endsWith('/f123.txt'))!.props['{DAV:}lockdiscovery']).toContain('tester@example.com');
      expect(listed.find((r) => r.path.endsWith('/f124.txt'))!.props['{DAV:}lockdiscovery'] ?? '').not.toContain('tester@example.com');
      expect(used).toBeLessThan(10);
    } finally {
      raw.disconnect();
    }
  });
  it('the dead properties of 100,000 resources asked for in one tick (many large listings at once) are all read, the one set among them included', async () => {
    const shared = new SharedRedis({ url: redis.url, keyPrefix: 'replicas:' });
    connections.push(shared);
    await shared.ready();
    const store = new RedisPropertyStore(shared);
    const at = (i: number) => ({ mount: '/', key: `/wide/f${i}.txt`, path: `/wide/f${i}.txt` });
    expect((await store.patch(at(77_777), [{ name: `{${X}}color`, value: 'green' }], { user: 'tester' })).ok).toBe(true);
    const read = await Promise.all(Array.from({ length: 100_000 }, (_, i) => store.get(at(i))));
    expect(read.filter((r) => Object.keys(r.properties).length > 0).length).toBe(1);
    expect(Object.values(read[77_777].properties)[0]).toContain('green');
  }, 60_000);
});
