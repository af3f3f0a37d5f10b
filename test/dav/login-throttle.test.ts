import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/dav/access/login-throttle.js';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { ManualClock } from '../../src/util/clock.js';
import { rawHttp, rawRequest } from '../helpers/raw-http.js';
import { basic, startDavStack, type DavStack } from '../helpers/stack.js';

const FAST = { N: 1 << 10, r: 8, p: 1 };

describe('LoginThrottle', () => {
  it('blocks an address after the limit until its oldest failure leaves the window', () => {
    const clock = new ManualClock(1_000_000);
    const throttle = new LoginThrottle(clock, { failures: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect(throttle.retryAfterSeconds('10.0.0.1')).toBe(0);
      throttle.recordFailure('10.0.0.1');
      clock.advance(10_000);
    }
    // Failures at 0 s, 10 s, 20 s; now 30 s: free again when the first one is 60 s old.
    expect(throttle.retryAfterSeconds('10.0.0.1')).toBe(30);
    expect(throttle.retryAfterSeconds('10.0.0.2')).toBe(0);
    clock.advance(30_000);
    expect(throttle.retryAfterSeconds('10.0.0.1')).toBe(0);
  });

  it('remembers a bounded number of addresses, forgetting the stalest', () => {
    const throttle = new LoginThrottle(new ManualClock(), { failures: 1, maxClients: 2 });
    for (const address of ['a', 'b', 'c']) throttle.recordFailure(address);
    expect(throttle.retryAfterSeconds('a')).toBe(0);
    expect(throttle.retryAfterSeconds('b')).toBeGreaterThan(0);
    expect(throttle.retryAfterSeconds('c')).toBeGreaterThan(0);
  });
});

describe('failed logins per client address', () => {
  let stack: DavStack;
  const clock = new ManualClock();
  const get = (authorization: string, localAddress = '127.0.0.1') => rawHttp(stack.dav.port, rawRequest('GET', '/f.txt', { Authorization: authorization }), { localAddress });

  beforeAll(async () => {
    const users = [{ name: 'alice', password: await hashPassword('right', FAST) }];
    stack = await startDavStack({ dav: { users, anonymous: { enabled: false }, clock } });
    await stack.emulator.drive.putFile(stack.driveIds[0], 'f.txt', 'x');
  });
  afterAll(() => stack.close());

  it('answers 429 with Retry-After after 10 failures in a minute, even to the right password, and only for that address', async () => {
    for (let i = 0; i < 10; i++) expect((await get(basic('alice', `guess${i}`))).status).toBe(401);
    const blocked = await get(basic('alice', 'wrong again'));
    expect(blocked.status).toBe(429);
    expect(blocked.text).toMatch(/\r\nRetry-After: 60\r\n/i);
    expect(blocked.body).not.toMatch(/alice|wrong again/);
    expect((await get(basic('alice', 'right'))).status).toBe(429);
    // Another client address (all of 127/8 is loopback) is not affected.
    expect((await get(basic('alice', 'right'), '127.0.0.2')).status).toBe(200);
    // Requests without credentials are not failed logins: they get the usual challenge.
    expect((await rawHttp(stack.dav.port, rawRequest('GET', '/f.txt'))).status).toBe(401);
    clock.advance(61_000);
    expect((await get(basic('alice', 'right'))).status).toBe(200);
  });
});
