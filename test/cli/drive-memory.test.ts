import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { startOneDavChild, type OneDavChild } from '../helpers/onedav-process.js';

/**
 * The root's id outlives the process (issue 16: "moving into the root on a cold cache spends a call
 * on the root's id"): a restarted onedav moves a file into the root without asking Graph for the
 * root, and an id that is no longer right (the drive behind the account changed) costs one retry,
 * never a failed or misplaced move.
 */
describe('what onedav remembers about its drive across restarts', () => {
  let emulator: RunningEmulator;
  let dataDir: string;
  let child: OneDavChild | undefined;
  const memoryFile = () => join(dataDir, 'drives.json');
  const start = async () => (child = await startOneDavChild(emulator, dataDir, { cache: { deltaPollSeconds: 0 } }));
  const restart = async () => {
    await child?.stop();
    return start();
  };
  const send = (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) => fetch(`${child!.url}${path}`, { method, ...init });
  const routes = () => Object.fromEntries(Object.entries(emulator.counters.snapshot().byRoute).filter(([r]) => r.startsWith('graph: ')));
  const rootedIds = async () => Object.values((JSON.parse(await readFile(memoryFile(), 'utf8')) as { drives: Record<string, { rootId?: string }> }).drives).map((d) => d.rootId);

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, admin: true });
    dataDir = await mkdtemp(join(tmpdir(), 'onedav-drive-memory-'));
    await start();
  }, 120_000);

  afterAll(async () => {
    await child?.stop();
    await emulator?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('learns the root id from a folder made in the root, keeps it in <dataDir>/drives.json (0600), and a fresh process moves into the root with no call for it', async () => {
    const rootId = emulator.drive.stat(child!.driveId, '')?.id;
    expect(rootId).toBeTruthy();
    expect((await send('MKCOL', '/kept/')).status).toBe(201);
    expect((await send('PUT', '/kept/a.txt', { body: 'alpha' })).status).toBe(201);
    await restart();
    expect(await rootedIds()).toEqual([rootId]);
    expect((await stat(memoryFile())).mode & 0o777).toBe(0o600);

    emulator.counters.reset();
    const moved = await send('MOVE', '/kept/a.txt', { headers: { destination: `${child!.url}/a.txt` } });
    expect(moved.status).toBe(201);
    // The source looked up, the destination found free, the PATCH: nothing asked about the root.
    expect(routes()).toEqual({ 'graph: GET /me/drive/root:/{path}:': 2, 'graph: PATCH /me/drive/items/{item-id}': 1 });
    expect(emulator.drive.stat(child!.driveId, 'a.txt')?.isFolder).toBe(false);
    expect(emulator.drive.stat(child!.driveId, 'kept/a.txt')).toBeUndefined();
  }, 120_000);

  it('a remembered root id Graph does not know: the move still lands in the root, and the right id is remembered', async () => {
    const rootId = emulator.drive.stat(child!.driveId, '')?.id;
    await child!.stop();
    const text = await readFile(memoryFile(), 'utf8');
    await writeFile(memoryFile(), text.replaceAll(rootId!, 'ZZZZ-NOT-AN-ITEM-ZZZZ'));
    await start();
    await emulator.drive.putFile(child!.driveId, 'kept/b.txt', 'bravo');

    emulator.counters.reset();
    const moved = await send('MOVE', '/kept/b.txt', { headers: { destination: `${child!.url}/b.txt` } });
    expect(moved.status).toBe(201);
    // A business drive takes the PATCH to an unknown parent and renames the file where it is
    // (OneDrive/onedrive-api-docs#1381): its name is given back, the root asked for, the PATCH sent again.
    expect(routes()).toEqual({ 'graph: GET /me/drive/root:/{path}:': 2, 'graph: PATCH /me/drive/items/{item-id}': 3, 'graph: GET /me/drive/root': 1 });
    expect(emulator.drive.listPaths(child!.driveId).filter((p) => p.includes('b.txt'))).toEqual(['/b.txt']);
    expect(await (await fetch(`${child!.url}/b.txt`, { headers: { 'user-agent': 'gvfs/1.50.0' } })).text()).toBe('bravo');
    await restart();
    expect(await rootedIds()).toEqual([rootId]);
  }, 120_000);
});
