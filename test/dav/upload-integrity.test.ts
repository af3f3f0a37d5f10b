import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultPlan } from '../../src/emulator/faults.js';
import { QuickXorHash } from '../../src/graph/quickxorhash.js';
import { eventually } from '../helpers/eventually.js';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * What a WebDAV client sees when an upload goes wrong: a corrupted store, a flaky upload URL, a
 * client that disappears mid-body, a long chunked body. The old file must survive every failure
 * and exactly one correct file must come out of every success.
 */
const MiB = 1024 * 1024;
const FRAGMENT_UNIT = 327_680;

/** Deterministic pseudo-random bytes, generated a chunk at a time. */
function* pattern(total: number, seed: number, chunk = MiB): Generator<Buffer> {
  let x = seed >>> 0 || 1;
  for (let sent = 0; sent < total; sent += chunk) {
    const length = Math.min(chunk, total - sent);
    const buf = Buffer.allocUnsafe(Math.ceil(length / 4) * 4);
    for (let i = 0; i < buf.length; i += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      buf.writeUInt32LE(x, i);
    }
    yield buf.subarray(0, length);
  }
}

function hashOf(total: number, seed: number): string {
  const qx = new QuickXorHash();
  for (const chunk of pattern(total, seed)) qx.update(chunk);
  return qx.digestBase64();
}

/** A PUT through node:http: `Content-Length` when `length` is given, chunked otherwise. */
function put(stack: DavStack, path: string, chunks: Iterable<Buffer>, length?: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(stack.url);
    const headers: Record<string, string> = length === undefined ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(length) };
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const it = chunks[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        const next = it.next();
        if (next.done) return void req.end();
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

/** (The simple-upload overwrite case is in write.test.ts, "502 on a hash mismatch".) */
describe('hash mismatch after an upload', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
  });
  afterAll(() => stack.close());

  it('an overwrite through an upload session answers 502 and GET returns the old bytes', async () => {
    const old = randomBytes(FRAGMENT_UNIT * 3 + 7);
    expect((await dav(stack, 'PUT', '/session.bin', { body: old })).status).toBe(201);
    stack.emulator.drive.corruptNextUploads(1);
    const res = await dav(stack, 'PUT', '/session.bin', { body: randomBytes(6 * MiB) });
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/hash mismatch.*the previous version was restored.*Upload again/is);
    const got = Buffer.from(await (await fetch(`${stack.url}/session.bin`)).arrayBuffer());
    expect(got.equals(old)).toBe(true);
    // The restore is a new version on top of the corrupted one; the history keeps all three.
    expect(stack.emulator.drive.versions(drive, 'session.bin').map((v) => v.size)).toEqual([old.length, 6 * MiB, old.length]);
  });

  it('a new file with a mismatch is deleted: 502, then 404', async () => {
    stack.emulator.drive.corruptNextUploads(1);
    const res = await dav(stack, 'PUT', '/fresh.bin', { body: randomBytes(5 * MiB) });
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/the new file was deleted/);
    expect((await dav(stack, 'GET', '/fresh.bin')).status).toBe(404);
    expect(stack.emulator.drive.stat(drive, 'fresh.bin')).toBeUndefined();
  });
});

/** The upload URL answers 503 to 30 % of the requests (seeded) and resets the connection twice. */
function flakyUploads(seed: number): FaultPlan {
  return {
    rules: [
      { match: { category: 'upload' }, action: { type: 'status', status: 503, retryAfter: 0 }, probability: 0.3 },
      { match: { category: 'upload' }, action: { type: 'reset' }, times: 2 },
    ],
    seed,
  };
}

describe('faults on the upload URL during a WebDAV PUT', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
    stack.emulator.drive.mkdir(drive, 'flaky');
  });
  beforeEach(() => stack.emulator.faults.setPlan(null));
  afterAll(() => stack.close());

  it('503s (30 %) and two connection resets still produce exactly one correct file', async () => {
    const size = 24 * MiB + 12_345;
    stack.emulator.faults.setPlan(flakyUploads(7));
    const res = await put(stack, '/flaky/f.bin', pattern(size, 11), size);
    const injected = { ...stack.emulator.faults.injected };
    stack.emulator.faults.setPlan(null);
    expect(res.status, res.body).toBe(201);
    expect(injected.reset).toBeGreaterThanOrEqual(2);
    expect(injected.status).toBeGreaterThan(0);
    expect(stack.emulator.drive.listPaths(drive).filter((p) => p.startsWith('/flaky/'))).toEqual(['/flaky/', '/flaky/f.bin']);
    expect(stack.emulator.drive.stat(drive, 'flaky/f.bin')).toMatchObject({ size, quickXorHash: hashOf(size, 11) });
    await eventually(() => stack.emulator.drive.openUploadSessions() === 0, 'no upload session left open');
  });

  it('the same faults on an overwrite leave the new content, once', async () => {
    await stack.emulator.drive.putFile(drive, 'flaky/g.bin', 'before');
    stack.emulator.faults.setPlan(flakyUploads(8));
    const size = 12 * MiB;
    const res = await put(stack, '/flaky/g.bin', pattern(size, 12), size);
    stack.emulator.faults.setPlan(null);
    expect(res.status, res.body).toBe(204);
    expect(stack.emulator.drive.stat(drive, 'flaky/g.bin')).toMatchObject({ size, quickXorHash: hashOf(size, 12) });
    expect(stack.emulator.drive.versions(drive, 'flaky/g.bin')).toHaveLength(2);
  });
});

describe('a client that goes away mid-upload', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
  });
  afterAll(() => stack.close());

  it('after fragments were accepted: the previous version stays and the session is cancelled', async () => {
    await stack.emulator.drive.putFile(drive, 'keep.bin', 'the previous version');
    const total = 40 * MiB;
    const before = stack.emulator.drive.uploadFragments().length;
    const url = new URL(stack.url);
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: '/keep.bin', headers: { 'Content-Length': String(total) } });
    const closed = new Promise<void>((resolve) => {
      req.on('error', () => resolve());
      req.on('close', () => resolve());
    });
    // Send 25 MiB, wait until the emulator holds two 10 MiB fragments of it, then drop the connection.
    for (const chunk of pattern(25 * MiB, 5)) req.write(chunk);
    const session = () => stack.emulator.drive.uploadFragments().slice(before)[0];
    await eventually(() => (session()?.fragments.length ?? 0) >= 2, 'two fragments accepted');
    req.destroy();
    await closed;
    await eventually(() => stack.emulator.drive.openUploadSessions() === 0 && stack.emulator.drive.fragmentsInFlight() === 0, 'upload session closed');
    expect(session().outcome).toBe('cancelled');
    expect((await stack.emulator.drive.readFile(drive, 'keep.bin')).toString()).toBe('the previous version');
    expect(stack.emulator.drive.versions(drive, 'keep.bin')).toHaveLength(1);
    expect(await (await fetch(`${stack.url}/keep.bin`)).text()).toBe('the previous version');
  });

  it('while Graph makes the upload session: onedav still reads its answer and cancels it, so the file is not left refusing every upload (Business) until the session expires', async () => {
    await stack.emulator.drive.putFile(drive, 'held.bin', 'old content');
    // Graph makes the session, and its answer is still on the way when the client hangs up.
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'graph', method: 'POST', pathIncludes: 'createUploadSession' }, action: { type: 'slowAnswer', ms: 1_000 }, times: 1 }] });
    const before = stack.emulator.drive.uploadFragments().length;
    const session = () => stack.emulator.drive.uploadFragments().slice(before)[0];
    const url = new URL(stack.url);
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: '/held.bin', headers: { 'Content-Length': String(8 * MiB) } });
    const closed = new Promise<void>((resolve) => {
      req.on('error', () => resolve());
      req.on('close', () => resolve());
    });
    // A few bytes only: with more than the request's buffer holds, the server stops reading and sees the hang-up later.
    req.write(randomBytes(1024));
    await eventually(() => session() !== undefined, 'the session made', { everyMs: 5 });
    req.destroy();
    await closed;
    expect(stack.emulator.faults.injected.slowAnswer).toBe(1);
    await eventually(() => stack.emulator.drive.openUploadSessions() === 0, 'the session cancelled');
    expect(session().outcome).toBe('cancelled');
    expect((await stack.emulator.drive.readFile(drive, 'held.bin')).toString()).toBe('old content');
    // The drive is Business: a session left open would make this one 503 (OneDrive/onedrive-api-docs#747).
    const body = randomBytes(6 * MiB);
    expect((await dav(stack, 'PUT', '/held.bin', { body })).status).toBe(204);
    expect((await stack.emulator.drive.readFile(drive, 'held.bin')).equals(body)).toBe(true);
  });
});

describe('a long chunked PUT', () => {
  let stack: DavStack;
  let drive: string;

  beforeAll(async () => {
    stack = await startDavStack();
    drive = stack.driveIds[0];
  });
  afterAll(() => stack.close());

  it('stores 50 MiB sent without Content-Length, in 320 KiB-aligned fragments', async () => {
    const size = 50 * MiB + 3;
    const before = stack.emulator.drive.uploadFragments().length;
    // 3 odd bytes at the end so the last fragment is not aligned.
    const res = await put(stack, '/chunked.bin', (function* () {
      yield* pattern(50 * MiB, 21, 256 * 1024);
      yield Buffer.from([1, 2, 3]);
    })());
    expect(res.status, res.body).toBe(201);
    const qx = new QuickXorHash();
    for (const chunk of pattern(50 * MiB, 21)) qx.update(chunk);
    qx.update(Buffer.from([1, 2, 3]));
    expect(stack.emulator.drive.stat(drive, 'chunked.bin')).toMatchObject({ size, quickXorHash: qx.digestBase64() });
    const [log] = stack.emulator.drive.uploadFragments().slice(before);
    expect(log.outcome).toBe('committed');
    expect(log.fragments.reduce((a, b) => a + b, 0)).toBe(size);
    expect(log.fragments.slice(0, -1).every((n) => n % FRAGMENT_UNIT === 0)).toBe(true);
    expect(log.fragments.at(-1)! % FRAGMENT_UNIT).not.toBe(0);
  });
});
