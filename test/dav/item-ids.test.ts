import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLockSystem } from '../../src/dav/stores/redis-lock-system.js';
import { RedisPropertyStore } from '../../src/dav/stores/redis-property-store.js';
import { SharedRedis } from '../../src/redis/connection.js';
import { systemClock } from '../../src/util/clock.js';
import { D, parseMultistatus } from '../helpers/multistatus.js';
import { fleetPrefix, HAS_REDIS, startRedis, type RunningRedis } from '../helpers/redis.js';
import { ADELE, dav, EmulatorTokenSource, startDavStack, type DavStack, type StackOptions } from '../helpers/stack.js';

/**
 * Locks and dead properties belong to the drive item, not to its path: another OneDrive client
 * (web, phone, sync app) renaming or moving a file or folder keeps them, and a new file where a
 * deleted one was gets none of them. onedav learns of the change from the delta feed (here one
 * poll, as the poller would make), and looks records up by id at request time.
 */
const X = 'urn:example:ids';
const prop = (name: string, value: string) =>
  `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="${X}"><D:set><D:prop><X:${name}>${value}</X:${name}></D:prop></D:set></D:propertyupdate>`;
const lockBody = (owner = 'me') =>
  `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>${owner}</D:owner></D:lockinfo>`;

async function lock(stack: DavStack, path: string, depth: '0' | 'infinity' = '0'): Promise<string> {
  const res = await dav(stack, 'LOCK', path, { headers: { Timeout: 'Second-600', Depth: depth }, body: lockBody() });
  await res.arrayBuffer();
  expect(res.status).toBeLessThan(300);
  return /^<(.+)>$/.exec(res.headers.get('lock-token') ?? '')![1];
}

async function deadProp(stack: DavStack, path: string, name: string): Promise<string | undefined> {
  const res = await dav(stack, 'PROPFIND', path, { headers: { Depth: '0' } });
  expect(res.status).toBe(207);
  return parseMultistatus(await res.text())[0].props[`{${X}}${name}`];
}

async function propfindOf(stack: DavStack, path: string, depth = '0'): Promise<ReturnType<typeof parseMultistatus>> {
  const res = await dav(stack, 'PROPFIND', path, { headers: { Depth: depth } });
  expect(res.status).toBe(207);
  return parseMultistatus(await res.text());
}

/** Another OneDrive client at work: Graph calls straight to the emulator, by item id. */
class OtherClient {
  constructor(private readonly stack: DavStack) {}

  private async call(method: string, path: string, body?: unknown, raw?: string): Promise<Record<string, unknown>> {
    const token = await new EmulatorTokenSource(this.stack.emulator, ADELE).getAccessToken();
    const res = await fetch(`${this.stack.emulator.url}/v1.0/drives/${encodeURIComponent(this.stack.driveIds[0])}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: raw ?? (body ? JSON.stringify(body) : undefined),
    });
    if (!res.ok) throw new Error(`Graph answered ${res.status}: ${await res.text()}`);
    return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
  }

  private idOf(path: string): string {
    const id = this.stack.emulator.drive.stat(this.stack.driveIds[0], path.replace(/^\//, ''))?.id;
    if (!id) throw new Error(`nothing at ${path}`);
    return id;
  }

  rename(path: string, name: string): Promise<unknown> {
    return this.call('PATCH', `/items/${this.idOf(path)}`, { name });
  }

  moveInto(path: string, folder: string): Promise<unknown> {
    return this.call('PATCH', `/items/${this.idOf(path)}`, { parentReference: { id: this.idOf(folder) } });
  }

  remove(path: string): Promise<unknown> {
    return this.call('DELETE', `/items/${this.idOf(path)}`);
  }

  upload(path: string, content: string): Promise<unknown> {
    return this.call('PUT', `/root:${path}:/content`, undefined, content);
  }
}

function describeItemIds(name: string, options: () => Promise<StackOptions>): void {
  describe(`locks and dead properties follow the item (${name})`, () => {
    let stack: DavStack;
    let other: OtherClient;
    /** onedav hears of the other client's changes (one delta poll, as the poller makes). */
    const learn = () => stack.drives[0].pollChanges();

    beforeAll(async () => {
      stack = await startDavStack(await options());
      other = new OtherClient(stack);
      await learn(); // the feed's starting point
    });
    afterAll(() => stack?.close());

    it('dead properties of a file renamed, then moved, by another client show at its new paths', async () => {
      expect((await dav(stack, 'PUT', '/notes.txt', { body: 'n' })).status).toBe(201);
      expect((await dav(stack, 'PROPPATCH', '/notes.txt', { body: prop('colour', 'blue') })).status).toBe(207);
      await other.rename('/notes.txt', 'renamed.txt');
      await learn();
      expect(await deadProp(stack, '/renamed.txt', 'colour')).toContain('blue');
      // In the folder's listing too (Depth 1 reads every member's properties at once).
      const listed = (await propfindOf(stack, '/', '1')).find((r) => r.href === '/renamed.txt');
      expect(listed?.props[`{${X}}colour`]).toContain('blue');
      expect((await dav(stack, 'MKCOL', '/archive')).status).toBe(201);
      await other.moveInto('/renamed.txt', '/archive');
      await learn();
      expect(await deadProp(stack, '/archive/renamed.txt', 'colour')).toContain('blue');
    });

    it('a file deleted by another client and made again at its path has none of the old one’s properties or locks', async () => {
      expect((await dav(stack, 'PUT', '/reused.txt', { body: 'old' })).status).toBe(201);
      expect((await dav(stack, 'PROPPATCH', '/reused.txt', { body: prop('secret', 'old-file') })).status).toBe(207);
      await lock(stack, '/reused.txt');
      await other.remove('/reused.txt');
      await other.upload('/reused.txt', 'a new file');
      await learn();
      expect(await deadProp(stack, '/reused.txt', 'secret')).toBeUndefined();
      const [entry] = await propfindOf(stack, '/reused.txt');
      expect(entry.props[D('lockdiscovery')] ?? '').not.toContain('opaquelocktoken');
      expect((await dav(stack, 'PUT', '/reused.txt', { body: 'mine now' })).status).toBe(204);
    });

    it('a lock on a file renamed by another client holds at its new path: refused without the token, allowed with it, unlocked there', async () => {
      expect((await dav(stack, 'PUT', '/locked.txt', { body: 'v1' })).status).toBe(201);
      const token = await lock(stack, '/locked.txt');
      await other.rename('/locked.txt', 'locked-renamed.txt');
      await learn();
      expect((await dav(stack, 'PUT', '/locked-renamed.txt', { body: 'no token' })).status).toBe(423);
      expect((await dav(stack, 'DELETE', '/locked-renamed.txt')).status).toBe(423);
      expect((await stack.emulator.drive.readFile(stack.driveIds[0], 'locked-renamed.txt')).toString()).toBe('v1');
      // The lock discovery shows the lock rooted where the file is now.
      const [entry] = await propfindOf(stack, '/locked-renamed.txt');
      expect(entry.props[D('lockdiscovery')]).toContain(token);
      expect(entry.props[D('lockdiscovery')]).toContain('<D:lockroot><D:href>/locked-renamed.txt</D:href></D:lockroot>');
      expect((await dav(stack, 'PUT', '/locked-renamed.txt', { body: 'v2', headers: { If: `(<${token}>)` } })).status).toBe(204);
      expect((await dav(stack, 'UNLOCK', '/locked-renamed.txt', { headers: { 'Lock-Token': `<${token}>` } })).status).toBe(204);
      expect((await dav(stack, 'PUT', '/locked-renamed.txt', { body: 'v3' })).status).toBe(204);
    });

    it('a Depth-infinity lock on a folder renamed by another client still covers its members at their new paths', async () => {
      expect((await dav(stack, 'MKCOL', '/project')).status).toBe(201);
      expect((await dav(stack, 'PUT', '/project/plan.txt', { body: 'plan' })).status).toBe(201);
      const token = await lock(stack, '/project', 'infinity');
      await other.rename('/project', 'project-2026');
      await learn();
      expect((await dav(stack, 'PUT', '/project-2026/plan.txt', { body: 'no token' })).status).toBe(423);
      expect((await dav(stack, 'PUT', '/project-2026/new.txt', { body: 'no token' })).status).toBe(423);
      expect((await dav(stack, 'PROPPATCH', '/project-2026/plan.txt', { body: prop('x', 'y') })).status).toBe(423);
      expect((await stack.emulator.drive.readFile(stack.driveIds[0], 'project-2026/plan.txt')).toString()).toBe('plan');
      const [, member] = await propfindOf(stack, '/project-2026', '1');
      expect(member.props[D('lockdiscovery')]).toContain('<D:lockroot><D:href>/project-2026</D:href></D:lockroot>');
      expect((await dav(stack, 'PUT', '/project-2026/plan.txt', { body: 'with token', headers: { If: `(<${token}>)` } })).status).toBe(204);
      // A new folder where the locked one was is not locked.
      expect((await dav(stack, 'MKCOL', '/project')).status).toBe(201);
      expect((await dav(stack, 'PUT', '/project/free.txt', { body: 'free' })).status).toBe(201);
      expect((await dav(stack, 'UNLOCK', '/project-2026', { headers: { 'Lock-Token': `<${token}>` } })).status).toBe(204);
      expect((await dav(stack, 'PUT', '/project-2026/plan.txt', { body: 'free' })).status).toBe(204);
    });

    it('a COPY gives the copy dead properties of its own, which stay with it when another client renames it', async () => {
      expect((await dav(stack, 'PUT', '/original.txt', { body: 'o' })).status).toBe(201);
      expect((await dav(stack, 'PROPPATCH', '/original.txt', { body: prop('tag', 'first') })).status).toBe(207);
      expect((await dav(stack, 'COPY', '/original.txt', { headers: { Destination: '/copy.txt' } })).status).toBe(201);
      expect((await dav(stack, 'PROPPATCH', '/original.txt', { body: prop('tag', 'changed') })).status).toBe(207);
      await other.rename('/copy.txt', 'copy-renamed.txt');
      await learn();
      expect(await deadProp(stack, '/copy-renamed.txt', 'tag')).toContain('first');
      expect(await deadProp(stack, '/original.txt', 'tag')).toContain('changed');
    });

    it('a MOVE through onedav keeps dead properties and moves no lock, as before', async () => {
      expect((await dav(stack, 'PUT', '/mover.txt', { body: 'm' })).status).toBe(201);
      expect((await dav(stack, 'PROPPATCH', '/mover.txt', { body: prop('kept', 'yes') })).status).toBe(207);
      const token = await lock(stack, '/mover.txt');
      expect((await dav(stack, 'MOVE', '/mover.txt', { headers: { Destination: '/moved.txt', If: `(<${token}>)` } })).status).toBe(201);
      expect(await deadProp(stack, '/moved.txt', 'kept')).toContain('yes');
      expect((await dav(stack, 'PUT', '/moved.txt', { body: 'free' })).status).toBe(204);
      await other.rename('/moved.txt', 'moved-again.txt');
      await learn();
      expect(await deadProp(stack, '/moved-again.txt', 'kept')).toContain('yes');
    });
  });
}

describeItemIds('files', async () => ({}));

describe.skipIf(!HAS_REDIS)('with Redis', () => {
  let redis: RunningRedis;
  const connections: SharedRedis[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await redis?.stop();
  });
  describeItemIds('Redis', async () => {
    const shared = new SharedRedis({ url: redis.url, keyPrefix: fleetPrefix() });
    connections.push(shared);
    await shared.ready();
    return { dav: { stores: { locks: new RedisLockSystem(shared, systemClock), properties: new RedisPropertyStore(shared) } } };
  });
});

describe('stores written before ids were kept', () => {
  let stack: DavStack;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'onedav-old-stores-'));
    await mkdir(join(dataDir, 'dav'), { recursive: true });
    // The files as onedav wrote them before: keyed by folded path, no ids.
    const value = `<X:colour xmlns:X="${X}">green</X:colour>`;
    await writeFile(join(dataDir, 'dav', 'properties.json'), JSON.stringify({ version: 1, mounts: { '/': { '/report.txt': { [`{${X}}colour`]: value } } }, owners: { '/': { '/report.txt': 'anonymous' } } }));
    const lock = { mount: '/', path: '/Held.txt', key: '/held.txt', depth: 0, scope: 'exclusive', owner: 'me', principal: 'anonymous', timeoutSeconds: 3600, token: 'opaquelocktoken:3f1c2d4e-0000-4000-8000-000000000001', expiresAt: Date.now() + 3_600_000 };
    await writeFile(join(dataDir, 'dav', 'locks.json'), JSON.stringify({ version: 1, locks: [lock] }));
    stack = await startDavStack({ dataDir });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'report.txt', 'r');
    await stack.emulator.drive.putFile(stack.driveIds[0], 'Held.txt', 'h');
    await stack.drives[0].pollChanges();
  });
  afterAll(async () => {
    await stack?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reads them, and ties each record to its item when it is next seen, so a later rename elsewhere keeps it', async () => {
    const other = new OtherClient(stack);
    expect(await deadProp(stack, '/report.txt', 'colour')).toContain('green');
    expect((await dav(stack, 'PUT', '/Held.txt', { body: 'no token' })).status).toBe(423);
    await other.rename('/report.txt', 'report-final.txt');
    await other.rename('/Held.txt', 'held-renamed.txt');
    await stack.drives[0].pollChanges();
    expect(await deadProp(stack, '/report-final.txt', 'colour')).toContain('green');
    expect((await dav(stack, 'PUT', '/held-renamed.txt', { body: 'no token' })).status).toBe(423);
    expect((await dav(stack, 'PUT', '/held-renamed.txt', { body: 'token', headers: { If: '(<opaquelocktoken:3f1c2d4e-0000-4000-8000-000000000001>)' } })).status).toBe(204);
  });
});
