import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeAtomicLeftovers, removeAtomicLeftoversOf, writeFileAtomic } from '../../src/util/atomic-file.js';

describe('writeFileAtomic', () => {
  it('replaces the content, leaves no temp file and sets mode 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-atomic-'));
    const file = join(dir, 'sub', 'tokens.json');
    await writeFileAtomic(file, '{"a":1}');
    await writeFileAtomic(file, '{"a":2}');
    expect(await readFile(file, 'utf8')).toBe('{"a":2}');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'sub'))).toEqual(['tokens.json']);
  });

  it('keeps the old file when the target cannot be replaced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-atomic-'));
    const file = join(dir, 'x.json');
    await writeFile(file, 'old');
    // A directory cannot be renamed over by a file: the write fails and the old content stays.
    await expect(writeFileAtomic(dir, 'new')).rejects.toThrow();
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['x.json']);
  });
});

/** A pid no process has (above Linux's largest pid_max). */
const DEAD_PID = 2_147_483_000;

describe('removeAtomicLeftovers', () => {
  it("removes only writeFileAtomic's temp files of the given file whose writer is gone", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-atomic-'));
    const file = join(dir, 'locks.json');
    await writeFile(file, '{"kept":true}');
    const names = {
      crashed: `locks.json.${DEAD_PID}.0123456789ab.tmp`,
      crashedToo: `locks.json.${DEAD_PID + 1}.ba9876543210.tmp`,
      stillWriting: `locks.json.${process.pid}.aaaaaaaaaaaa.tmp`,
      otherFile: `properties.json.${DEAD_PID}.0123456789ab.tmp`,
      notOurs: 'locks.json.tmp',
      notOursEither: `locks.json.${DEAD_PID}.xyz.tmp`,
    };
    for (const name of Object.values(names)) await writeFile(join(dir, name), 'partial');
    expect(await removeAtomicLeftoversOf(file)).toBe(2);
    expect((await readdir(dir)).sort()).toEqual(['locks.json', names.stillWriting, names.otherFile, names.notOurs, names.notOursEither].sort());
    expect(await readFile(file, 'utf8')).toBe('{"kept":true}');
    // A folder of several files (the token store's accounts/): each file's leftovers.
    expect(await removeAtomicLeftovers(dir, (name) => name.endsWith('.json'))).toBe(1);
    expect(await removeAtomicLeftovers(join(dir, 'missing'), () => true)).toBe(0);
  });
});
