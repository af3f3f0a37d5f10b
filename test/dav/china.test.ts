import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { D, parseMultistatus } from '../helpers/multistatus.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { LEI, dav, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * Every WebDAV method on Lei's drive in 21Vianet (the fabrikam tenant), where Graph drops path
 * addressing (a GET by path answers the root) and has no delta feed. onedav must get every answer
 * right while the emulator's counters show not one path-addressed or delta request.
 */
const BIG = randomBytes(400 * 1024);
const logger = recordingLogger();
let stack: DavStack;
let driveId: string;

beforeAll(async () => {
  stack = await startDavStack({
    mounts: [{ prefix: '/', user: LEI }],
    dav: { download: { mode: 'proxy' } },
    drive: { upload: { simpleMax: 64 * 1024 }, cache: { deltaPollSeconds: 1 }, logger },
  });
  driveId = stack.driveIds[0];
  await stack.emulator.drive.putFile(driveId, 'Docs/a.txt', 'alpha');
  await stack.emulator.drive.putFile(driveId, 'Docs/Sub/deep.txt', 'deep');
});
afterAll(() => stack.close());

beforeEach(() => {
  // Cold: nothing known but what each test learns.
  stack.drives[0].cache.invalidateAll();
  stack.resetCounters();
});

/** No request addressed an item by path, none asked for delta, and Graph refused nothing. */
function expectIdAddressingOnly(): void {
  const snap = stack.emulator.counters.snapshot();
  expect(Object.keys(snap.byRoute).filter((r) => r.includes(':/{path}:') || r.includes('/delta') || r.startsWith('unknown'))).toEqual([]);
  expect(Object.keys(snap.byStatus).filter((s) => /: (400|501)$/.test(s))).toEqual([]);
}

const propfind = (path: string, depth: '0' | '1') => dav(stack, 'PROPFIND', path, { headers: { Depth: depth } });
const destination = (path: string) => ({ Destination: `${stack.url}${path}` });

describe('WebDAV on a 21Vianet (china) drive', () => {
  it('PROPFIND walks from the root by id when cold and costs no Graph call when warm', async () => {
    const cold = await propfind('/Docs/Sub/', '1');
    expect(cold.status).toBe(207);
    expect(parseMultistatus(await cold.text()).map((r) => r.path)).toEqual(['/Docs/Sub/', '/Docs/Sub/deep.txt']);
    expect(stack.graphCalls()).toBeGreaterThan(0);
    expectIdAddressingOnly();

    stack.resetCounters();
    const warm = await propfind('/Docs/Sub/', '1');
    expect(warm.status).toBe(207);
    const file = parseMultistatus(await (await propfind('/Docs/Sub/deep.txt', '0')).text());
    expect(file[0].props[D('getcontentlength')]).toBe('4');
    expect(stack.graphCalls()).toBe(0);
  });

  it('PROPFIND answers 404 for what is not there (the root is not what a path names here)', async () => {
    expect((await propfind('/ObviouslyNotExist/', '1')).status).toBe(404);
    expect((await propfind('/Docs/nothing.txt', '0')).status).toBe(404);
    expect((await propfind('/Docs/a.txt/below', '0')).status).toBe(404);
    expectIdAddressingOnly();
  });

  it('GET serves the bytes in proxy mode and redirect mode', async () => {
    const proxied = await dav(stack, 'GET', '/Docs/a.txt');
    expect(proxied.status).toBe(200);
    expect(await proxied.text()).toBe('alpha');
    expect((await dav(stack, 'GET', '/Docs/none.txt')).status).toBe(404);
    await stack.restartDav({ download: { mode: 'redirect' } });
    try {
      stack.drives[0].cache.invalidateAll();
      const redirect = await dav(stack, 'GET', '/Docs/Sub/deep.txt');
      expect(redirect.status).toBe(302);
      expect(await (await fetch(redirect.headers.get('location')!)).text()).toBe('deep');
    } finally {
      await stack.restartDav();
    }
    expectIdAddressingOnly();
  });

  it('PUT writes small files (simple upload) and large ones (upload session), new and replaced', async () => {
    expect((await dav(stack, 'PUT', '/Docs/Sub/new.txt', { body: 'hello' })).status).toBe(201);
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/Sub/new.txt')).toString()).toBe('hello');
    expect((await dav(stack, 'PUT', '/Docs/Sub/new.txt', { body: 'hello again' })).status).toBe(204);
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/Sub/new.txt')).toString()).toBe('hello again');
    expect((await dav(stack, 'PUT', '/Docs/big.bin', { body: BIG })).status).toBe(201);
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/big.bin')).equals(BIG)).toBe(true);
    expect(Object.keys(stack.emulator.counters.snapshot().byRoute).some((r) => r.includes('createUploadSession'))).toBe(true);
    expect((await dav(stack, 'PUT', '/NoFolder/x.txt', { body: 'x' })).status).toBe(409);
    expect(stack.emulator.drive.stat(driveId, 'NoFolder')).toBeUndefined();
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/a.txt')).toString()).toBe('alpha');
    expectIdAddressingOnly();
  });

  it('MKCOL, MOVE, COPY and DELETE work by id', async () => {
    expect((await dav(stack, 'MKCOL', '/Docs/New/')).status).toBe(201);
    expect((await dav(stack, 'PUT', '/Docs/tmp.txt', { body: 'to move' })).status).toBe(201);
    stack.drives[0].cache.invalidateAll();
    expect((await dav(stack, 'MOVE', '/Docs/tmp.txt', { headers: destination('/Docs/New/moved.txt') })).status).toBe(201);
    stack.drives[0].cache.invalidateAll();
    expect((await dav(stack, 'COPY', '/Docs/a.txt', { headers: destination('/Docs/New/copy.txt') })).status).toBe(201);
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/New/moved.txt')).toString()).toBe('to move');
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/New/copy.txt')).toString()).toBe('alpha');
    expect(stack.emulator.drive.stat(driveId, 'Docs/tmp.txt')).toBeUndefined();
    stack.drives[0].cache.invalidateAll();
    expect((await dav(stack, 'DELETE', '/Docs/New/copy.txt')).status).toBe(204);
    expect((await dav(stack, 'DELETE', '/Docs/New/')).status).toBe(204);
    expect((await dav(stack, 'DELETE', '/Docs/New/')).status).toBe(404);
    expect(stack.emulator.drive.listPaths(driveId).filter((p) => p.startsWith('/Docs/New'))).toEqual([]);
    expect((await stack.emulator.drive.readFile(driveId, 'Docs/a.txt')).toString()).toBe('alpha');
    expectIdAddressingOnly();
  });

  it('PROPPATCH sets the modification time', async () => {
    const body =
      '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getlastmodified>Fri, 05 Jan 2024 08:00:00 GMT</D:getlastmodified></D:prop></D:set></D:propertyupdate>';
    const res = await dav(stack, 'PROPPATCH', '/Docs/Sub/deep.txt', { body });
    expect(res.status).toBe(207);
    expect(Object.values(parseMultistatus(await res.text())[0].status)).toEqual([200]);
    expectIdAddressingOnly();
    expect((await stack.graphItem('/Docs/Sub/deep.txt')).fileSystemInfo?.lastModifiedDateTime).toMatch(/^2024-01-05T08:00:00/);
  });

  it('does not poll delta there: it says why once, and remote changes wait for the TTL', async () => {
    expect(await stack.drives[0].pollChanges()).toBe(0);
    expect(stack.graphCalls()).toBe(0);
    const lines = logger.records().filter((r) => String(r.msg).includes('no delta feed'));
    expect(lines).toHaveLength(1);
    expect(lines[0].msg).toContain('rclone/rclone#6444');
    expectIdAddressingOnly();
  });
});

describe('warm requests on a china drive cost what they cost on a global one', () => {
  let both: DavStack;

  beforeAll(async () => {
    both = await startDavStack({ mounts: [{ prefix: '/cn', user: LEI }, { prefix: '/g' }], dav: { download: { mode: 'proxy' } } });
    for (const id of both.driveIds) await both.emulator.drive.putFile(id, 'Docs/a.txt', 'alpha');
  });
  afterAll(() => both.close());

  /** Graph calls of each request, once the folders involved are known. */
  async function costs(mount: string): Promise<Record<string, number>> {
    const run = async (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) => {
      both.resetCounters();
      const res = await dav(both, method, `${mount}${path}`, init);
      expect(res.status, `${method} ${mount}${path}`).toBeLessThan(300);
      await res.arrayBuffer();
      return both.graphCalls();
    };
    await run('PROPFIND', '/', { headers: { Depth: '1' } });
    await run('PROPFIND', '/Docs/', { headers: { Depth: '1' } });
    const mtime = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getlastmodified>Fri, 05 Jan 2024 08:00:00 GMT</D:getlastmodified></D:prop></D:set></D:propertyupdate>';
    return {
      propfind: await run('PROPFIND', '/Docs/', { headers: { Depth: '1' } }),
      get: await run('GET', '/Docs/a.txt'),
      getAgain: await run('GET', '/Docs/a.txt'),
      put: await run('PUT', '/Docs/w.txt', { body: 'written' }),
      proppatch: await run('PROPPATCH', '/Docs/a.txt', { body: mtime }),
      mkcol: await run('MKCOL', '/Docs/M/'),
      move: await run('MOVE', '/Docs/w.txt', { headers: { Destination: `${both.url}${mount}/Docs/M/w.txt` } }),
      delete: await run('DELETE', '/Docs/M/'),
    };
  }

  it('answers each warm request with the same number of Graph calls, and a warm PROPFIND with none', async () => {
    const global = await costs('/g');
    const china = await costs('/cn');
    expect(china).toEqual(global);
    expect(china.propfind).toBe(0);
    expect(china.getAgain).toBe(0);
  });
});
