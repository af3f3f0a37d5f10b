import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UploadJournal } from '../../src/graph/upload-journal.js';

/** The data folder's record of open upload sessions (what a restart cancels after a crash). */
describe('UploadJournal', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onedav-journal-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps open sessions in a private file and forgets closed ones', async () => {
    const path = join(dir, 'a.json');
    const journal = await UploadJournal.load(path);
    const first = await journal.opened('https://up.example/1?tempauth=secret-1', '2030-01-01T00:00:00Z');
    await journal.opened('https://up.example/2?tempauth=secret-2');
    await journal.closed(first);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(path, 'utf8')) as { sessions: Record<string, { uploadUrl: string }> };
    expect(Object.values(saved.sessions).map((s) => s.uploadUrl)).toEqual(['https://up.example/2?tempauth=secret-2']);
  });

  it('at the next start cancels what was left; what it cannot reach stays for the start after', async () => {
    const path = join(dir, 'b.json');
    const crashed = await UploadJournal.load(path);
    await crashed.opened('https://up.example/reachable');
    await crashed.opened('https://up.example/unreachable');
    const restarted = await UploadJournal.load(path);
    const asked: string[] = [];
    const cancelled = await restarted.cancelLeftovers(async (url) => {
      asked.push(url);
      if (url.endsWith('unreachable')) throw new Error('network down');
      return true;
    });
    expect(cancelled).toBe(1);
    expect(asked.sort()).toEqual(['https://up.example/reachable', 'https://up.example/unreachable']);
    const again = await UploadJournal.load(path);
    const second: string[] = [];
    expect(
      await again.cancelLeftovers(async (url) => {
        second.push(url);
        return true;
      }),
    ).toBe(1);
    expect(second).toEqual(['https://up.example/unreachable']);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ sessions: {} });
  });

  it('treats a missing or unreadable file as nothing left open', async () => {
    const torn = join(dir, 'torn.json');
    await writeFile(torn, '{"sessions": {"x": {"uploadUrl": "https://up');
    expect(await (await UploadJournal.load(torn)).cancelLeftovers(async () => true)).toBe(0);
    expect(await (await UploadJournal.load(join(dir, 'absent.json'))).cancelLeftovers(async () => true)).toBe(0);
  });
});
