import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADELE, MEGAN } from '../helpers/stack.js';
import { basic, createAppPassword, signInWithFetch, startGatewayStack, type GatewayStack } from './helpers.js';

/** Two people at the same URL paths: their files, locks and dead properties never meet. */
let stack: GatewayStack;
const auth: Record<string, string> = {};
beforeAll(async () => {
  stack = await startGatewayStack();
  auth.adele = basic(ADELE, await createAppPassword(stack, await signInWithFetch(stack, ADELE, 'adele-password'), 'laptop'));
  auth.megan = basic(MEGAN, await createAppPassword(stack, await signInWithFetch(stack, MEGAN, 'megan-password'), 'laptop'));
});
afterAll(async () => {
  await stack?.close();
});

const req = (who: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
  fetch(`${stack.url}${path}`, { method, headers: { authorization: auth[who], ...headers }, body });

describe('people sharing one URL space', () => {
  it('each writes and reads their own /same.txt in their own drive', async () => {
    expect((await req('adele', 'PUT', '/same.txt', {}, 'adele wrote this')).status).toBe(201);
    expect((await req('megan', 'PUT', '/same.txt', {}, 'megan wrote this')).status).toBe(201);
    expect(await (await req('adele', 'GET', '/same.txt')).text()).toBe('adele wrote this');
    expect(await (await req('megan', 'GET', '/same.txt')).text()).toBe('megan wrote this');
    const emulator = stack.app.emulator!.drive;
    expect(emulator.stat(emulator.driveIdOf(ADELE), 'same.txt')?.size).toBe('adele wrote this'.length);
  });

  it('a lock one person takes does not lock the other\'s file at the same path', async () => {
    const lock = await req('adele', 'LOCK', '/same.txt', { 'content-type': 'application/xml', timeout: 'Second-600' }, '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>');
    expect(lock.status).toBe(200);
    expect((await req('adele', 'PUT', '/same.txt', {}, 'no token')).status).toBe(423);
    expect((await req('megan', 'PUT', '/same.txt', {}, 'megan again')).status).toBe(204);
    const discovery = await (await req('megan', 'PROPFIND', '/same.txt', { depth: '0', 'content-type': 'application/xml' }, '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>')).text();
    expect(discovery).not.toContain('opaquelocktoken');
  });

  it('dead properties one person sets are not the other\'s', async () => {
    for (const who of ['adele', 'megan']) expect((await req(who, 'PUT', '/props.txt', {}, who)).status).toBe(201);
    const set = await req('adele', 'PROPPATCH', '/props.txt', { 'content-type': 'application/xml' }, '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x"><D:set><D:prop><Z:secret>adele-only</Z:secret></D:prop></D:set></D:propertyupdate>');
    expect(set.status).toBe(207);
    const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';
    expect(await (await req('adele', 'PROPFIND', '/props.txt', { depth: '0', 'content-type': 'application/xml' }, body)).text()).toContain('adele-only');
    expect(await (await req('megan', 'PROPFIND', '/props.txt', { depth: '0', 'content-type': 'application/xml' }, body)).text()).not.toContain('adele-only');
  });
});
