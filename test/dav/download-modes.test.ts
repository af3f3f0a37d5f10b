import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTOSO_TEAM_SITE } from '../helpers/drive-kinds.js';
import { ADELE, MEGAN, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * The download mode per mount (issue 12): each mount redirects or proxies as it is told, and a
 * mount that says nothing uses the server's mode. Adele's drive at `/` redirects, Megan's at
 * `/media` (a drive for players that must be proxied) and the Team site's library at `/team`
 * (no mode of its own) follow the server's `proxy`.
 */
describe('download mode per mount', () => {
  let stack: DavStack;
  const RCLONE = { 'User-Agent': 'rclone/v1.68.0' };
  const get = (path: string, redirect: RequestRedirect) => fetch(`${stack.url}${path}`, { headers: RCLONE, redirect });

  beforeAll(async () => {
    stack = await startDavStack({
      dav: { download: { mode: 'proxy' } },
      mounts: [
        { prefix: '/', user: ADELE, download: { mode: 'redirect' } },
        { prefix: '/media', user: MEGAN },
        { prefix: '/team', user: ADELE, site: CONTOSO_TEAM_SITE },
      ],
    });
    await stack.emulator.drive.putFile(stack.driveIds[0], '/film.bin', 'adele bytes');
    await stack.emulator.drive.putFile(stack.driveIds[1], '/film.bin', 'megan bytes');
    await stack.emulator.drive.putFile(stack.driveIds[2], '/film.bin', 'team bytes');
  });
  afterAll(() => stack?.close());

  it('answers 302 on the redirect mount and the bytes on the proxy mount, to a client that follows redirects', async () => {
    const redirected = await get('/film.bin', 'manual');
    expect(redirected.status).toBe(302);
    expect(redirected.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    await redirected.body?.cancel();
    const followed = await get('/film.bin', 'follow');
    expect(followed.redirected).toBe(true);
    expect(await followed.text()).toBe('adele bytes');

    const proxied = await get('/media/film.bin', 'manual');
    expect(proxied.status).toBe(200);
    expect(await proxied.text()).toBe('megan bytes');
  });

  it("uses the server's mode on a mount that sets none, next to one that sets its own", async () => {
    expect((await get('/film.bin', 'manual')).status).toBe(302);
    const res = await get('/team/film.bin', 'manual');
    expect(res.status).toBe(200);
    expect(res.redirected).toBe(false);
    expect(await res.text()).toBe('team bytes');
  });
});
