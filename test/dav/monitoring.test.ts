import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { basic, dav, startDavStack, type DavStack } from '../helpers/stack.js';

const endpoints = {
  healthz: async () => ({ status: 200, contentType: 'application/json; charset=utf-8', body: '{"status":"ok"}\n' }),
  metrics: async () => ({ status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'up 1\n' }),
};

describe('monitoring endpoints in the WebDAV server', () => {
  describe('with server.monitoring "users"', () => {
    let stack: DavStack;
    beforeAll(async () => {
      const users = [{ name: 'ops', password: await hashPassword('ops-pw', { N: 1 << 12, r: 8, p: 1 }) }];
      stack = await startDavStack({ dav: { users, anonymous: { enabled: true, readOnly: true }, monitoring: { access: 'users', endpoints }, loginThrottle: { failures: 3 } } });
    });
    afterAll(() => stack.close());

    it('asks for a configured user even when anonymous WebDAV access is on', async () => {
      const anonymous = await dav(stack, 'GET', '/.well-known/onedav/metrics');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="onedav"/);
      expect((await dav(stack, 'GET', '/.well-known/onedav/healthz', { headers: { Authorization: basic('ops', 'nope') } })).status).toBe(401);
      const ok = await dav(stack, 'GET', '/.well-known/onedav/metrics', { headers: { Authorization: basic('ops', 'ops-pw') } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('up 1\n');
      expect(ok.headers.get('cache-control')).toBe('no-store');
      const head = await dav(stack, 'HEAD', '/.well-known/onedav/healthz', { headers: { Authorization: basic('ops', 'ops-pw') } });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      // Anonymous WebDAV itself still works.
      expect((await dav(stack, 'PROPFIND', '/', { headers: { Depth: '0' } })).status).toBe(207);
    });

    it('counts wrong passwords here like anywhere else: guessing is cut off with 429', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await dav(stack, 'GET', '/.well-known/onedav/metrics', { headers: { Authorization: basic('ops', `guess ${i}`) } })).status);
      expect(statuses.slice(0, 2)).toEqual([401, 401]); // one failure was spent in the test above
      expect(statuses.slice(2)).toEqual([429, 429]);
      const refused = await dav(stack, 'GET', '/.well-known/onedav/healthz', { headers: { Authorization: basic('ops', 'ops-pw') } });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });

  describe('without monitoring (server.monitoring "off")', () => {
    let stack: DavStack;
    beforeAll(async () => {
      stack = await startDavStack({});
      await stack.emulator.drive.putFile(stack.driveIds[0], '/.well-known/onedav/metrics', 'just a file');
    });
    afterAll(() => stack.close());

    it('leaves the prefix to the drive', async () => {
      const res = await dav(stack, 'GET', '/.well-known/onedav/metrics', { redirect: 'follow' });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('just a file');
    });
  });
});
