import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { D, parseMultistatus } from '../helpers/multistatus.js';
import { basic, dav, startDavStack, type DavStack } from '../helpers/stack.js';

const lockBody = (scope: 'exclusive' | 'shared', owner = '<D:href>mailto:tester@example.com</D:href>') =>
  `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>${owner}</D:owner></D:lockinfo>`;

async function takeLock(stack: DavStack, path: string, scope: 'exclusive' | 'shared' = 'exclusive', headers: Record<string, string> = {}): Promise<{ status: number; token: string; body: string }> {
  const res = await dav(stack, 'LOCK', path, { headers: { Timeout: 'Second-600', ...headers }, body: lockBody(scope) });
  const token = /^<(.+)>$/.exec(res.headers.get('lock-token') ?? '')?.[1] ?? '';
  return { status: res.status, token, body: await res.text() };
}

describe('LOCK and UNLOCK', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'doc.txt', 'v1');
    stack.emulator.drive.mkdir(drive, 'folder');
  });
  afterAll(() => stack.close());

  it('locks exclusively, blocks writes without the token and allows them with it', async () => {
    const lock = await takeLock(stack, '/doc.txt');
    expect(lock.status).toBe(200);
    expect(lock.token).toMatch(/^opaquelocktoken:/);
    expect(lock.body).toContain('<D:timeout>Second-600</D:timeout>');
    expect(lock.body).toContain('<D:owner><D:href>mailto:tester@example.com</D:href></D:owner>');
    expect(lock.body).toContain('<D:lockroot><D:href>/doc.txt</D:href></D:lockroot>');

    const blocked = await dav(stack, 'PUT', '/doc.txt', { body: 'v2' });
    expect(blocked.status).toBe(423);
    expect(await blocked.text()).toContain('<D:lock-token-submitted><D:href>/doc.txt</D:href></D:lock-token-submitted>');
    expect((await dav(stack, 'DELETE', '/doc.txt')).status).toBe(423);
    expect((await dav(stack, 'MOVE', '/doc.txt', { headers: { Destination: '/moved.txt' } })).status).toBe(423);
    expect((await takeLock(stack, '/doc.txt')).status).toBe(423);
    expect((await takeLock(stack, '/doc.txt', 'shared')).status).toBe(423);

    expect((await dav(stack, 'PUT', '/doc.txt', { body: 'v2', headers: { If: `(<${lock.token}>)` } })).status).toBe(204);
    const etag = (await dav(stack, 'HEAD', '/doc.txt')).headers.get('etag')!;
    expect((await dav(stack, 'PUT', '/doc.txt', { body: 'v3', headers: { If: `(<${lock.token}> [${etag}])` } })).status).toBe(204);
    expect((await dav(stack, 'PUT', '/doc.txt', { body: 'v4', headers: { If: `(<${lock.token}> ["stale"])` } })).status).toBe(412);
    expect((await dav(stack, 'PUT', '/doc.txt', { body: 'v4', headers: { If: `<${stack.url}/doc.txt> (<${lock.token}>)` } })).status).toBe(204);

    const [entry] = parseMultistatus(await (await dav(stack, 'PROPFIND', '/doc.txt', { headers: { Depth: '0' } })).text());
    expect(entry.props[D('lockdiscovery')]).toContain(lock.token);

    expect((await dav(stack, 'UNLOCK', '/doc.txt', { headers: { 'Lock-Token': '<opaquelocktoken:bogus>' } })).status).toBe(409);
    expect((await dav(stack, 'UNLOCK', '/doc.txt')).status).toBe(400);
    expect((await dav(stack, 'UNLOCK', '/doc.txt', { headers: { 'Lock-Token': `<${lock.token}>` } })).status).toBe(204);
    expect((await dav(stack, 'PUT', '/doc.txt', { body: 'free' })).status).toBe(204);
  });

  it('refreshes a lock with an empty LOCK and its token in If', async () => {
    const lock = await takeLock(stack, '/doc.txt');
    const refreshed = await dav(stack, 'LOCK', '/doc.txt', { headers: { If: `(<${lock.token}>)`, Timeout: 'Second-120' } });
    expect(refreshed.status).toBe(200);
    expect(await refreshed.text()).toContain('<D:timeout>Second-120</D:timeout>');
    expect((await dav(stack, 'LOCK', '/doc.txt', { headers: { If: '(<opaquelocktoken:nope>)' } })).status).toBe(412);
    expect((await dav(stack, 'LOCK', '/doc.txt')).status).toBe(400);
    await dav(stack, 'UNLOCK', '/doc.txt', { headers: { 'Lock-Token': `<${lock.token}>` } });
  });

  it('shares shared locks', async () => {
    const first = await takeLock(stack, '/doc.txt', 'shared');
    const second = await takeLock(stack, '/doc.txt', 'shared');
    expect([first.status, second.status]).toEqual([200, 200]);
    expect((await takeLock(stack, '/doc.txt', 'exclusive')).status).toBe(423);
    // Either token lets a write through.
    expect((await dav(stack, 'PUT', '/doc.txt', { body: 's', headers: { If: `(<${second.token}>)` } })).status).toBe(204);
    for (const l of [first, second]) await dav(stack, 'UNLOCK', '/doc.txt', { headers: { 'Lock-Token': `<${l.token}>` } });
  });

  it('a Depth infinity lock on a folder protects its members, including new ones', async () => {
    const lock = await takeLock(stack, '/folder/', 'exclusive', { Depth: 'infinity' });
    expect((await dav(stack, 'PUT', '/folder/new.txt', { body: 'x' })).status).toBe(423);
    expect((await dav(stack, 'MKCOL', '/folder/sub/')).status).toBe(423);
    expect((await dav(stack, 'PUT', '/folder/new.txt', { body: 'x', headers: { If: `(<${lock.token}>)` } })).status).toBe(201);
    expect((await dav(stack, 'DELETE', '/folder/new.txt')).status).toBe(423);
    // Refresh through a member (litmus indirect_refresh).
    expect((await dav(stack, 'LOCK', '/folder/new.txt', { headers: { If: `(<${lock.token}>)` } })).status).toBe(200);
    expect((await dav(stack, 'UNLOCK', '/folder/new.txt', { headers: { 'Lock-Token': `<${lock.token}>` } })).status).toBe(204);
  });

  it('LOCK on an unmapped URL creates an empty file (201)', async () => {
    const lock = await takeLock(stack, '/fresh.txt');
    expect(lock.status).toBe(201);
    expect(stack.emulator.drive.stat(drive, 'fresh.txt')).toMatchObject({ size: 0 });
    expect((await takeLock(stack, '/no/parent.txt')).status).toBe(409);
    await dav(stack, 'UNLOCK', '/fresh.txt', { headers: { 'Lock-Token': `<${lock.token}>` } });
  });

  it('of exclusive LOCKs sent at once, exactly one is granted; the others get 423', async () => {
    await stack.emulator.drive.putFile(drive, 'contended.txt', 'c');
    stack.emulator.drive.mkdir(drive, 'contended');
    const tries = await Promise.all([
      ...Array.from({ length: 4 }, () => takeLock(stack, '/contended.txt')),
      // A Depth infinity lock on a folder against locks on a new member, which LOCK creates.
      takeLock(stack, '/contended', 'exclusive', { Depth: 'infinity' }),
      takeLock(stack, '/contended/new.txt', 'exclusive', { Depth: '0' }),
    ]);
    expect(tries.slice(0, 4).map((t) => t.status).sort()).toEqual([200, 423, 423, 423]);
    expect(tries.slice(4).map((t) => t.status).filter((s) => s === 423)).toHaveLength(1);
    const [entry] = parseMultistatus(await (await dav(stack, 'PROPFIND', '/contended.txt', { headers: { Depth: '0' } })).text());
    expect(entry.props[D('lockdiscovery')].match(/<D:activelock>/g)).toHaveLength(1);
  });

  it('drops the locks of what it deletes', async () => {
    await stack.emulator.drive.putFile(drive, 'gone.txt', 'x');
    const lock = await takeLock(stack, '/gone.txt');
    expect((await dav(stack, 'DELETE', '/gone.txt', { headers: { If: `(<${lock.token}>)` } })).status).toBe(204);
    expect((await dav(stack, 'PUT', '/gone.txt', { body: 'again' })).status).toBe(201);
    expect((await dav(stack, 'PUT', '/gone.txt', { body: 'free again' })).status).toBe(204);
  });

  it('keeps locks across a restart of the server', async () => {
    const lock = await takeLock(stack, '/doc.txt');
    await stack.restartDav();
    expect((await dav(stack, 'PUT', '/doc.txt', { body: 'x' })).status).toBe(423);
    expect((await dav(stack, 'UNLOCK', '/doc.txt', { headers: { 'Lock-Token': `<${lock.token}>` } })).status).toBe(204);
  });
});

describe('locks belong to the user who took them', () => {
  let stack: DavStack;

  beforeAll(async () => {
    const fast = { N: 1 << 10, r: 8, p: 1 };
    const users = [
      { name: 'ann', password: await hashPassword('ann-pw', fast) },
      { name: 'ben', password: await hashPassword('ben-pw', fast) },
    ];
    stack = await startDavStack({ dav: { users, anonymous: { enabled: false } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'shared.txt', 'x');
  });
  afterAll(() => stack.close());

  it('another user cannot use or remove the token', async () => {
    const ann = { Authorization: basic('ann', 'ann-pw') };
    const ben = { Authorization: basic('ben', 'ben-pw') };
    const lock = await takeLock(stack, '/shared.txt', 'exclusive', ann);
    expect(lock.status).toBe(200);
    expect((await dav(stack, 'PUT', '/shared.txt', { body: 'b', headers: { ...ben, If: `(<${lock.token}>)` } })).status).toBe(423);
    expect((await dav(stack, 'UNLOCK', '/shared.txt', { headers: { ...ben, 'Lock-Token': `<${lock.token}>` } })).status).toBe(403);
    expect((await dav(stack, 'PUT', '/shared.txt', { body: 'a', headers: { ...ann, If: `(<${lock.token}>)` } })).status).toBe(204);
  });
});

describe('lockdiscovery in a Depth 1 listing', () => {
  let stack: DavStack;
  beforeAll(async () => {
    stack = await startDavStack();
    const drive = stack.driveIds[0];
    for (const path of ['shelf/a.txt', 'shelf/b.txt', 'shelf/inner/deep.txt']) await stack.emulator.drive.putFile(drive, path, 'x');
  });
  afterAll(() => stack.close());

  it('shows on each member the locks that cover it: the folder’s Depth-infinity lock and its own, not a lock further down', async () => {
    const own = await takeLock(stack, '/shelf/a.txt', 'shared');
    const deep = await takeLock(stack, '/shelf/inner/deep.txt', 'shared');
    const folder = await takeLock(stack, '/shelf', 'shared', { Depth: 'infinity' });
    const folderZero = await takeLock(stack, '/shelf', 'shared', { Depth: '0' });
    for (const lock of [own, deep, folder, folderZero]) expect(lock.status).toBe(200);
    const body = '<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>';
    const listed = parseMultistatus(await (await dav(stack, 'PROPFIND', '/shelf/', { headers: { Depth: '1' }, body })).text());
    const tokensOf = (href: string) => {
      const xml = listed.find((r) => r.href === href)?.props[D('lockdiscovery')] ?? '';
      return [own, deep, folder, folderZero].map((l) => l.token).filter((t) => xml.includes(t));
    };
    expect(tokensOf('/shelf/').sort()).toEqual([folder.token, folderZero.token].sort());
    expect(tokensOf('/shelf/a.txt').sort()).toEqual([folder.token, own.token].sort());
    expect(tokensOf('/shelf/b.txt')).toEqual([folder.token]);
    expect(tokensOf('/shelf/inner/')).toEqual([folder.token]);
  });
});
