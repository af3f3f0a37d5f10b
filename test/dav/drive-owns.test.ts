import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDavServer } from '../../src/dav/server.js';
import { MemoryDrive } from '../../src/drive/index.js';
import { rawHttp } from '../helpers/raw-http.js';
import { dav, startDavStack } from '../helpers/stack.js';

/**
 * What the drive owns, seen through WebDAV on both kinds of drive: whether a parent folder exists
 * (RemoteDrive.write/mkdir/copy/move raise parentMissing → 409, before a body is read and before
 * anything changes), and how names compare (locks and dead properties follow the drive's folding).
 */
interface Served {
  url: string;
  port: number;
  caseInsensitive: boolean;
  close(): Promise<void>;
}

async function memoryServer(): Promise<Served> {
  const dataDir = await mkdtemp(join(tmpdir(), 'onedav-owns-'));
  const server = await startDavServer({ port: 0, dataDir, anonymous: { enabled: true, readOnly: false }, mounts: [{ prefix: '/', drive: new MemoryDrive() }] });
  return {
    url: server.url,
    port: Number(new URL(server.url).port),
    caseInsensitive: false,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function graphServer(): Promise<Served> {
  const stack = await startDavStack();
  return { url: stack.url, port: Number(new URL(stack.url).port), caseInsensitive: true, close: () => stack.close() };
}

const lockBody = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';
const setProp = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:color xmlns:x="urn:x">blue</x:color></D:prop></D:set></D:propertyupdate>';
const getProp = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><x:color xmlns:x="urn:x"/></D:prop></D:propfind>';

describe.each([
  ['MemoryDrive (case-sensitive)', memoryServer],
  ['GraphDrive on the emulator (case-insensitive)', graphServer],
])('%s', (_name, start) => {
  let s: Served;
  beforeAll(async () => {
    s = await start();
  });
  afterAll(() => s.close());

  it('refuses a PUT into a missing folder with 409 before reading its body (never-ending, huge, or waiting for 100 Continue)', async () => {
    // Chunked and never finished: only an answer given before the body ends can arrive.
    const chunked = await rawHttp(s.port, `PUT /nowhere/a.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n${'x'.repeat(0x10000)}\r\n`, { untilHead: true });
    expect(chunked.status).toBe(409);
    // 100 GB announced, 64 KiB sent.
    const huge = await rawHttp(s.port, `PUT /nowhere/b.bin HTTP/1.1\r\nHost: x\r\nContent-Length: ${100 * 1024 ** 3}\r\n\r\n${'x'.repeat(0x10000)}`, { untilHead: true });
    expect(huge.status).toBe(409);
    // A client that waits for 100 Continue is refused without being asked for the body.
    const waiting = await rawHttp(s.port, `PUT /nowhere/c.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n`, { untilHead: true });
    expect(waiting.status).toBe(409);
    expect(waiting.text).not.toMatch(/^HTTP\/1\.1 100/);
    // The parent being a file is a missing parent too.
    expect((await dav(s, 'PUT', '/plain.txt', { body: 'p' })).status).toBe(201);
    expect((await dav(s, 'PUT', '/plain.txt/child.txt', { body: 'c' })).status).toBe(409);
    expect((await dav(s, 'MKCOL', '/nowhere/sub/')).status).toBe(409);
  });

  it('answers 409 to a LOCK under a missing folder and leaves no lock behind', async () => {
    expect((await dav(s, 'LOCK', '/later/new.txt', { headers: { Timeout: 'Second-600' }, body: lockBody })).status).toBe(409);
    expect((await dav(s, 'MKCOL', '/later/')).status).toBe(201);
    // Nothing there is locked: a write without a token goes through.
    expect((await dav(s, 'PUT', '/later/new.txt', { body: 'mine' })).status).toBe(201);
  });

  it('answers 409 to COPY and MOVE into a missing folder and changes nothing', async () => {
    expect((await dav(s, 'PUT', '/source.txt', { body: 'keep me' })).status).toBe(201);
    for (const method of ['COPY', 'MOVE']) {
      expect((await dav(s, method, '/source.txt', { headers: { Destination: `${s.url}/absent/source.txt` } })).status).toBe(409);
    }
    expect(await (await dav(s, 'GET', '/source.txt')).text()).toBe('keep me');
    expect((await dav(s, 'PROPFIND', '/absent/', { headers: { Depth: '0' } })).status).toBe(404);
  });

  it('keys locks and dead properties as the drive compares names', async () => {
    expect((await dav(s, 'PUT', '/case.txt', { body: 'lower' })).status).toBe(201);
    const lock = await dav(s, 'LOCK', '/case.txt', { headers: { Timeout: 'Second-600' }, body: lockBody });
    expect(lock.status).toBe(200);
    // The same file on a case-insensitive drive (locked: 423); another file on a case-sensitive one.
    expect((await dav(s, 'PUT', '/CASE.txt', { body: 'upper' })).status).toBe(s.caseInsensitive ? 423 : 201);
    expect((await dav(s, 'LOCK', '/CASE.txt', { headers: { Timeout: 'Second-600' }, body: lockBody })).status).toBe(s.caseInsensitive ? 423 : 200);

    expect((await dav(s, 'PUT', '/Props.txt', { body: 'p' })).status).toBe(201);
    expect((await dav(s, 'PUT', '/props.txt', { body: 'p' })).status).toBe(s.caseInsensitive ? 204 : 201);
    expect((await dav(s, 'PROPPATCH', '/Props.txt', { body: setProp })).status).toBe(207);
    const seen = await (await dav(s, 'PROPFIND', '/props.txt', { headers: { Depth: '0' }, body: getProp })).text();
    if (s.caseInsensitive) expect(seen).toMatch(/<(\w+):color xmlns:\1="urn:x">blue<\/\1:color>/);
    else expect(seen).not.toMatch(/blue/);
  });
});

describe('between two mounts', () => {
  it('answers 409 to COPY and MOVE into a missing folder of another drive and changes nothing', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'onedav-owns-'));
    const server = await startDavServer({
      port: 0,
      dataDir,
      anonymous: { enabled: true, readOnly: false },
      mounts: [
        { prefix: '/one', drive: new MemoryDrive() },
        { prefix: '/two', drive: new MemoryDrive() },
      ],
    });
    try {
      expect((await dav(server, 'PUT', '/one/a.txt', { body: 'stays' })).status).toBe(201);
      for (const method of ['COPY', 'MOVE']) {
        expect((await dav(server, method, '/one/a.txt', { headers: { Destination: `${server.url}/two/absent/a.txt` } })).status).toBe(409);
      }
      expect(await (await dav(server, 'GET', '/one/a.txt')).text()).toBe('stays');
      expect((await dav(server, 'PROPFIND', '/two/absent/', { headers: { Depth: '0' } })).status).toBe(404);
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('quota: one cache, the drive’s', () => {
  const quotaBody = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>';

  it('answers repeated quota PROPFINDs (Windows asks on every folder it opens) with one Graph call per TTL, and asks again after a write', async () => {
    const stack = await startDavStack();
    try {
      const drive = stack.driveIds[0];
      for (let i = 0; i < 5; i++) await stack.emulator.drive.putFile(drive, `q/f${i}.txt`, `file ${i}`);
      // GraphDrive asks for the quota with GET /me/drive?$select=id,quota.
      const quotaCalls = () => stack.emulator.counters.snapshot().byRoute['graph: GET /me/drive'] ?? 0;
      stack.resetCounters();
      for (let i = 0; i < 3; i++) {
        const res = await dav(stack, 'PROPFIND', '/q/', { headers: { Depth: '1' }, body: quotaBody });
        expect(res.status).toBe(207);
        expect((await res.text()).match(/<D:quota-used-bytes>\d+<\/D:quota-used-bytes>/g)).toHaveLength(6);
      }
      // Six resources per PROPFIND, three PROPFINDs: one Graph call.
      expect(quotaCalls()).toBe(1);
      // Our own write changed the use: the next answer asks Graph again.
      expect((await dav(stack, 'PUT', '/q/more.txt', { body: 'more bytes' })).status).toBe(201);
      await dav(stack, 'PROPFIND', '/q/', { headers: { Depth: '0' }, body: quotaBody });
      expect(quotaCalls()).toBe(2);
    } finally {
      await stack.close();
    }
  });
});
