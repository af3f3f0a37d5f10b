import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { UploadProgress } from '../../src/dav/http/request-log.js';
import { ManualClock, type Clock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/logger.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { basic, dav, startDavStack, type DavStack } from '../helpers/stack.js';

const PASSWORD = 'correct horse battery staple';

describe('access log: one line per WebDAV request', () => {
  let stack: DavStack;
  const json = recordingLogger('json', 'info');
  const auth = { Authorization: basic('alice', PASSWORD) };

  beforeAll(async () => {
    const users = [{ name: 'alice', password: await hashPassword(PASSWORD, { N: 1 << 12, r: 8, p: 1 }) }];
    stack = await startDavStack({ dav: { users, anonymous: { enabled: false }, logger: json, download: { mode: 'proxy' } } });
    await stack.emulator.drive.putFile(stack.driveIds[0], '/Music/song.mp3', randomBytes(3000));
  });
  afterAll(() => stack.close());

  const lines = (filter: (r: Record<string, unknown>) => boolean) => json.accessLines().filter(filter);

  it('has method, path, status, ms, Graph calls, bytes in/out and user, and never the credentials', async () => {
    const body = 'hello, log';
    expect((await dav(stack, 'PUT', '/Music/note%20one.txt', { headers: auth, body })).status).toBe(201);
    const [put] = lines((r) => r.method === 'PUT');
    expect(put).toMatchObject({ level: 'info', path: '/Music/note%20one.txt', status: 201, bytesIn: body.length, bytesOut: 0, user: 'alice' });
    expect(put.graphCalls as number).toBeGreaterThan(0);
    expect(typeof put.ms).toBe('number');
    expect(Object.keys(put).sort()).toEqual(['bytesIn', 'bytesOut', 'graphCalls', 'level', 'method', 'ms', 'msg', 'path', 'status', 'time', 'user']);

    const get = await dav(stack, 'GET', '/Music/song.mp3?token=abc', { headers: auth });
    expect((await get.arrayBuffer()).byteLength).toBe(3000);
    const [download] = lines((r) => r.method === 'GET');
    expect(download).toMatchObject({ path: '/Music/song.mp3', status: 200, bytesOut: 3000, bytesIn: 0 });

    const refused = await dav(stack, 'PROPFIND', '/', { headers: { Authorization: basic('alice', 'wrong password'), Depth: '0' } });
    expect(refused.status).toBe(401);
    const [denied] = lines((r) => r.status === 401);
    expect(denied).toMatchObject({ method: 'PROPFIND', user: '-', graphCalls: 0 });

    const text = json.lines.join('');
    for (const secret of [PASSWORD, 'wrong password', basic('alice', PASSWORD).slice(6), 'token=abc']) expect(text).not.toContain(secret);
  });

  it('counts only the Graph calls made for each request: a cold listing calls, a warm one does not', async () => {
    await stack.emulator.drive.putFile(stack.driveIds[0], '/Cold/a.txt', 'a');
    stack.resetCounters();
    await dav(stack, 'PROPFIND', '/Cold/', { headers: { ...auth, Depth: '1' } });
    await dav(stack, 'PROPFIND', '/Cold/', { headers: { ...auth, Depth: '1' } });
    const [cold, warm] = lines((r) => r.method === 'PROPFIND' && r.path === '/Cold/');
    expect(cold.graphCalls).toBe(stack.graphCalls()); // all the emulator saw was for the first
    expect(cold.graphCalls as number).toBeGreaterThan(0);
    expect(warm.graphCalls).toBe(0);
  });

  it('attributes concurrent requests separately', async () => {
    await Promise.all(['/P1', '/P2', '/P3', '/P4'].map((p) => stack.emulator.drive.putFile(stack.driveIds[0], `${p}/x.txt`, p)));
    stack.resetCounters();
    await Promise.all(['/P1/', '/P2/', '/P3/', '/P4/'].map((p) => dav(stack, 'PROPFIND', p, { headers: { ...auth, Depth: '1' } })));
    const parallel = lines((r) => /^\/P\d\/$/.test(String(r.path)));
    expect(parallel).toHaveLength(4);
    const total = parallel.reduce((n, r) => n + (r.graphCalls as number), 0);
    expect(total).toBe(stack.graphCalls());
    for (const line of parallel) expect(line.graphCalls as number).toBeGreaterThan(0);
  });

  it('names the destination of COPY and MOVE', async () => {
    await dav(stack, 'COPY', '/Music/song.mp3', { headers: { ...auth, Destination: `${stack.url}/Music/copy%20of%20song.mp3` } });
    const [copy] = lines((r) => r.method === 'COPY');
    expect(copy).toMatchObject({ status: 201, path: '/Music/song.mp3', destination: '/Music/copy%20of%20song.mp3' });
  });

  it('writes a readable pretty line', async () => {
    const pretty = recordingLogger('pretty', 'info');
    const other = await startDavStack({ dav: { logger: pretty } });
    try {
      await dav(other, 'PUT', '/a%20b.txt', { body: 'x'.repeat(2048) });
      await dav(other, 'COPY', '/a%20b.txt', { headers: { Destination: `${other.url}/c.txt` } });
      expect(pretty.lines[pretty.lines.length - 2]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}PUT \/a%20b\.txt 201 \d+ms graph=\d+ in=2\.0KiB out=0B user=anonymous\n$/);
      expect(pretty.lines[pretty.lines.length - 1]).toMatch(/INFO {2}COPY \/a%20b\.txt → \/c\.txt 201 \d+ms graph=\d+ in=0B out=0B user=anonymous\n$/);
    } finally {
      await other.close();
    }
  });

  it('marks a request the client abandoned mid-body as 499, and keeps each entry on one line', async () => {
    // A client that sends part of a body and hangs up.
    await new Promise<void>((resolve) => {
      const url = new URL(stack.url);
      const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: '/half.bin', headers: { ...auth, 'Content-Length': '1000000' } });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(Buffer.alloc(100_000), () => req.destroy());
    });
    let abandoned: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && !abandoned; i++) {
      abandoned = lines((r) => r.path === '/half.bin')[0];
      if (!abandoned) await new Promise((r) => setTimeout(r, 10));
    }
    expect(abandoned).toMatchObject({ method: 'PUT', status: 499, user: 'alice' });
    expect(abandoned!.bytesIn as number).toBeLessThanOrEqual(100_000);

    expect((await dav(stack, 'GET', '/bad%0Aname', { headers: auth })).status).toBe(400);
    expect(lines((r) => r.status === 400)[0]).toMatchObject({ path: '/bad%0Aname' });
    expect(json.lines.every((l) => l.indexOf('\n') === l.length - 1)).toBe(true);
  });
});

describe('upload progress', () => {
  it('reports percent and MB/s every interval when the size is known, MB so far when it is not', () => {
    const clock = new ManualClock(0);
    const log = recordingLogger('json', 'info');
    const known = new UploadProgress({ logger: log, clock, path: '/big.bin', user: 'alice', total: 100e6 });
    clock.advance(4_000);
    known.update(40e6); // before the first 5 s: nothing
    clock.advance(1_000);
    known.update(50e6);
    clock.advance(2_000);
    known.update(60e6); // 2 s after the last report: nothing
    clock.advance(3_000);
    known.update(80e6);
    const unknown = new UploadProgress({ logger: log, clock, path: '/stream.bin', user: 'bob' });
    clock.advance(10_000);
    unknown.update(25e6);
    expect(log.records().map(({ time: _t, ...r }) => r)).toEqual([
      { level: 'info', msg: 'upload progress', path: '/big.bin', user: 'alice', bytes: 50e6, totalBytes: 100e6, percent: 50, mbPerSecond: 10 },
      { level: 'info', msg: 'upload progress', path: '/big.bin', user: 'alice', bytes: 80e6, totalBytes: 100e6, percent: 80, mbPerSecond: 6 },
      { level: 'info', msg: 'upload progress', path: '/stream.bin', user: 'bob', bytes: 25e6, mbPerSecond: 2.5 },
    ]);

    const lines: string[] = [];
    const pretty = createLogger({ format: 'pretty', write: (l) => lines.push(l) });
    const p = new UploadProgress({ logger: pretty, clock, path: '/big.bin', user: 'alice', total: 1_048_576_000 });
    clock.advance(5_000);
    p.update(440_401_920);
    const q = new UploadProgress({ logger: pretty, clock, path: '/stream.bin', user: 'alice' });
    clock.advance(5_000);
    q.update(12_345_678);
    expect(lines[0]).toMatch(/INFO {2}upload \/big\.bin 42% \(440\.4 of 1048\.6 MB\) at 88\.1 MB\/s user=alice\n$/);
    expect(lines[1]).toMatch(/INFO {2}upload \/stream\.bin 12\.3 MB so far at 2\.5 MB\/s user=alice\n$/);
  });

  it('is logged while a PUT streams through the server (clock moved one second per reading)', async () => {
    let now = 0;
    const stepping: Clock = { now: () => (now += 1_000) };
    const log = recordingLogger('json', 'info');
    const stack = await startDavStack({ dav: { logger: log, clock: stepping } });
    try {
      const body = randomBytes(12 * 1024 * 1024);
      expect((await dav(stack, 'PUT', '/progress.bin', { body })).status).toBe(201);
      const progress = log.records().filter((r) => r.msg === 'upload progress');
      expect(progress.length).toBeGreaterThan(0);
      for (const line of progress) {
        expect(line).toMatchObject({ path: '/progress.bin', user: 'anonymous', totalBytes: body.length });
        expect(line.percent as number).toBeGreaterThanOrEqual(0);
        expect(line.percent as number).toBeLessThanOrEqual(100);
        expect(line.mbPerSecond as number).toBeGreaterThanOrEqual(0);
      }
      const percents = progress.map((l) => l.percent as number);
      expect([...percents].sort((a, b) => a - b)).toEqual(percents);
      expect((await stack.emulator.drive.readFile(stack.driveIds[0], '/progress.bin')).equals(body)).toBe(true);
    } finally {
      await stack.close();
    }
  });
});
