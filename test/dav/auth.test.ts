import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { basic, dav, startDavStack, type DavStack } from '../helpers/stack.js';

const FAST = { N: 1 << 10, r: 8, p: 1 };
// Chosen so that its Basic credentials contain '+' in base64 (webdav-server v2 refused those).
const CAROL_PASSWORD = 'ü>?~:x';

/** A raw request, so that `..` and encoded characters reach the server exactly as written. */
function raw(stack: DavStack, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(stack.url);
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Basic authentication and confinement', () => {
  let stack: DavStack;
  const alice = basic('alice', 'alice-secret');
  const bob = basic('bob', 'bob-secret');
  const carol = basic('carol', CAROL_PASSWORD);

  beforeAll(async () => {
    const users = [
      { name: 'alice', password: await hashPassword('alice-secret', FAST), root: '/home/alice' },
      { name: 'bob', password: await hashPassword('bob-secret', FAST), readOnly: true },
      { name: 'carol', password: await hashPassword(CAROL_PASSWORD, FAST) },
    ];
    stack = await startDavStack({ dav: { users, anonymous: { enabled: false }, realm: 'Test "realm"' } });
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, 'home/alice/mine.txt', 'alice data');
    await stack.emulator.drive.putFile(drive, 'home/secret.txt', 'not for alice');
    await stack.emulator.drive.putFile(drive, 'public.txt', 'public');
  });
  afterAll(() => stack.close());

  it('asks for credentials with a Basic challenge carrying the UTF-8 charset', async () => {
    const res = await dav(stack, 'PROPFIND', '/', { headers: { Depth: '0' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="Test realm", charset="UTF-8"');
  });

  it('refuses a wrong password, an unknown user and malformed credentials with 401', async () => {
    for (const authorization of [basic('alice', 'wrong'), basic('mallory', 'alice-secret'), 'Basic !!!', 'Bearer abc', 'Basic ' + Buffer.from('nocolon').toString('base64')]) {
      const res = await dav(stack, 'GET', '/public.txt', { headers: { Authorization: authorization } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    }
  });

  it('accepts credentials whose base64 has + and /, and non-ASCII passwords', async () => {
    expect(carol.slice(6)).toMatch(/[+/]/);
    const res = await dav(stack, 'GET', '/public.txt', { headers: { Authorization: carol } });
    expect(res.status).toBe(200);
  });

  it('lets a read-only user read but not write', async () => {
    expect((await dav(stack, 'GET', '/public.txt', { headers: { Authorization: bob } })).status).toBe(200);
    for (const [method, extra] of [
      ['PUT', {}],
      ['DELETE', {}],
      ['MKCOL', {}],
      ['PROPPATCH', {}],
      ['LOCK', {}],
      ['MOVE', { Destination: '/moved.txt' }],
      ['COPY', { Destination: '/copied.txt' }],
    ] as const) {
      const res = await dav(stack, method, method === 'MKCOL' ? '/newdir' : '/public.txt', { headers: { Authorization: bob, ...extra }, body: method === 'PUT' ? 'x' : undefined });
      expect(res.status, method).toBe(403);
    }
    expect(await (await dav(stack, 'GET', '/public.txt', { headers: { Authorization: bob } })).text()).toBe('public');
  });

  it('shows a user only its root folder', async () => {
    const listing = parseMultistatus(await (await dav(stack, 'PROPFIND', '/', { headers: { Authorization: alice, Depth: '1' } })).text());
    expect(listing.map((r) => r.href)).toEqual(['/', '/mine.txt']);
    expect(await (await dav(stack, 'GET', '/mine.txt', { headers: { Authorization: alice } })).text()).toBe('alice data');
    expect((await dav(stack, 'PUT', '/new.txt', { headers: { Authorization: alice }, body: 'new' })).status).toBe(201);
    expect(stack.emulator.drive.stat(stack.driveIds[0], 'home/alice/new.txt')).toBeDefined();
  });

  it.each([
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/.%2e/secret.txt',
    '/x/..%2f..%2fsecret.txt',
    '/..%2fsecret.txt',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    '/mine.txt%00',
    '/mine.txt#frag',
  ])('never lets a user out of its root: GET %s → 400', async (path) => {
    const res = await raw(stack, 'GET', path, { Authorization: alice });
    expect(res.status).toBe(400);
    expect(res.body).not.toContain('not for alice');
  });

  it('confines Destination headers too', async () => {
    for (const destination of [`${stack.url}/../secret-copy.txt`, '/%2e%2e/secret-copy.txt', '/a%2f..%2f..%2fx']) {
      const res = await dav(stack, 'COPY', '/mine.txt', { headers: { Authorization: alice, Destination: destination } });
      expect(res.status).toBe(400);
    }
    expect(stack.emulator.drive.stat(stack.driveIds[0], 'home/secret-copy.txt')).toBeUndefined();
  });

  it('refuses a Destination on another server with 502', async () => {
    const res = await dav(stack, 'COPY', '/mine.txt', { headers: { Authorization: alice, Destination: 'http://elsewhere.example/x.txt' } });
    expect(res.status).toBe(502);
  });

  it('takes a Destination that spells out the default port the proxy dropped from Host', async () => {
    // What a client sees behind a TLS proxy: it writes https://host:443/…, the proxy forwards Host: host.
    const { request } = await import('undici');
    const res = await request(`${stack.url}/mine.txt`, {
      method: 'COPY',
      headers: { host: 'dav.example.com', authorization: alice, destination: 'https://dav.example.com:443/mine%20copy.txt' },
    });
    await res.body.dump();
    expect(res.statusCode).toBe(201);
    expect(stack.emulator.drive.stat(stack.driveIds[0], 'home/alice/mine copy.txt')).toBeDefined();
  });
});

describe('anonymous access', () => {
  let stack: DavStack;

  beforeAll(async () => {
    const users = [{ name: 'dave', password: await hashPassword('dave-secret', FAST) }];
    stack = await startDavStack({ dav: { users, anonymous: { enabled: true, readOnly: true } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'open.txt', 'open');
  });
  afterAll(() => stack.close());

  it('reads without credentials, and asks for them on a write', async () => {
    expect(await (await dav(stack, 'GET', '/open.txt')).text()).toBe('open');
    const put = await dav(stack, 'PUT', '/open.txt', { body: 'changed' });
    expect(put.status).toBe(401);
    expect(put.headers.get('www-authenticate')).toMatch(/^Basic realm="onedav"/);
    const authed = await dav(stack, 'PUT', '/open.txt', { body: 'changed', headers: { Authorization: basic('dave', 'dave-secret') } });
    expect(authed.status).toBe(204);
  });

  it('still refuses wrong credentials instead of falling back to anonymous', async () => {
    expect((await dav(stack, 'GET', '/open.txt', { headers: { Authorization: basic('dave', 'nope') } })).status).toBe(401);
  });
});
