import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDavServer, type RunningDavServer } from '../../src/dav/server.js';
import { MemoryDrive } from '../../src/drive/index.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { dav } from '../helpers/stack.js';

/**
 * The WebDAV layer acts on what a drive declares (RemoteDrive.capabilities), not on which drive it
 * is: two in-memory drives, one case-sensitive without quota, one case-insensitive with it.
 */
describe('dav acts on drive capabilities', () => {
  let server: RunningDavServer;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'onedav-caps-'));
    server = await startDavServer({
      port: 0,
      dataDir,
      anonymous: { enabled: true, readOnly: false },
      download: { mode: 'redirect' },
      mounts: [
        { prefix: '/exact', drive: new MemoryDrive({ quota: false }) },
        { prefix: '/folded', drive: new MemoryDrive({ caseInsensitive: true }) },
      ],
    });
  });
  afterAll(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('streams a file from a drive without download URLs even in redirect mode', async () => {
    expect((await dav(server, 'PUT', '/exact/f.txt', { body: 'bytes' })).status).toBe(201);
    const res = await dav(server, 'GET', '/exact/f.txt');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('bytes');
    const part = await dav(server, 'GET', '/exact/f.txt', { headers: { Range: 'bytes=1-2' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 1-2/5');
    expect(await part.text()).toBe('yt');
  });

  it('offers RFC 4331 quota properties only where the drive has a quota', async () => {
    const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/></D:prop></D:propfind>';
    const without = await (await dav(server, 'PROPFIND', '/exact/', { headers: { Depth: '0' }, body })).text();
    expect(without).toMatch(/<D:quota-available-bytes\/><\/D:prop><D:status>HTTP\/1.1 404/);
    const withQuota = await (await dav(server, 'PROPFIND', '/folded/', { headers: { Depth: '0' }, body })).text();
    expect(withQuota).toMatch(/<D:quota-available-bytes>\d+<\/D:quota-available-bytes>/);
  });

  it('keeps names that differ only in case apart on a case-sensitive drive', async () => {
    expect((await dav(server, 'PUT', '/exact/a.txt', { body: 'lower' })).status).toBe(201);
    expect((await dav(server, 'PUT', '/exact/A.txt', { body: 'upper' })).status).toBe(201);
    expect(await (await dav(server, 'GET', '/exact/a.txt')).text()).toBe('lower');
    expect(await (await dav(server, 'GET', '/exact/A.txt')).text()).toBe('upper');
    // Not a rename by case of one file: a distinct destination that exists.
    const refused = await dav(server, 'MOVE', '/exact/a.txt', { headers: { Destination: `${server.url}/exact/A.txt`, Overwrite: 'F' } });
    expect(refused.status).toBe(412);
    const replaced = await dav(server, 'MOVE', '/exact/a.txt', { headers: { Destination: `${server.url}/exact/A.txt`, Overwrite: 'T' } });
    expect(replaced.status).toBe(204);
    expect(await (await dav(server, 'GET', '/exact/A.txt')).text()).toBe('lower');
    expect((await dav(server, 'GET', '/exact/a.txt')).status).toBe(404);
  });

  it('renames by case on a case-insensitive drive', async () => {
    expect((await dav(server, 'PUT', '/folded/b.txt', { body: 'bee' })).status).toBe(201);
    const move = await dav(server, 'MOVE', '/folded/b.txt', { headers: { Destination: `${server.url}/folded/B.txt`, Overwrite: 'F' } });
    expect(move.status).toBe(201);
    const listing = await (await dav(server, 'PROPFIND', '/folded/', { headers: { Depth: '1' } })).text();
    expect(listing).toContain('/folded/B.txt');
    expect(listing).not.toContain('/folded/b.txt');
  });
});

describe('download mode on a drive without download URLs', () => {
  it('refuses to start when the mount itself asks for redirect, naming the mount', async () => {
    const started = startDavServer({ port: 0, anonymous: { enabled: true }, mounts: [{ prefix: '/mem', drive: new MemoryDrive(), download: { mode: 'redirect' } }] });
    await expect(started).rejects.toThrow(/mount \/mem: download\.mode "redirect" needs a drive with download URLs/);
  });

  it('warns when the mode comes from the server, and streams the bytes', async () => {
    const log = recordingLogger('json', 'info');
    const server = await startDavServer({ port: 0, anonymous: { enabled: true, readOnly: false }, download: { mode: 'redirect' }, logger: log, mounts: [{ prefix: '/', drive: new MemoryDrive() }] });
    try {
      expect(log.records().filter((r) => r.level === 'warn').map((r) => ({ msg: r.msg, mount: r.mount }))).toEqual([
        { msg: expect.stringContaining('has no download URLs: its files are streamed through onedav despite download.mode "redirect"'), mount: '/' },
      ]);
      expect((await dav(server, 'PUT', '/f.txt', { body: 'bytes' })).status).toBe(201);
      const res = await dav(server, 'GET', '/f.txt');
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('bytes');
    } finally {
      await server.close();
    }
  });
});
