import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { basic, dav, startDavStack, type DavStack } from '../helpers/stack.js';

const X = 'http://example.com/ns/';
const FAST = { N: 1024, r: 8, p: 1 };
const patch = (ops: string) => `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="${X}">${ops}</D:propertyupdate>`;
const set = (props: Record<string, string>) => patch(`<D:set><D:prop>${Object.entries(props).map(([k, v]) => `<X:${k}>${v}</X:${k}>`).join('')}</D:prop></D:set>`);
const remove = (...names: string[]) => patch(`<D:remove><D:prop>${names.map((n) => `<X:${n}/>`).join('')}</D:prop></D:remove>`);

/** The dead-property store is bounded per resource and per user (config `deadProperties`); beyond, 507. */
describe('dead-property limits', () => {
  let stack: DavStack;
  let drive: string;
  const alice = { Authorization: basic('alice', 'alice-secret') };
  const bob = { Authorization: basic('bob', 'bob-secret') };

  beforeAll(async () => {
    stack = await startDavStack({
      dav: {
        anonymous: { enabled: false },
        users: [
          { name: 'alice', password: await hashPassword('alice-secret', FAST) },
          { name: 'bob', password: await hashPassword('bob-secret', FAST) },
        ],
        deadProperties: { maxPerResource: 3, maxBytesPerResource: 400, maxPerUser: 5, maxBytesPerUser: 1000 },
      },
    });
    drive = stack.driveIds[0];
    for (const name of ['r1.txt', 'r2.txt', 'r3.txt', 'big.txt', 'u1.txt', 'u2.txt', 'u3.txt', 'c.txt']) await stack.emulator.drive.putFile(drive, name, name);
  });
  afterAll(() => stack.close());

  async function proppatch(path: string, body: string, headers = alice) {
    const res = await dav(stack, 'PROPPATCH', path, { headers, body });
    expect(res.status).toBe(207);
    const text = await res.text();
    return { status: parseMultistatus(text)[0].status, text };
  }

  async function stored(path: string, headers = alice): Promise<string[]> {
    const res = await dav(stack, 'PROPFIND', path, { headers: { ...headers, Depth: '0' } });
    return Object.keys(parseMultistatus(await res.text())[0].props).filter((k) => k.startsWith(`{${X}}`)).sort();
  }

  it('refuses a fourth property on one resource with 507, stores none of that PROPPATCH, and allows shrinking', async () => {
    expect((await proppatch('/r1.txt', set({ a: '1', b: '2', c: '3' }))).status).toEqual({ [`{${X}}a`]: 200, [`{${X}}b`]: 200, [`{${X}}c`]: 200 });
    const refused = await proppatch('/r1.txt', patch(`<D:remove><D:prop><X:a/></D:prop></D:remove><D:set><D:prop><X:d>4</X:d><X:e>5</X:e></D:prop></D:set>`));
    expect(refused.status).toEqual({ [`{${X}}a`]: 424, [`{${X}}d`]: 507, [`{${X}}e`]: 507 });
    expect(refused.text).toContain('at most 3 dead properties');
    expect(await stored('/r1.txt')).toEqual([`{${X}}a`, `{${X}}b`, `{${X}}c`]);
    // Replacing one (same count) and removing are fine.
    expect((await proppatch('/r1.txt', patch(`<D:remove><D:prop><X:a/></D:prop></D:remove><D:set><D:prop><X:d>4</X:d></D:prop></D:set>`))).status).toEqual({ [`{${X}}a`]: 200, [`{${X}}d`]: 200 });
    expect((await proppatch('/r1.txt', remove('b', 'c', 'd'))).status).toEqual({ [`{${X}}b`]: 200, [`{${X}}c`]: 200, [`{${X}}d`]: 200 });
  });

  it("refuses a resource's properties beyond its byte limit", async () => {
    const refused = await proppatch('/big.txt', set({ huge: 'x'.repeat(500) }));
    expect(refused.status).toEqual({ [`{${X}}huge`]: 507 });
    expect(refused.text).toContain('at most 400 bytes');
    expect(await stored('/big.txt')).toEqual([]);
  });

  it("counts a user's properties over all resources; another user has a budget of their own", async () => {
    await proppatch('/u1.txt', set({ a: '1', b: '2', c: '3' }));
    await proppatch('/u2.txt', set({ a: '1', b: '2' }));
    const refused = await proppatch('/u3.txt', set({ a: '1' }));
    expect(refused.status).toEqual({ [`{${X}}a`]: 507 });
    expect(refused.text).toContain('at most 5 dead properties');
    expect((await proppatch('/u3.txt', set({ a: '1' }), bob)).status).toEqual({ [`{${X}}a`]: 200 });
    // Freeing some makes room again.
    await proppatch('/u2.txt', remove('b'));
    expect((await proppatch('/r2.txt', set({ z: '1' }))).status).toEqual({ [`{${X}}z`]: 200 });
  });

  it("refuses a COPY whose properties would overflow the user's budget, before copying anything", async () => {
    // Alice is at 5 of 5, also after a restart; u1.txt carries 3 of them.
    await stack.restartDav();
    const res = await dav(stack, 'COPY', '/u1.txt', { headers: { ...alice, Destination: '/u1-copy.txt' } });
    expect(res.status).toBe(507);
    expect(await res.text()).toContain('dead properties');
    expect(stack.emulator.drive.stat(drive, 'u1-copy.txt')).toBeUndefined();
    // Bob has room for them: the copy is his.
    expect((await dav(stack, 'COPY', '/u1.txt', { headers: { ...bob, Destination: '/u1-bob.txt' } })).status).toBe(201);
    expect(await stored('/u1-bob.txt', bob)).toEqual([`{${X}}a`, `{${X}}b`, `{${X}}c`]);
  });
});
