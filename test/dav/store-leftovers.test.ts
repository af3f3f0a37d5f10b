import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startOneDav } from '../../src/cli/app.js';
import { parseConfig } from '../../src/config.js';

/** A pid no process has (above Linux's largest pid_max): the writer of these temp files is gone. */
const DEAD_PID = 2_147_483_000;

/**
 * An atomic save interrupted between writing its temp file and renaming it (onedav killed) leaves
 * `<file>.<pid>.<hex>.tmp` beside the store file. Start removes them, as it removes spool files.
 */
describe('temp files of interrupted store saves are removed at start', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('for the lock and property stores and the token store, keeping the stores themselves', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'onedav-leftovers-'));
    dirs.push(dataDir);
    await mkdir(join(dataDir, 'dav'), { recursive: true });
    await mkdir(join(dataDir, 'accounts'), { recursive: true });
    const properties = JSON.stringify({ version: 1, mounts: { '/': { '/a.txt': { '{urn:x}y': '<y xmlns="urn:x">kept</y>' } } } });
    await writeFile(join(dataDir, 'dav', 'properties.json'), properties);
    const leftovers = [
      join('dav', `locks.json.${DEAD_PID}.0123456789ab.tmp`),
      join('dav', `properties.json.${DEAD_PID}.0123456789ab.tmp`),
      join('accounts', `home.json.${DEAD_PID}.0123456789ab.tmp`),
    ];
    for (const name of leftovers) await writeFile(join(dataDir, name), '{"refreshToken":"half-writ');
    const config = parseConfig({ server: { port: 0 }, emulator: { enabled: true }, mounts: [{ path: '/', account: 'emulator' }], anonymous: { enabled: true }, dataDir });
    const app = await startOneDav(config);
    // A save this process has under way (the delta poller's first call may refresh a token) is not a leftover.
    const leftoverOf = (n: string) => n.endsWith('.tmp') && !n.includes(`.${process.pid}.`);
    try {
      expect((await readdir(join(dataDir, 'dav'))).filter(leftoverOf)).toEqual([]);
      expect((await readdir(join(dataDir, 'accounts'))).filter(leftoverOf)).toEqual([]);
      expect(await readFile(join(dataDir, 'dav', 'properties.json'), 'utf8')).toBe(properties);
    } finally {
      await app.close();
    }
  });
});
