import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDavStack, type DavStack } from '../helpers/stack.js';

/** Sends exactly what is written (no client-side normalisation of paths or headers). */
function raw(stack: DavStack, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(stack.url);
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('bad input gets a 4xx, never a 5xx, and never takes the server down', () => {
  let stack: DavStack;

  beforeAll(async () => {
    stack = await startDavStack();
    await stack.emulator.drive.putFile(stack.driveIds[0], 'f.txt', 'x');
  });
  afterAll(() => stack.close());

  it.each<[string, string, Record<string, string>, string | undefined, number]>([
    ['GET', '/%zz', {}, undefined, 400],
    ['GET', '/%ff%fe', {}, undefined, 400],
    ['PROPFIND', '/', { Depth: 'banana' }, undefined, 400],
    ['PROPFIND', '/', { Depth: '0' }, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', 400],
    ['PROPFIND', '/', { Depth: '0' }, '\u00ff\u00fe not utf8', 400],
    ['PROPPATCH', '/f.txt', {}, '<D:propertyupdate xmlns:D="DAV:"><D:set/></D:propertyupdate>', 400],
    ['LOCK', '/f.txt', {}, '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:bogus/></D:lockscope></D:lockinfo>', 400],
    ['LOCK', '/f.txt', { Depth: '1' }, '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>', 400],
    ['UNLOCK', '/f.txt', { 'Lock-Token': 'no-brackets' }, undefined, 400],
    ['PUT', '/f.txt', { If: '(<unterminated' }, 'x', 400],
    ['PUT', '/f.txt', { 'X-OC-Mtime': 'yesterday' }, 'x', 400],
    ['COPY', '/f.txt', { Destination: '::::' }, undefined, 400],
    ['COPY', '/f.txt', { Destination: '/g.txt', Overwrite: 'maybe' }, undefined, 400],
    ['MOVE', '/f.txt', { Destination: '/%zz' }, undefined, 400],
    ['GET', '/f.txt', { Range: 'bytes=oops' }, undefined, 200],
    ['MERGE', '/f.txt', {}, undefined, 501],
    ['POST', '/f.txt', {}, 'x', 405],
  ])('%s %s %j (body %j) → %i', async (method, path, headers, body, status) => {
    expect(await raw(stack, method, path, headers, body)).toBe(status);
  });

  it('refuses bodies over 1 MiB for XML methods with 413', async () => {
    expect(await raw(stack, 'PROPFIND', '/', { Depth: '0', 'Content-Length': String(50 * 1024 * 1024) }, '')).toBe(413);
  });

  it('is still serving after all of that', async () => {
    expect(await raw(stack, 'GET', '/f.txt')).toBe(200);
  });
});
