import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGraphDrive, DriveError, type GraphDrive } from '../../src/drive/index.js';
import { FRAGMENT_UNIT } from '../../src/graph/upload.js';
import { GraphError } from '../../src/graph/errors.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { withEmulator, type EmulatorTokens } from '../graph/emulator-helper.js';

let emulator: RunningEmulator;
let tokens: EmulatorTokens;
let driveId: string;
const emuClock = new ManualClock();
const clock = new ManualClock();
let drive: GraphDrive;
let close: () => Promise<void>;
const TTL_MS = 60_000;

beforeAll(async () => {
  ({ emulator, tokens, driveId } = await withEmulator({ clock: emuClock }));
  ({ drive, close } = createGraphDrive({
    graphBaseUrl: `${emulator.url}/v1.0`,
    tokens,
    drive: { type: 'me' },
    cache: { ttlSeconds: TTL_MS / 1000, maxEntries: 100_000, maxBytes: 64 * 1024 * 1024 },
    upload: { simpleMax: 4 * 1024 * 1024, fragmentSize: FRAGMENT_UNIT },
    downloadUrlLifetimeMs: 120_000,
    clock,
    client: { retry: { baseDelayMs: 5, maxDelayMs: 50 } },
  }));
});
afterAll(async () => {
  await close();
  await emulator.close();
});
afterEach(() => emulator.faults.setPlan(null));

/** Graph calls (API + upload URLs) made while `fn` runs. */
async function calls<T>(fn: () => Promise<T>): Promise<{ value: T; calls: number }> {
  const before = emulator.counters.snapshot().graphCalls;
  const value = await fn();
  return { value, calls: emulator.counters.snapshot().graphCalls - before };
}

const body = (data: Buffer | string) => Readable.from([Buffer.from(data)]);
const seed = (path: string, content: string | Buffer = 'x') => emulator.drive.putFile(driveId, path, content);

describe('GraphDrive reads', () => {
  it('serves a warm folder (PROPFIND Depth 1 and the stats after it) with zero Graph calls', async () => {
    await Promise.all(['a.txt', 'b.txt', 'c.txt'].map((n) => seed(`warm/${n}`, n)));
    const cold = await calls(async () => {
      await drive.stat('/warm');
      const list = await drive.list('/warm');
      for (const e of list) await drive.stat(e.path);
      return list;
    });
    expect(cold.value.map((e) => e.name).sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(cold.calls).toBe(2); // the folder itself, then one listing
    const warm = await calls(async () => {
      await drive.stat('/warm');
      const list = await drive.list('/warm');
      for (const e of list) await drive.stat(e.path);
      await expect(drive.stat('/warm/missing.txt')).rejects.toMatchObject({ kind: 'notFound' });
      await drive.stat('/WARM/A.TXT'); // OneDrive names are case-insensitive
    });
    expect(warm.calls).toBe(0);
  });

  it('maps items to entries', async () => {
    await seed('entries/file.txt', 'hello');
    const mtime = new Date('2021-02-03T04:05:06Z');
    await drive.setModified('/entries/file.txt', mtime);
    const e = await drive.stat('/entries/file.txt');
    expect(e).toMatchObject({ name: 'file.txt', path: '/entries/file.txt', isFolder: false, size: 5, mimeType: 'text/plain' });
    expect(e.modified.toISOString()).toBe(mtime.toISOString());
    expect(e.etag).toMatch(/^"[^"]+"$/);
    expect(e.version).toBeTruthy();
    expect(e.quickXorHash).toBeTruthy();
    const folder = await drive.stat('/entries');
    expect(folder).toMatchObject({ isFolder: true, size: 0 });
    expect((await drive.stat('/')).isFolder).toBe(true);
  });

  it('coalesces concurrent misses into one Graph call', async () => {
    await seed('burst/x.txt');
    const listed = await calls(() => Promise.all(Array.from({ length: 10 }, () => drive.list('/burst'))));
    expect(listed.calls).toBe(1);
    await seed('burst2/y.txt');
    const statted = await calls(() => Promise.all(Array.from({ length: 10 }, () => drive.stat('/burst2/y.txt'))));
    expect(statted.calls).toBe(1);
  });

  it('lists 2,500 children in 3 calls and then stats any of them for free', async () => {
    await Promise.all(Array.from({ length: 2500 }, (_, i) => seed(`big/f${i}.txt`, String(i))));
    const listed = await calls(() => drive.list('/big'));
    expect(listed.value).toHaveLength(2500);
    expect(listed.calls).toBe(3);
    expect((await calls(() => drive.stat('/big/f1234.txt'))).calls).toBe(0);
  });

  it('knows names OneDrive cannot hold are absent without asking', async () => {
    const probe = await calls(async () => {
      for (const p of ['/desktop.ini', '/a:b', '/what?', '/~$lock.docx', '/x/_vti_cnf']) {
        await expect(drive.stat(p)).rejects.toMatchObject({ kind: 'notFound' });
      }
    });
    expect(probe.calls).toBe(0);
  });

  it('sees a change made directly through Graph once the TTL passes', async () => {
    await seed('ttl/one.txt');
    expect((await drive.list('/ttl')).map((e) => e.name)).toEqual(['one.txt']);
    await seed('ttl/two.txt');
    expect((await calls(() => drive.list('/ttl'))).value.map((e) => e.name)).toEqual(['one.txt']); // still cached
    clock.advance(TTL_MS + 1);
    const fresh = await calls(() => drive.list('/ttl'));
    expect(fresh.value.map((e) => e.name).sort()).toEqual(['one.txt', 'two.txt']);
    expect(fresh.calls).toBe(1);
  });

  it('sees remote changes sooner through the delta feed', async () => {
    await seed('delta/one.txt');
    await seed('delta/sub/deep.txt');
    await drive.pollChanges(); // takes the starting point
    await drive.list('/delta');
    await drive.list('/delta/sub');
    await seed('delta/two.txt', 'new');
    expect(await drive.pollChanges()).toBeGreaterThanOrEqual(1);
    const after = await calls(() => drive.list('/delta'));
    expect(after.value.map((e) => e.name).sort()).toEqual(['one.txt', 'sub', 'two.txt']);
    expect(after.calls).toBe(1);
    expect((await calls(() => drive.list('/delta/sub'))).calls).toBe(0); // an unrelated folder kept its listing
  });

  it('streams reads, whole or a byte range, and refuses a range beyond the file', async () => {
    const data = randomBytes(10_000);
    await seed('dl/data.bin', data);
    const whole = await drive.read('/dl/data.bin');
    expect(whole.range).toBeUndefined();
    expect(whole.length).toBe(10_000);
    expect(Buffer.concat(await whole.body.toArray()).equals(data)).toBe(true);
    const part = await drive.read('/dl/data.bin', { start: 100, end: 199 });
    expect(part.range).toEqual({ start: 100, end: 199, total: 10_000 });
    expect(Buffer.concat(await part.body.toArray()).equals(data.subarray(100, 200))).toBe(true);
    const tail = await drive.read('/dl/data.bin', { start: 9_990 });
    expect(tail.range).toEqual({ start: 9_990, end: 9_999, total: 10_000 });
    await tail.body.toArray();
    await expect(drive.read('/dl/data.bin', { start: 20_000 })).rejects.toMatchObject({ kind: 'rangeNotSatisfiable' });
  });

  it('brings the download URL along with a cold stat, so the GET after it costs no call', async () => {
    await seed('along/f.txt', 'content');
    expect((await calls(() => drive.stat('/along/f.txt'))).calls).toBe(1);
    const url = await calls(() => drive.downloadUrl('/along/f.txt'));
    expect(url.calls).toBe(0);
    const res = await fetch(url.value.url);
    expect(await res.text()).toBe('content');
    expect((await calls(() => drive.stat('/along'))).calls).toBe(1); // folders have no URL; nothing breaks
  });

  it('takes download URLs from the listing: a GET after a PROPFIND Depth 1 costs no call', async () => {
    await seed('listed/a.txt', 'alpha');
    await seed('listed/b.txt', 'bravo');
    expect((await calls(() => drive.list('/listed'))).calls).toBe(1);
    const got = await calls(async () => Promise.all(['a', 'b'].map((n) => drive.downloadUrl(`/listed/${n}.txt`))));
    expect(got.calls).toBe(0);
    expect(await Promise.all(got.value.map(async (u) => (await fetch(u.url)).text()))).toEqual(['alpha', 'bravo']);
    const read = await calls(async () => Buffer.concat(await (await drive.read('/listed/a.txt')).body.toArray()).toString());
    expect(read).toEqual({ value: 'alpha', calls: 0 });
  });

  it('never hands out a download URL for an item the cache no longer vouches for', async () => {
    await seed('stale/f.txt', 'old bytes');
    await drive.list('/stale');
    // Our own overwrite: the listed URL (and entry) are replaced; the GET gets the new bytes.
    await drive.write('/stale/f.txt', body('new bytes'), { size: 9 });
    const afterWrite = await calls(() => drive.downloadUrl('/stale/f.txt'));
    expect(await (await fetch(afterWrite.value.url)).text()).toBe('new bytes');
    // Replaced behind our back by another item: once the metadata has expired (the URL has not),
    // the URL of the old item is not handed out; a fresh one is fetched.
    await drive.list('/stale');
    await drive.downloadUrl('/stale/f.txt');
    const other = await fetch(`${emulator.url}/v1.0/me/drive/root:/stale/f.txt`, { method: 'DELETE', headers: { authorization: `Bearer ${await tokens.getAccessToken()}` } });
    expect(other.status).toBe(204);
    await seed('stale/f.txt', 'another file');
    clock.advance(TTL_MS + 1_000);
    const fresh = await calls(() => drive.downloadUrl('/stale/f.txt'));
    expect(fresh.calls).toBe(1);
    expect(await (await fetch(fresh.value.url)).text()).toBe('another file');
  });

  it('re-fetches a download URL when it expires, by our clock or by the server refusing it', async () => {
    await seed('exp/f.txt', 'content');
    const first = await drive.downloadUrl('/exp/f.txt');
    expect((await calls(() => drive.downloadUrl('/exp/f.txt'))).value.url).toBe(first.url);
    clock.advance(120_000); // our trust window is over: a new URL is fetched
    const second = await calls(() => drive.downloadUrl('/exp/f.txt'));
    expect(second.calls).toBe(1);
    // The server expires URLs sooner than we trust them: the read notices the 401 and fetches a new one.
    emulator.state.settings.downloadUrlLifetimeSec = 1;
    try {
      await drive.downloadUrl('/exp/f.txt');
      clock.advance(120_000);
      await drive.downloadUrl('/exp/f.txt'); // fetched now, valid 1 s on the server
      emuClock.advance(5_000);
      const before = emulator.counters.snapshot().byRoute;
      const res = await drive.read('/exp/f.txt');
      expect(Buffer.concat(await res.body.toArray()).toString()).toBe('content');
      const after = emulator.counters.snapshot().byRoute;
      expect((after['download: GET /dl/{token}'] ?? 0) - (before['download: GET /dl/{token}'] ?? 0)).toBe(2);
    } finally {
      emulator.state.settings.downloadUrlLifetimeSec = 3600;
    }
  });

  it('reports the quota', async () => {
    const q = await drive.quota();
    expect(q.total).toBeGreaterThan(0);
    expect(q.remaining).toBeLessThanOrEqual(q.total);
    expect((await calls(() => drive.quota())).calls).toBe(0);
  });
});

describe('GraphDrive writes', () => {
  it('records exactly what a write changes: the new item and its parent listing, nothing else', async () => {
    await seed('w/old.txt');
    await seed('w-other/keep.txt');
    await drive.list('/');
    await drive.list('/w');
    await drive.list('/w-other');
    const written = await calls(() => drive.write('/w/new.txt', body('fresh'), { size: 5 }));
    expect(written.calls).toBe(1); // parent known from the cache: one simple PUT
    expect(written.value).toMatchObject({ name: 'new.txt', size: 5, path: '/w/new.txt' });
    const after = await calls(async () => {
      const list = await drive.list('/w');
      await drive.list('/w-other');
      await drive.stat('/w/new.txt');
      await drive.stat('/w/old.txt');
      return list;
    });
    expect(after.calls).toBe(0);
    expect(after.value.map((e) => e.name).sort()).toEqual(['new.txt', 'old.txt']);
    expect((await emulator.drive.readFile(driveId, 'w/new.txt')).toString()).toBe('fresh');
  });

  it('uploads large bodies through a session with aligned fragments, and unknown lengths too', async () => {
    await drive.mkdir('/large');
    const data = randomBytes(4 * 1024 * 1024 + 3 * FRAGMENT_UNIT + 99);
    const entry = await drive.write('/large/known.bin', Readable.from([data]), { size: data.length, mtime: new Date('2022-01-01T00:00:00Z') });
    expect(entry.size).toBe(data.length);
    expect(entry.modified.toISOString()).toBe('2022-01-01T00:00:00.000Z');
    const log = emulator.drive.uploadFragments();
    const fragments = log[log.length - 1].fragments;
    expect(fragments.slice(0, -1).every((f) => f === FRAGMENT_UNIT)).toBe(true);
    const unknown = await drive.write('/large/unknown.bin', Readable.from([data.subarray(0, 1_000_000), data.subarray(1_000_000)]));
    expect((await drive.stat('/large/unknown.bin')).quickXorHash).toBe((await drive.stat('/large/known.bin')).quickXorHash);
    expect((await emulator.drive.readFile(driveId, 'large/unknown.bin')).equals(data)).toBe(true);
  });

  it('writes empty files, with and without an mtime', async () => {
    await drive.mkdir('/empty');
    expect((await drive.write('/empty/a', body(''), { size: 0 })).size).toBe(0);
    const dated = await drive.write('/empty/b', body(''), { mtime: new Date('2019-09-09T09:09:09Z') });
    expect(dated).toMatchObject({ size: 0 });
    expect(dated.modified.toISOString()).toBe('2019-09-09T09:09:09.000Z');
  });

  it('finds a parent folder another client just made, despite a cached listing', async () => {
    await drive.mkdir('/elsewhere');
    await drive.list('/elsewhere'); // cached: empty
    clock.advance(5_000); // older than an absence believed without asking (FRESH_ABSENCE_MS)
    emulator.drive.mkdir(driveId, 'elsewhere/made-remotely');
    const entry = await drive.write('/elsewhere/made-remotely/f.txt', body('ok'), { size: 2 });
    expect(entry.path).toBe('/elsewhere/made-remotely/f.txt');
  });

  it('believes an absence Graph confirmed a moment ago, and asks again once it is older', async () => {
    await seed('late/keep.txt');
    await expect(drive.stat('/late/sub')).rejects.toMatchObject({ kind: 'notFound' }); // Graph: 404 (not read off a listing)
    emulator.drive.mkdir(driveId, 'late/sub');
    const soon = await calls(() => drive.write('/late/sub/f.txt', body('x'), { size: 1 }).catch((e) => e));
    expect(soon).toMatchObject({ value: { kind: 'parentMissing' }, calls: 0 });
    clock.advance(5_000);
    const later = await calls(() => drive.write('/late/sub/f.txt', body('x'), { size: 1 }));
    expect(later.value.path).toBe('/late/sub/f.txt');
    expect(later.calls).toBe(2); // the folder, asked again; the upload
  });

  it('injected 503s and resets during an upload still produce one correct file', async () => {
    await drive.mkdir('/flaky');
    const data = randomBytes(5 * 1024 * 1024);
    emulator.faults.setPlan({
      seed: 3,
      rules: [
        { match: { category: 'upload' }, action: { type: 'status', status: 503 }, probability: 0.3, times: 4 },
        { match: { category: 'upload' }, action: { type: 'reset' }, probability: 0.3, times: 4 },
      ],
    });
    const entry = await drive.write('/flaky/f.bin', Readable.from([data]), { size: data.length });
    expect(entry.size).toBe(data.length);
    expect((await emulator.drive.readFile(driveId, 'flaky/f.bin')).equals(data)).toBe(true);
    expect(emulator.drive.listPaths(driveId).filter((p) => p.startsWith('/flaky/') && !p.endsWith('/'))).toEqual(['/flaky/f.bin']);
  });

  it('an aborted upload leaves the previous version intact', async () => {
    await seed('abort/f.bin', 'previous'); // folder and file made behind the drive's back, before it looked
    await drive.stat('/abort/f.bin');
    const controller = new AbortController();
    let pushed = 0;
    const slow = new Readable({
      read() {
        if (pushed >= 2 * FRAGMENT_UNIT) return void setTimeout(() => controller.abort(), 10);
        pushed += FRAGMENT_UNIT;
        this.push(randomBytes(FRAGMENT_UNIT));
      },
    });
    await expect(drive.write('/abort/f.bin', slow, { size: 20 * FRAGMENT_UNIT, signal: controller.signal })).rejects.toMatchObject({ kind: 'aborted' });
    expect((await emulator.drive.readFile(driveId, 'abort/f.bin')).toString()).toBe('previous');
    expect((await drive.stat('/abort/f.bin')).size).toBe(8);
  });

  it('a hash mismatch is reported and the corrupted file does not stay', async () => {
    await drive.mkdir('/hash');
    emulator.drive.corruptNextUploads(1);
    await expect(drive.write('/hash/f.bin', body(randomBytes(1000)), { size: 1000 })).rejects.toMatchObject({ kind: 'corrupted' });
    await expect(drive.stat('/hash/f.bin')).rejects.toMatchObject({ kind: 'notFound' });
  });

  it('refuses a missing parent with 409 and bad names with 400, before uploading', async () => {
    const missing = await calls(() => drive.write('/no/such/folder.txt', body('x'), { size: 1 }).catch((e) => e));
    expect(missing.value).toMatchObject({ kind: 'parentMissing' });
    expect(emulator.drive.stat(driveId, 'no')).toBeUndefined(); // Graph would have created it silently
    const bad = await calls(() => drive.write('/bad|name.txt', body('x'), { size: 1 }).catch((e) => e));
    expect(bad.value).toBeInstanceOf(DriveError);
    expect(bad.value).toMatchObject({ kind: 'invalidName' });
    expect(bad.value.message).toMatch(/"\|"/);
    expect(bad.calls).toBe(0);
    await expect(drive.mkdir('/CON')).rejects.toMatchObject({ kind: 'invalidName' });
  });

  it('If-None-Match: * refuses to replace an existing file with 412', async () => {
    await drive.mkdir('/inm');
    await seed('inm/f.txt', 'v1');
    await expect(drive.write('/inm/f.txt', body('v2'), { size: 2, ifNoneMatch: '*' })).rejects.toMatchObject({ kind: 'changed' });
    expect((await emulator.drive.readFile(driveId, 'inm/f.txt')).toString()).toBe('v1');
    expect((await drive.write('/inm/g.txt', body('new'), { size: 3, ifNoneMatch: '*' })).size).toBe(3);
  });

  it('mkdir, move with and without overwrite, copy, remove', async () => {
    const dir = await drive.mkdir('/ops');
    expect(dir.isFolder).toBe(true);
    await expect(drive.mkdir('/ops')).rejects.toMatchObject({ kind: 'exists' });
    await drive.mkdir('/ops/sub');
    await drive.write('/ops/sub/a.txt', body('A'), { size: 1 });
    await drive.write('/ops/b.txt', body('B'), { size: 1 });
    await drive.list('/ops');
    await drive.list('/ops/sub');

    const moved = await drive.move('/ops/sub', '/ops/renamed');
    expect(moved.name).toBe('renamed');
    await expect(drive.stat('/ops/sub/a.txt')).rejects.toMatchObject({ kind: 'notFound' });
    expect((await drive.stat('/ops/renamed/a.txt')).size).toBe(1);
    expect((await drive.list('/ops')).map((e) => e.name).sort()).toEqual(['b.txt', 'renamed']);

    await drive.write('/ops/c.txt', body('CC'), { size: 2 });
    await expect(drive.move('/ops/c.txt', '/ops/b.txt')).rejects.toMatchObject({ kind: 'exists' });
    const over = await drive.move('/ops/c.txt', '/ops/b.txt', { overwrite: true });
    expect(over.size).toBe(2);
    expect((await emulator.drive.readFile(driveId, 'ops/b.txt')).toString()).toBe('CC');
    await expect(drive.stat('/ops/c.txt')).rejects.toMatchObject({ kind: 'notFound' });

    const copied = await drive.copy('/ops/renamed', '/ops/copy');
    expect(copied.isFolder).toBe(true);
    expect((await drive.list('/ops/copy')).map((e) => e.name)).toEqual(['a.txt']);
    await expect(drive.copy('/ops/b.txt', '/ops/renamed/a.txt')).rejects.toMatchObject({ kind: 'exists' });
    await drive.copy('/ops/b.txt', '/ops/renamed/a.txt', { overwrite: true });
    expect((await emulator.drive.readFile(driveId, 'ops/renamed/a.txt')).toString()).toBe('CC');

    await drive.remove('/ops/renamed');
    await expect(drive.stat('/ops/renamed/a.txt')).rejects.toMatchObject({ kind: 'notFound' });
    expect((await drive.list('/ops')).map((e) => e.name).sort()).toEqual(['b.txt', 'copy']);
    expect(emulator.drive.stat(driveId, 'ops/renamed')).toBeUndefined();
    await expect(drive.remove('/')).rejects.toMatchObject({ kind: 'forbidden' });
  });

  it('knows a folder it made is empty: lookups, writes and the listing inside cost no extra call', async () => {
    await drive.mkdir('/fresh');
    const lookup = await calls(() => drive.stat('/fresh/a.txt').catch((e) => e));
    expect(lookup.value.kind).toBe('notFound');
    expect(lookup.calls).toBe(0);
    expect((await calls(() => drive.write('/fresh/a.txt', body('A'), { size: 1 }))).calls).toBe(1);
    const listed = await calls(() => drive.list('/fresh'));
    expect(listed.calls).toBe(0);
    expect(listed.value.map((e) => e.name)).toEqual(['a.txt']);
  });

  it('keeps the destination folder listing through a move and a copy, with the item in it', async () => {
    await drive.mkdir('/mv');
    await drive.mkdir('/mv/dest');
    await drive.write('/mv/a.txt', body('A'), { size: 1 });
    const moved = await calls(() => drive.move('/mv/a.txt', '/mv/dest/a.txt'));
    expect(moved.calls).toBe(1);
    const dest = await calls(() => drive.list('/mv/dest'));
    expect(dest.calls).toBe(0);
    expect(dest.value.map((e) => e.name)).toEqual(['a.txt']);
    expect((await drive.list('/mv')).map((e) => e.name)).toEqual(['dest']);
    await drive.copy('/mv/dest/a.txt', '/mv/b.txt');
    const after = await calls(() => drive.list('/mv'));
    expect(after.calls).toBe(0);
    expect(after.value.map((e) => e.name).sort()).toEqual(['b.txt', 'dest']);
    expect((await emulator.drive.readFile(driveId, 'mv/b.txt')).toString()).toBe('A');
  });

  it('writes into a parent missing from the cache after a remote delete fail cleanly', async () => {
    await drive.mkdir('/gone');
    await drive.list('/gone');
    const id = emulator.drive.stat(driveId, 'gone')!.id;
    expect(id).toBeTruthy();
    // Deleted behind our back (another client): our cached parent id is stale.
    await drive.api.delete({ id });
    const err = await drive.write('/gone/f.txt', body('x'), { size: 1 }).catch((e) => e);
    expect(err.kind).toBe('parentMissing');
  });
});

describe('background delta poll', () => {
  it('applies remote changes on its own every deltaPollSeconds', async () => {
    const polled = createGraphDrive({
      graphBaseUrl: `${emulator.url}/v1.0`,
      tokens,
      drive: { type: 'me' },
      cache: { ttlSeconds: 3600, deltaPollSeconds: 0.05 },
      clock,
    });
    try {
      await polled.drive.pollChanges(); // make sure the poller holds its starting link
      await polled.drive.mkdir('/bg');
      expect(await polled.drive.list('/bg')).toEqual([]);
      await seed('bg/remote.txt', 'from elsewhere');
      // Bounded wait for the poller (no timing assertion: only that it happens).
      let names: string[] = [];
      for (let i = 0; i < 200 && !names.includes('remote.txt'); i++) {
        await new Promise((r) => setTimeout(r, 25));
        names = (await polled.drive.list('/bg')).map((e) => e.name);
      }
      expect(names).toEqual(['remote.txt']);
    } finally {
      await polled.close();
    }
  });
});

describe('GraphDrive moves checked against where Graph put the item', () => {
  it("takes a move's answer naming the folder in other letter case as the folder asked for (abraunegg/onedrive#3336): one PATCH, nothing undone", async () => {
    await seed('casing/a.txt', 'a');
    emulator.drive.mkdir(driveId, 'casing/dest');
    await drive.list('/casing');
    const update = drive.api.update.bind(drive.api);
    drive.api.update = async (...args: Parameters<typeof update>) => {
      const item = await update(...args);
      return item.parentReference?.id ? { ...item, parentReference: { ...item.parentReference, id: item.parentReference.id.toLowerCase() } } : item;
    };
    try {
      const moved = await calls(() => drive.move('/casing/a.txt', '/casing/dest/a.txt'));
      expect(moved.calls).toBe(1);
      expect(emulator.drive.listPaths(driveId).filter((p) => p.startsWith('/casing/'))).toEqual(['/casing/', '/casing/dest/', '/casing/dest/a.txt']);
    } finally {
      drive.api.update = update;
    }
  });

  /** Graph does `work` but its answer is lost; later answers name parent folders in lower case (abraunegg/onedrive#3336). */
  function answersLostThenLowerCase<K extends 'createFolder' | 'update'>(method: K): () => void {
    const original = drive.api[method].bind(drive.api) as (...args: unknown[]) => Promise<unknown>;
    const getItem = drive.api.getItem.bind(drive.api);
    (drive.api as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      await original(...args);
      throw new GraphError(0, 'connectionLost', 'The connection was reset before the answer came.');
    };
    drive.api.getItem = async (...args: Parameters<typeof getItem>) => {
      const item = await getItem(...args);
      return item.parentReference?.id ? { ...item, parentReference: { ...item.parentReference, id: item.parentReference.id.toLowerCase() } } : item;
    };
    return () => {
      (drive.api as unknown as Record<string, unknown>)[method] = original;
      drive.api.getItem = getItem;
    };
  }

  it('takes a MKCOL whose answer was lost as done when Graph names its folder in other letter case', async () => {
    await seed('casing2/keep.txt', 'k');
    await drive.list('/casing2');
    const restore = answersLostThenLowerCase('createFolder');
    try {
      const made = await drive.mkdir('/casing2/new');
      expect(made.isFolder).toBe(true);
    } finally {
      restore();
    }
    expect(emulator.drive.listPaths(driveId).filter((p) => p.startsWith('/casing2/'))).toEqual(['/casing2/', '/casing2/keep.txt', '/casing2/new/']);
  });

  it('takes an overwriting move whose answer was lost as done when Graph names its folder in other letter case: the old file set aside is not put back over it', async () => {
    await seed('casing3/a.txt', 'new');
    await seed('casing3/dest/a.txt', 'old');
    await drive.list('/casing3/dest');
    const restore = answersLostThenLowerCase('update');
    let moved: unknown;
    try {
      moved = await drive.move('/casing3/a.txt', '/casing3/dest/a.txt', { overwrite: true }).catch((e: unknown) => e);
    } finally {
      restore();
    }
    expect(moved).not.toBeInstanceOf(Error);
    expect(emulator.drive.listPaths(driveId).filter((p) => p.startsWith('/casing3/'))).toEqual(['/casing3/', '/casing3/dest/', '/casing3/dest/a.txt']);
    expect(String(await emulator.drive.readFile(driveId, 'casing3/dest/a.txt'))).toBe('new');
  });
});
