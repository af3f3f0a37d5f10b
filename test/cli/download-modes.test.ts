import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveUrl, sourceCli, type Printed } from '../helpers/cli.js';

/**
 * `mounts[].download.mode` from a config file through `onedav serve`: the demo drive mounted twice,
 * at `/` with the server-wide `redirect` and at `/media` with its own `proxy`.
 */
describe('onedav serve with a download mode per mount', () => {
  let child: ChildProcess;
  let dir: string;
  let url: string;
  const printed: Printed = { text: '' };
  const FILE = 'Welcome%20to%20onedav.txt';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onedav-download-modes-'));
    const config = {
      server: { port: 0 },
      dataDir: join(dir, 'data'),
      emulator: { enabled: true, port: 0, dataDir: join(dir, 'emulator') },
      anonymous: { enabled: true },
      download: { mode: 'redirect' },
      mounts: [
        { path: '/', account: 'emulator' },
        { path: '/media', account: 'emulator', download: { mode: 'proxy' } },
      ],
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    child = spawn(process.execPath, sourceCli('serve', '--config', join(dir, 'config.json')), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await serveUrl(child, printed, 20_000);
  });

  afterAll(async () => {
    if (child?.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('redirects on the mount that inherits redirect and streams on the one that sets proxy', async () => {
    const redirected = await fetch(`${url}/${FILE}`, { redirect: 'manual' });
    expect(redirected.status).toBe(302);
    await redirected.body?.cancel();
    const followed = await fetch(`${url}/${FILE}`);
    expect(followed.redirected).toBe(true);
    const bytes = await followed.text();
    expect(bytes.length).toBeGreaterThan(0);

    const proxied = await fetch(`${url}/media/${FILE}`, { redirect: 'manual' });
    expect(proxied.status).toBe(200);
    expect(await proxied.text()).toBe(bytes);
  });
});
