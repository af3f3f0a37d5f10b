import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveUrl, sourceCli, type Printed } from '../helpers/cli.js';

/**
 * `onedav serve` with no config, as `npm start` runs it: the emulator and a WebDAV server on
 * loopback, with a demo drive a newcomer can browse and write to at once.
 */
describe('onedav serve without a config', () => {
  let child: ChildProcess;
  let url: string;
  const printed: Printed = { text: '' };

  beforeAll(async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'onedav-serve-'));
    child = spawn(process.execPath, sourceCli('serve', '--port', '0'), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await serveUrl(child, printed, 20_000);
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('prints where the emulator and the WebDAV server listen', () => {
    expect(printed.text).toMatch(/Graph emulator on http:\/\/127\.0\.0\.1:\d+/);
  });

  it('serves the seeded demo drive and takes a write', async () => {
    const listing = await fetch(`${url}/`, { method: 'PROPFIND', headers: { Depth: '1' } });
    expect(listing.status).toBe(207);
    const xml = await listing.text();
    expect(xml).toContain('Welcome%20to%20onedav.txt');
    expect(xml).toContain('/Documents/');

    const put = await fetch(`${url}/hello.txt`, { method: 'PUT', body: 'hello from the test' });
    expect(put.status).toBe(201);
    const get = await fetch(`${url}/hello.txt`);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('hello from the test');
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
