import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FilePropertyStore } from '../../src/dav/stores/file-property-store.js';
import { parseTimeout } from '../../src/dav/stores/lock-system.js';
import { FileLockSystem } from '../../src/dav/stores/file-lock-system.js';
import { ManualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';

/** What only the file-backed stores do; what every store does is in store-conformance.ts. */
describe('file-backed stores', () => {
  it('save atomically with mode 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-stores-'));
    const locks = await FileLockSystem.open(join(dir, 'dav', 'locks.json'), new ManualClock(), silentLogger);
    const props = await FilePropertyStore.open(join(dir, 'dav', 'properties.json'), silentLogger);
    await locks.create({ mount: '/', path: '/a', key: '/a', depth: 0, scope: 'exclusive', principal: 'alice', timeoutSeconds: 60 });
    await props.patch({ mount: '/', path: '/a', key: '/a' }, [{ name: '{x:}p', value: '<p xmlns="x:">1</p>' }], { user: 'alice' });
    await Promise.all([locks.close(), props.close()]);
    for (const name of ['locks.json', 'properties.json']) expect((await stat(join(dir, 'dav', name))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, 'dav', 'locks.json'), 'utf8')).locks).toHaveLength(1);
  });

  it('read a properties file of an older onedav, which kept no owners', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-stores-'));
    const file = join(dir, 'properties.json');
    await writeFile(file, JSON.stringify({ version: 1, mounts: { '/': { '/a.txt': { '{urn:x}y': '<y xmlns="urn:x">kept</y>' } } } }));
    const props = await FilePropertyStore.open(file, silentLogger);
    // Its keys were folded (it served OneDrive mounts only): a OneDrive mount's key finds them.
    expect((await props.get({ mount: '/', path: '/A.txt', key: '/a.txt' })).properties).toEqual({ '{urn:x}y': '<y xmlns="urn:x">kept</y>' });
  });

  it('read a locks file of an older onedav, which kept no keys, as OneDrive keys (case folded)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-stores-'));
    const file = join(dir, 'locks.json');
    const clock = new ManualClock(1_000);
    const old = { token: 'opaquelocktoken:1', mount: '/', path: '/Docs/A.txt', depth: 0, scope: 'exclusive', principal: 'alice', timeoutSeconds: 60, expiresAt: 61_000 };
    await writeFile(file, JSON.stringify({ version: 1, locks: [old] }));
    const locks = await FileLockSystem.open(file, clock, silentLogger);
    expect((await locks.covering({ mount: '/', path: '/docs/a.TXT', key: '/docs/a.txt' })).map((l) => l.token)).toEqual(['opaquelocktoken:1']);
  });
});

describe('store helpers', () => {
  it.each([
    [undefined, 3600],
    ['Second-600', 600],
    ['Infinite, Second-4100000000', 86400],
    ['Second-99999999', 86400],
    ['garbage, Second-5', 5],
    ['Second-0', 1],
  ])('parses Timeout %s as %i seconds', (header, seconds) => {
    expect(parseTimeout(header)).toBe(seconds);
  });
});
