import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GraphClient } from '../../src/graph/client.js';
import { DriveApi } from '../../src/graph/drive-api.js';
import { quickXorHash } from '../../src/graph/quickxorhash.js';
import { FRAGMENT_UNIT, uploadFile } from '../../src/graph/upload.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { eventually } from '../helpers/eventually.js';
import { withRequest } from '../helpers/request-body.js';
import { withEmulator, type EmulatorTokens } from './emulator-helper.js';

let emulator: RunningEmulator;
let tokens: EmulatorTokens;
let driveId: string;
let client: GraphClient;
let api: DriveApi;
let spoolDir: string;

beforeAll(async () => {
  ({ emulator, tokens, driveId } = await withEmulator());
  client = new GraphClient({ baseUrl: `${emulator.url}/v1.0`, tokens, retry: { baseDelayMs: 5, maxDelayMs: 50 } });
  api = new DriveApi(client, { type: 'me' }, { sleep: async () => {} });
  emulator.drive.mkdir(driveId, 'up');
  spoolDir = await mkdtemp(join(tmpdir(), 'onedav-spool-test-'));
});
afterAll(async () => {
  await client.close();
  await emulator.close();
  await rm(spoolDir, { recursive: true, force: true });
});
afterEach(() => {
  emulator.faults.setPlan(null);
  emulator.counters.reset();
});

const upId = () => emulator.drive.stat(driveId, 'up')!.id;
const target = (name: string) => ({ parentId: upId(), name });

/** A body arriving in uneven chunks, as a network stream does. */
function chunked(data: Buffer, chunk = 100_003): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) return this.push(null);
      this.push(data.subarray(offset, offset + chunk));
      offset += chunk;
    },
  });
}

function lastFragments(): number[] {
  const logs = emulator.drive.uploadFragments();
  return logs[logs.length - 1].fragments;
}

describe('upload session writer', () => {
  it('streams a known-size body in fragments that are multiples of 320 KiB, and checks the hash', async () => {
    const data = randomBytes(5 * FRAGMENT_UNIT + 12_345);
    const item = await uploadFile(api, target('known.bin'), chunked(data), { size: data.length, fragmentSize: 2 * FRAGMENT_UNIT, simpleMax: 0 });
    expect(item.size).toBe(data.length);
    expect(item.file?.hashes?.quickXorHash).toBe(quickXorHash(data));
    const fragments = lastFragments();
    expect(fragments).toEqual([2 * FRAGMENT_UNIT, 2 * FRAGMENT_UNIT, FRAGMENT_UNIT + 12_345]);
    expect(fragments.slice(0, -1).every((f) => f % FRAGMENT_UNIT === 0)).toBe(true);
    expect((await emulator.drive.readFile(driveId, 'up/known.bin')).equals(data)).toBe(true);
  });

  it('frees each chunk of a node:http body once it is in a fragment (none waits for the garbage collector), and still checks the hash', async () => {
    const data = randomBytes(5 * FRAGMENT_UNIT + 12_345);
    const { item, emitted } = await withRequest(data, 23, async (req, emitted) => {
      const item = await uploadFile(api, target('from-http.bin'), req, { size: data.length, fragmentSize: 2 * FRAGMENT_UNIT, simpleMax: 0 });
      return { item, emitted };
    });
    expect(item.file?.hashes?.quickXorHash).toBe(quickXorHash(data));
    expect((await emulator.drive.readFile(driveId, 'up/from-http.bin')).equals(data)).toBe(true);
    expect(emitted.length).toBeGreaterThan(1);
    expect(emitted.filter((chunk) => chunk.byteLength > 0)).toEqual([]);
  });

  it('sets the mtime through fileSystemInfo in the same session', async () => {
    const data = randomBytes(1000);
    const mtime = new Date('2020-05-06T07:08:09Z');
    const item = await uploadFile(api, target('dated.bin'), chunked(data), { size: data.length, mtime });
    expect(item.fileSystemInfo?.lastModifiedDateTime).toBe('2020-05-06T07:08:09Z');
    expect(emulator.counters.snapshot().byCategory.graph).toBe(1); // createUploadSession only; the fragment goes to /up
  });

  it('survives 503s and connection resets on fragments and still stores one correct file', async () => {
    const data = randomBytes(6 * FRAGMENT_UNIT + 777);
    emulator.faults.setPlan({
      rules: [
        { match: { category: 'upload', method: 'PUT' }, action: { type: 'status', status: 503, retryAfter: 0 }, times: 2 },
        { match: { category: 'upload', method: 'PUT' }, action: { type: 'reset' }, probability: 0.5, times: 3 },
      ],
      seed: 7,
    });
    const item = await uploadFile(api, target('faulty.bin'), chunked(data), { size: data.length, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 });
    expect(item.file?.hashes?.quickXorHash).toBe(quickXorHash(data));
    expect((await emulator.drive.readFile(driveId, 'up/faulty.bin')).equals(data)).toBe(true);
    expect(emulator.faults.injected.status).toBeGreaterThanOrEqual(2);
    expect(emulator.faults.injected.reset).toBeGreaterThanOrEqual(1);
    expect(lastFragments().reduce((a, b) => a + b, 0)).toBe(data.length);
    expect(emulator.drive.stat(driveId, 'up')!.isFolder).toBe(true);
    expect(emulator.drive.listPaths(driveId).filter((p) => p.startsWith('/up/faulty'))).toEqual(['/up/faulty.bin']);
  });

  it('when the retry policy gives up on a fragment, asks the session where to resume', async () => {
    const impatient = new GraphClient({ baseUrl: `${emulator.url}/v1.0`, tokens, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const data = randomBytes(3 * FRAGMENT_UNIT + 5);
    emulator.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'status', status: 503 }, times: 3 }] });
    try {
      const item = await uploadFile(new DriveApi(impatient, { type: 'me' }), target('resumed.bin'), chunked(data), { size: data.length, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 });
      expect(item.file?.hashes?.quickXorHash).toBe(quickXorHash(data));
    } finally {
      await impatient.close();
    }
    expect(impatient.stats().byRoute['GET /upload-session/{token}']).toEqual({ '200': 1 });
    expect(lastFragments()).toEqual([FRAGMENT_UNIT, FRAGMENT_UNIT, FRAGMENT_UNIT, 5]);
  });

  it('a last fragment whose answer was lost (the file committed, the retry finds no session) returns the stored file', async () => {
    const data = randomBytes(2 * FRAGMENT_UNIT + 99);
    emulator.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'resetAfter' }, times: 1 }] });
    const item = await uploadFile(api, target('answer-lost.bin'), chunked(data), { size: data.length, fragmentSize: 4 * FRAGMENT_UNIT, simpleMax: 0 });
    expect(emulator.faults.injected.resetAfter).toBeGreaterThanOrEqual(1);
    expect(item.size).toBe(data.length);
    expect(item.file?.hashes?.quickXorHash).toBe(quickXorHash(data));
    expect((await emulator.drive.readFile(driveId, 'up/answer-lost.bin')).equals(data)).toBe(true);
  });

  it('a session that expires mid-upload fails as a lost session (not as a missing item) and stores nothing', async () => {
    const settings = emulator.state.settings;
    const lifetime = settings.uploadSessionLifetimeSec;
    settings.uploadSessionLifetimeSec = 0.2;
    emulator.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'latency', ms: 400 }, times: 1 }] });
    try {
      const data = randomBytes(3 * FRAGMENT_UNIT);
      const err = await uploadFile(api, target('expired.bin'), chunked(data), { size: data.length, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 }).catch((e) => e);
      expect(err).toMatchObject({ code: 'uploadSessionLost' });
      expect(emulator.drive.stat(driveId, 'up/expired.bin')).toBeUndefined();
    } finally {
      settings.uploadSessionLifetimeSec = lifetime;
    }
  });

  it('a new file whose only fragment arrives after the session expired fails as a lost session, not as "not found"', async () => {
    const settings = emulator.state.settings;
    const lifetime = settings.uploadSessionLifetimeSec;
    settings.uploadSessionLifetimeSec = 0.2;
    emulator.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'latency', ms: 400 }, times: 1 }] });
    try {
      const data = randomBytes(FRAGMENT_UNIT + 1);
      const err = await uploadFile(api, target('expired-new.bin'), chunked(data), { size: data.length, fragmentSize: 4 * FRAGMENT_UNIT, simpleMax: 0 }).catch((e) => e);
      expect(err).toMatchObject({ code: 'uploadSessionLost' });
      expect(emulator.drive.stat(driveId, 'up/expired-new.bin')).toBeUndefined();
    } finally {
      settings.uploadSessionLifetimeSec = lifetime;
    }
  });

  it('an aborted upload cancels the session and leaves the previous file untouched', async () => {
    const old = Buffer.from('the previous version');
    await emulator.drive.putFile(driveId, 'up/keep.txt', old);
    const controller = new AbortController();
    let sent = 0;
    let stalled = false;
    const firstFragmentStored = () => emulator.drive.uploadFragments().some((log) => log.name === 'keep.txt' && log.outcome === 'open' && log.fragments.length >= 1);
    const body = new Readable({
      read() {
        if (sent >= 2 * FRAGMENT_UNIT) {
          // The client stalls after two fragments' worth; once the drive holds the first, it goes away.
          if (!stalled) void eventually(firstFragmentStored, 'the first fragment on the drive').then(() => controller.abort());
          stalled = true;
          return;
        }
        this.push(randomBytes(FRAGMENT_UNIT));
        sent += FRAGMENT_UNIT;
      },
    });
    const err = await uploadFile(api, target('keep.txt'), body, { size: 10 * FRAGMENT_UNIT, fragmentSize: FRAGMENT_UNIT, simpleMax: 0, signal: controller.signal }).catch((e) => e);
    expect(err).toMatchObject({ code: 'aborted' });
    expect((await emulator.drive.readFile(driveId, 'up/keep.txt')).equals(old)).toBe(true);
    expect(emulator.drive.openUploadSessions()).toBe(0);
    const log = emulator.drive.uploadFragments();
    expect(log[log.length - 1].outcome).toBe('cancelled');
    expect(log[log.length - 1].fragments.length).toBeGreaterThanOrEqual(1);
  });

  it('a body shorter than declared cancels the session before committing', async () => {
    const data = randomBytes(FRAGMENT_UNIT + 10);
    const err = await uploadFile(api, target('short.bin'), chunked(data), { size: data.length + 5, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'sizeMismatch' });
    expect(emulator.drive.stat(driveId, 'up/short.bin')).toBeUndefined();
    expect(emulator.drive.openUploadSessions()).toBe(0);
  });

  it('a body longer than declared is refused before the last fragment commits', async () => {
    const data = randomBytes(FRAGMENT_UNIT + 10);
    const err = await uploadFile(api, target('long.bin'), chunked(data), { size: data.length - 5, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'sizeMismatch' });
    expect(emulator.drive.stat(driveId, 'up/long.bin')).toBeUndefined();
  });

  it('detects a hash mismatch and does not leave the corrupted new file behind', async () => {
    const data = randomBytes(2 * FRAGMENT_UNIT + 1);
    emulator.drive.corruptNextUploads(1);
    const err = await uploadFile(api, target('corrupt.bin'), chunked(data), { size: data.length, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'hashMismatch' });
    expect(err.message).toMatch(/deleted|recycle bin/);
    expect(emulator.drive.stat(driveId, 'up/corrupt.bin')).toBeUndefined();
  });

  it('a hash mismatch on an overwrite restores the previous version through the versions API', async () => {
    const old = randomBytes(FRAGMENT_UNIT + 9);
    await emulator.drive.putFile(driveId, 'up/overwritten.bin', old);
    const data = randomBytes(2 * FRAGMENT_UNIT + 1);
    emulator.drive.corruptNextUploads(1);
    const err = await uploadFile(api, target('overwritten.bin'), chunked(data), { size: data.length, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 }).catch((e) => e);
    expect(err).toMatchObject({ status: 502, code: 'hashMismatch' });
    expect(err.message).toMatch(/the previous version was restored/);
    expect((await emulator.drive.readFile(driveId, 'up/overwritten.bin')).equals(old)).toBe(true);
    expect(client.stats().byRoute['POST /drive/items/{id}/versions/{id}/restoreVersion']).toEqual({ '204': 1 });
  });

  it('without a versions API a mismatching overwrite is reported, never deleted (the file holds the previous content in its history)', async () => {
    await emulator.drive.putFile(driveId, 'up/no-versions.txt', 'old');
    emulator.faults.setPlan({ rules: [{ match: { pathIncludes: '/versions' }, action: { type: 'status', status: 400, code: 'invalidRequest' } }] });
    emulator.drive.corruptNextUploads(1);
    const err = await uploadFile(api, target('no-versions.txt'), chunked(Buffer.from('new body')), { size: 8 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'hashMismatch' });
    expect(err.message).toMatch(/version history/);
    expect(emulator.drive.versions(driveId, 'up/no-versions.txt').map((v) => v.size)).toEqual([8, 3]);
  });

  it('detects a hash mismatch on simple uploads too', async () => {
    emulator.drive.corruptNextUploads(1);
    const err = await uploadFile(api, target('small-corrupt.txt'), chunked(Buffer.from('tiny body')), { size: 9 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'hashMismatch' });
    expect(emulator.drive.stat(driveId, 'up/small-corrupt.txt')).toBeUndefined();
  });

  it('If-Match with a stale eTag fails with 412 and changes nothing', async () => {
    await emulator.drive.putFile(driveId, 'up/guarded.txt', 'v1');
    const data = randomBytes(FRAGMENT_UNIT + 1);
    const err = await uploadFile(api, target('guarded.txt'), chunked(data), { size: data.length, simpleMax: 0, ifMatch: '"{00000000-0000-0000-0000-000000000000},1"' }).catch((e) => e);
    expect(err.status).toBe(412);
    expect((await emulator.drive.readFile(driveId, 'up/guarded.txt')).toString()).toBe('v1');
  });

  it('keeps small chunked bodies in memory and uses one simple PUT', async () => {
    const data = randomBytes(300_000);
    const before = emulator.drive.uploadFragments().length;
    const item = await uploadFile(api, target('small-chunked.bin'), chunked(data, 7_000), { spoolDir });
    expect(item.size).toBe(data.length);
    expect(emulator.drive.uploadFragments().length).toBe(before);
    expect(emulator.counters.snapshot().graphCalls).toBe(1);
  });

  it('creates a missing spool folder (private) for a large body of unknown length', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'onedav-spool-missing-'));
    const missing = join(parent, 'not-yet', 'spool');
    try {
      const data = randomBytes(5 * 1024 * 1024);
      const item = await uploadFile(api, target('spooled-into-new-dir.bin'), chunked(data), { fragmentSize: 4 * FRAGMENT_UNIT, spoolDir: missing });
      expect(item.size).toBe(data.length);
      expect(await readdir(missing)).toEqual([]);
      expect((await stat(missing)).mode & 0o777).toBe(0o700);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('uploads a 50 MiB body of unknown length through a spool file with bounded memory', async () => {
    const total = 50 * 1024 * 1024;
    const seed = randomBytes(1 << 20);
    let produced = 0;
    const hashOf = new (await import('../../src/graph/quickxorhash.js')).QuickXorHash();
    const body = new Readable({
      read() {
        if (produced >= total) return this.push(null);
        const chunk = Buffer.from(seed.subarray(0, 64 * 1024));
        chunk.writeUInt32BE(produced >>> 0, 0); // every chunk differs
        hashOf.update(chunk);
        produced += chunk.length;
        this.push(chunk);
      },
    });
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline)), 5);
    try {
      const item = await uploadFile(api, target('unknown-length.bin'), body, { fragmentSize: 4 * FRAGMENT_UNIT, spoolDir });
      expect(item.size).toBe(total);
      expect(item.file?.hashes?.quickXorHash).toBe(hashOf.digestBase64());
    } finally {
      clearInterval(sampler);
    }
    const fragments = lastFragments();
    expect(fragments.slice(0, -1).every((f) => f === 4 * FRAGMENT_UNIT)).toBe(true);
    expect(fragments.reduce((a, b) => a + b, 0)).toBe(total);
    if (process.env.ONEDAV_TEST_VERBOSE) console.log(`peak arrayBuffers growth: ${(peak / 1048576).toFixed(1)} MiB`);
    expect(peak).toBeLessThan(40 * 1024 * 1024); // never the whole body in memory
    expect(await readdir(spoolDir)).toEqual([]); // the spool file is gone
  });
});

describe('an upload session SharePoint answers 404 for', () => {
  it('while it is alive: waits with growing delays, tries again, and stores the file', async () => {
    const sleeps: number[] = [];
    const patient = new DriveApi(client, { type: 'me' }, { sleep: async (ms) => void sleeps.push(ms) });
    const data = randomBytes(3 * FRAGMENT_UNIT + 5);
    // The fragment PUT, the status GET, then the PUT again: 404 each, the session untouched.
    emulator.faults.setPlan({ rules: [{ match: { category: 'upload' }, action: { type: 'status', status: 404 }, times: 3 }] });
    const item = await uploadFile(patient, target('flaky-404.bin'), chunked(data), { size: data.length, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 });
    expect(item.file?.hashes?.quickXorHash).toBe(quickXorHash(data));
    expect((await emulator.drive.readFile(driveId, 'up/flaky-404.bin')).equals(data)).toBe(true);
    expect(sleeps).toEqual([1000]);
  });

  it('for good: gives up after the backoff as a lost session, the old file intact', async () => {
    await emulator.drive.putFile(driveId, 'up/gone-404.bin', 'the old file');
    const sleeps: number[] = [];
    const patient = new DriveApi(client, { type: 'me' }, { sleep: async (ms) => void sleeps.push(ms) });
    emulator.faults.setPlan({ rules: [{ match: { category: 'upload' }, action: { type: 'status', status: 404 } }] });
    const data = randomBytes(2 * FRAGMENT_UNIT);
    const err = await uploadFile(patient, target('gone-404.bin'), chunked(data), { size: data.length, fragmentSize: FRAGMENT_UNIT, simpleMax: 0 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'uploadSessionLost' });
    expect(sleeps).toEqual([1000, 2000, 4000, 8000]);
    expect((await emulator.drive.readFile(driveId, 'up/gone-404.bin')).toString()).toBe('the old file');
  });
});

describe('createUploadSession whose answer was lost on OneDrive for Business', () => {
  it('is tried once more, and the 409 of the session it opened says "busy", not "name exists"', async () => {
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST', pathIncludes: 'createUploadSession' }, action: { type: 'resetAfter' }, times: 1 }] });
    const data = randomBytes(FRAGMENT_UNIT + 1);
    const err = await uploadFile(api, target('lost-create.bin'), chunked(data), { size: data.length, simpleMax: 0 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'uploadSessionBusy', retryAfter: 30 });
    expect(err.message).toMatch(/open upload session/);
    expect(emulator.drive.stat(driveId, 'up/lost-create.bin')).toBeUndefined();
  });
});

describe('undoing a corrupted upload only with proof that the file is still the one onedav wrote', () => {
  it('a new file another client replaced before the cleanup is left alone (DELETE carries If-Match)', async () => {
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'DELETE' }, action: { type: 'latency', ms: 300 }, times: 1 }] });
    emulator.drive.corruptNextUploads(1);
    const upload = uploadFile(api, target('raced-new.bin'), chunked(Buffer.from('our body')), { size: 8 }).catch((e) => e);
    await eventually(() => emulator.drive.stat(driveId, 'up/raced-new.bin') !== undefined, 'the corrupted file is stored', { everyMs: 10 });
    await emulator.drive.putFile(driveId, 'up/raced-new.bin', 'theirs');
    const err = await upload;
    expect(err).toMatchObject({ code: 'hashMismatch' });
    expect(err.message).toMatch(/changed after onedav wrote it/);
    expect((await emulator.drive.readFile(driveId, 'up/raced-new.bin')).toString()).toBe('theirs');
  });

  it('an overwrite another client replaced before the cleanup is not restored over them', async () => {
    await emulator.drive.putFile(driveId, 'up/raced-old.bin', 'old');
    const restores = () => client.stats().byRoute['POST /drive/items/{id}/versions/{id}/restoreVersion']?.['204'] ?? 0;
    const restoresBefore = restores();
    emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'GET', pathIncludes: '/items/' }, action: { type: 'latency', ms: 300 }, times: 1 }] });
    emulator.drive.corruptNextUploads(1);
    const upload = uploadFile(api, target('raced-old.bin'), chunked(Buffer.from('our body')), { size: 8 }).catch((e) => e);
    await eventually(() => emulator.drive.versions(driveId, 'up/raced-old.bin').length === 2, 'the corrupted content is stored', { everyMs: 10 });
    await emulator.drive.putFile(driveId, 'up/raced-old.bin', 'theirs');
    const err = await upload;
    expect(err).toMatchObject({ code: 'hashMismatch' });
    expect(err.message).toMatch(/changed after onedav wrote it/);
    expect((await emulator.drive.readFile(driveId, 'up/raced-old.bin')).toString()).toBe('theirs');
    expect(restores()).toBe(restoresBefore);
  });
});

