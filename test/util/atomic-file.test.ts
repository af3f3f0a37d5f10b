import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/util/atomic-file.js';

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
