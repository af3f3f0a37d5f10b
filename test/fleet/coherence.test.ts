import { request } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USER } from '../../src/emulator/directory.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { fleetPrefix, HAS_REDIS, startRedis, type RunningRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/eventually.js';
import { startOneDavChild } from '../helpers/onedav-process.js';
import { startReplica, startReplicas, type Replica } from '../helpers/app-replicas.js';
import { EmulatorTokenSource } from '../helpers/stack.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function propfindStatus(url: string, path: string): Promise<number> {
  const res = await fetch(`${url}${path}`, { method: 'PROPFIND', headers: { depth: '0' } });
  await res.arrayBuffer();
  return res.status;
}

async function put(url: string, path: string, body: string | Buffer): Promise<Response> {
  const res = await fetch(`${url}${path}`, { method: 'PUT', body: typeof body === 'string' ? body : new Uint8Array(body) });
  await res.arrayBuffer();
  return res;
}

async function getText(url: string, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}${path}`, { redirect: 'follow' });
  return { status: res.status, text: await res.text() };
}

/** Writes a file straight through the emulator's Graph API, as another OneDrive client would. */
async function putThroughGraph(emulator: RunningEmulator, path: string, body: string): Promise<void> {
  const token = await new EmulatorTokenSource(emulator, DEMO_USER).getAccessToken();
  const res = await fetch(`${emulator.url}/v1.0/me/drive/root:${path}:/content`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body });
  if (!res.ok) throw new Error(`Graph answered ${res.status}: ${await res.text()}`);
}

function deltaCalls(emulator: RunningEmulator): number {
  return Object.entries(emulator.counters.snapshot().byRoute)
    .filter(([route]) => route.includes('delta'))
    .reduce((sum, [, n]) => sum + n, 0);
}

/** A TCP proxy to Redis on loopback that passes what Redis sends on after `delayMs` (in order), and what the client sends at once. */
async function startLateProxy(redisPort: number, delayMs: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => setTimeout(() => client.writable && client.write(chunk), delayMs));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', () => setTimeout(end, delayMs)).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

describe.skipIf(!HAS_REDIS)('two replicas on one emulator and one Redis', () => {
  let redis: RunningRedis;
  let emulator: RunningEmulator;
  beforeAll(async () => {
    redis = await startRedis();
    emulator = await startEmulator({ port: 0, admin: true });
  });
  afterAll(async () => {
    await emulator?.close();
    await redis?.stop();
  });

  it("a write through A is seen through B right after, though B had cached the path (delta polling off: the bus alone)", async () => {
    const fleet = { redis: { url: redis.url, keyPrefix: fleetPrefix() }, cache: { deltaPollSeconds: 0 } };
    const [a, b] = await startReplicas(emulator, 2, fleet);
    try {
      expect((await fetch(`${a.url}/seen`, { method: 'MKCOL' })).status).toBe(201);
      const waits: number[] = [];
      for (let i = 0; i < 100; i++) {
        const path = `/seen/f-${i}.txt`;
        expect(await propfindStatus(b.url, path)).toBe(404); // B now knows it absent, for the whole TTL
        expect((await put(a.url, path, `body ${i}`)).status).toBe(201);
        const written = performance.now();
        await eventually(async () => (await propfindStatus(b.url, path)) === 207, `${path} written through A is seen through B`, { everyMs: 5 });
        waits.push(performance.now() - written);
      }
      console.log(`write through A, seen through B: p99 ${p99(waits).toFixed(1)} ms, median ${[...waits].sort((x, y) => x - y)[50].toFixed(1)} ms over ${waits.length} trials`);

      // New bytes of a file B had read (metadata and download URL cached) are what B serves next.
      expect((await getText(b.url, '/seen/f-0.txt')).text).toBe('body 0');
      expect((await put(a.url, '/seen/f-0.txt', 'replaced through A')).status).toBe(204);
      await eventually(async () => (await getText(b.url, '/seen/f-0.txt')).text === 'replaced through A', 'B serves the new bytes', { everyMs: 5 });

      // A delete through B is seen through A.
      expect(await propfindStatus(a.url, '/seen/f-1.txt')).toBe(207);
      expect((await fetch(`${b.url}/seen/f-1.txt`, { method: 'DELETE' })).status).toBe(204);
      await eventually(async () => (await propfindStatus(a.url, '/seen/f-1.txt')) === 404, 'the delete through B is seen through A', { everyMs: 5 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 120_000);

  it("a replica whose Redis messages come late still serves what another replica wrote and answered: it waits for its own PONG first", async () => {
    // B reaches Redis through a proxy that holds everything Redis sends it for 150 ms, as when Redis
    // answers the publisher and is preempted before writing the message to the subscribers.
    const late = await startLateProxy(redis.port, 150);
    const keyPrefix = fleetPrefix();
    const a = await startReplica(emulator, { redis: { url: redis.url, keyPrefix }, cache: { deltaPollSeconds: 0 } });
    const b = await startReplica(emulator, { redis: { url: `redis://127.0.0.1:${late.port}`, keyPrefix }, cache: { deltaPollSeconds: 0 } });
    try {
      expect((await fetch(`${a.url}/late`, { method: 'MKCOL' })).status).toBe(201);
      const stale: string[] = [];
      for (let i = 0; i < 5; i++) {
        const path = `/late/f-${i}.txt`;
        expect(await propfindStatus(b.url, path)).toBe(404); // B knows it absent
        expect((await put(a.url, path, `late ${i}`)).status).toBe(201);
        const got = await getText(b.url, path);
        if (got.text !== `late ${i}`) stale.push(`${path}: ${got.status}`);
      }
      expect(stale).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      late.close();
    }
  }, 60_000);

  it('with default settings a change made outside onedav shows through WebDAV within 5 s, and only one replica polls', async () => {
    const fleet = { redis: { url: redis.url, keyPrefix: fleetPrefix() } };
    const [a, b] = await startReplicas(emulator, 2, fleet);
    let closedA = false;
    try {
      expect(await propfindStatus(a.url, '/outside.txt')).toBe(404);
      expect(await propfindStatus(b.url, '/outside.txt')).toBe(404);
      await putThroughGraph(emulator, '/outside.txt', 'made elsewhere');
      const changed = performance.now();
      const seen = { a: false, b: false };
      while (!(seen.a && seen.b) && performance.now() - changed < 5000) {
        seen.a ||= (await propfindStatus(a.url, '/outside.txt')) === 207;
        seen.b ||= (await propfindStatus(b.url, '/outside.txt')) === 207;
        await sleep(50);
      }
      expect(seen).toEqual({ a: true, b: true });

      // Quiet: nothing changes, so each poll is one call, and only the lease holder polls.
      const quietMs = 10_000;
      const before = { delta: deltaCalls(emulator), all: emulator.counters.snapshot().graphCalls };
      await sleep(quietMs);
      const polls = deltaCalls(emulator) - before.delta;
      const calls = emulator.counters.snapshot().graphCalls - before.all;
      console.log(`Graph calls over ${quietMs / 1000} s of quiet with 2 replicas: ${calls} (${polls} delta)`);
      expect(polls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThanOrEqual(quietMs / 2000 + 1);

      // The holder goes away: the other replica takes the lease over and goes on from the saved link.
      await a.close();
      closedA = true;
      await putThroughGraph(emulator, '/outside.txt', 'changed again');
      expect(await propfindStatus(b.url, '/outside-2.txt')).toBe(404);
      await putThroughGraph(emulator, '/outside-2.txt', 'made after the holder left');
      await eventually(async () => (await propfindStatus(b.url, '/outside-2.txt')) === 207, 'the replica left polls and sees the change', { tries: 300, everyMs: 100 });
    } finally {
      await Promise.all([closedA ? undefined : a.close(), b.close()]);
    }
  }, 90_000);

  it('two clients PUT one path through A and B at once: both stored in turn, the file is one of the two bodies, no session left open', async () => {
    // Every upload through a session (simpleMax 0): a business drive takes one open session per file.
    const fleet = { redis: { url: redis.url, keyPrefix: fleetPrefix() }, upload: { simpleMax: 0 } };
    const [a, b] = await startReplicas(emulator, 2, fleet);
    try {
      for (let round = 0; round < 5; round++) {
        const bodies = [Buffer.alloc(900 * 1024, `A${round}`), Buffer.alloc(900 * 1024, `B${round}`)];
        const answers = await Promise.all([put(a.url, '/contended.bin', bodies[0]), put(b.url, '/contended.bin', bodies[1])]);
        for (const res of answers) {
          if (res.status === 503) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
          else expect([201, 204]).toContain(res.status);
        }
        // The second writer waits for the first (well within the wait bound): both are stored.
        expect(answers.map((r) => r.status).filter((status) => status === 503)).toEqual([]);
        const stored = await fetch(`${a.url}/contended.bin`, { redirect: 'follow' }).then(async (r) => Buffer.from(await r.arrayBuffer()));
        expect(bodies.some((body) => body.equals(stored))).toBe(true);
        expect(emulator.drive.openUploadSessions()).toBe(0);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 120_000);

  it('a replica killed mid-upload leaves an open session that a live replica cancels', async () => {
    const fleet = { redis: { url: redis.url, keyPrefix: fleetPrefix() }, upload: { simpleMax: 0 } };
    const childDir = await mkdtemp(join(tmpdir(), 'onedav-killed-'));
    const killed = await startOneDavChild(emulator, childDir, fleet);
    const live = await startReplica(emulator, fleet);
    try {
      const openBefore = emulator.drive.openUploadSessions();
      const { hostname, port } = new URL(killed.url);
      const upload = request({ host: hostname, port, method: 'PUT', path: '/killed-mid-upload.bin', headers: { 'content-length': String(2 * 1024 * 1024) } });
      upload.on('error', () => undefined); // the server dies under it
      upload.write(Buffer.alloc(400 * 1024, 1));
      await eventually(() => emulator.drive.openUploadSessions() !== openBefore, 'the upload session opens', { tries: 200, everyMs: 50 });
      expect(emulator.drive.openUploadSessions()).toBe(openBefore + 1);
      // The guarantee is for sessions the replica has registered: the URL exists only once Graph
      // answered, so a kill between that answer and the registration cannot be covered by anyone
      // (Graph cannot list a drive's upload sessions). Kill it once the registration is there.
      const raw = new Redis(redis.url);
      let registered = 0;
      for (let i = 0; i < 200 && registered === 0; i++) {
        const keys = await raw.keys(`${fleet.redis.keyPrefix}sessions:*`);
        for (const key of keys) registered += await raw.hlen(key);
        if (registered === 0) await sleep(50);
      }
      await raw.quit();
      expect(registered).toBe(1);
      const dead = new Promise<void>((resolve) => {
        const check = setInterval(() => {
          try {
            process.kill(killed.pid, 0);
          } catch {
            clearInterval(check);
            resolve();
          }
        }, 50);
      });
      process.kill(killed.pid, 'SIGKILL');
      await dead;
      console.log('killed; open sessions', emulator.drive.openUploadSessions());

      // Its heartbeat lapses (15 s), a live replica looks every 5 s: bounded well within a minute.
      await eventually(() => emulator.drive.openUploadSessions() <= openBefore, "the dead replica's session is cancelled", { tries: 600, everyMs: 100 });
      expect(emulator.drive.openUploadSessions()).toBe(openBefore);
      upload.destroy();
    } finally {
      try {
        process.kill(killed.pid, 'SIGKILL');
      } catch {
        // gone already
      }
      await live.close();
      await rm(childDir, { recursive: true, force: true });
    }
  }, 120_000);
});
