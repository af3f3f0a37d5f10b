import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriveMemoryFile, driveMemoryKey } from '../../src/drive/drive-memory.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onedav-drive-memory-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the drive memory file', () => {
  it('keeps each drive apart, survives a reload, and is written with mode 0600', async () => {
    const path = join(dir, 'drives.json');
    const file = await DriveMemoryFile.load(path);
    const alice = file.forDrive(driveMemoryKey({ graphBaseUrl: 'https://graph.microsoft.com/v1.0', tenant: 't', account: 'work', user: { id: 'alice-oid', upn: 'alice@x' } }, { type: 'me' }));
    const bob = file.forDrive(driveMemoryKey({ graphBaseUrl: 'https://graph.microsoft.com/v1.0', tenant: 't', account: 'work', user: { id: 'bob-oid', upn: 'bob@x' } }, { type: 'me' }));
    alice.rememberRootId('ROOT-A');
    await file.flushed();
    expect(bob.rootId).toBeUndefined(); // another person signed in under the same account name
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const again = (await DriveMemoryFile.load(path)).forDrive(driveMemoryKey({ graphBaseUrl: 'https://graph.microsoft.com/v1.0', tenant: 't', account: 'work', user: { id: 'alice-oid', upn: 'alice@x' } }, { type: 'me' }));
    expect(again.rootId).toBe('ROOT-A');
    again.forgetRootId();
  });

  it('holds at most 64 drives, dropping the longest unlearned (the emulator gets a new port, so a new key, each run)', async () => {
    const path = join(dir, 'drives.json');
    const file = await DriveMemoryFile.load(path);
    for (let i = 0; i < 70; i++) file.forDrive(`drive-${i}`).rememberRootId(`root-${i}`);
    file.forDrive('drive-6').rememberRootId('root-6b'); // learned again: now the newest
    await file.flushed();
    const kept = Object.keys((JSON.parse(await readFile(path, 'utf8')) as { drives: Record<string, unknown> }).drives);
    expect(kept).toHaveLength(64);
    expect(kept).not.toContain('drive-0');
    expect(kept.at(-1)).toBe('drive-6');
  });

  it('starts empty from a torn or foreign file instead of failing', async () => {
    const path = join(dir, 'drives.json');
    await writeFile(path, '{"version":1,"drives":{"x":');
    expect((await DriveMemoryFile.load(path)).forDrive('x').rootId).toBeUndefined();
    await writeFile(path, '{"version":2,"drives":{"x":{"rootId":"r"}}}');
    expect((await DriveMemoryFile.load(path)).forDrive('x').rootId).toBeUndefined();
  });
});
