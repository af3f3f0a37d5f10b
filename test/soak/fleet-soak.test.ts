import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_HAPROXY } from '../helpers/balancer.js';
import { eventually } from '../helpers/eventually.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { HAS_REDIS } from '../helpers/redis.js';
import { LockPropClient, PROP_KEY, PROP_NS } from './fleet-ops.js';
import { SoakHttp, type RetryPolicy, type SoakResponse } from './http.js';
import { checkDrive } from './verify.js';
import { SoakClient, SoakStats, VersionBook } from './workload.js';

/**
 * The soak in multi-replica mode: the soak's clients (uploads, several of them in many fragments,
 * GET, PROPFIND, MKCOL, MOVE, COPY, DELETE) and lock/property clients (LOCK, PUT with and without
 * the token, UNLOCK, PROPPATCH) go through a real haproxy in round robin over three real
 * `onedav serve` processes sharing one real redis-server, retrying (bounded) on a broken
 * connection, 502 or 503. In the middle, one replica is killed with SIGKILL while it has an upload
 * session open, and started again on its port; in a second run Redis is killed and restarted on
 * its data folder. Every count the report prints is asserted. ONEDAV_FLEET_SOAK_OPS scales it.
 */
const OPS = envNumber('ONEDAV_FLEET_SOAK_OPS', 160);
const CLIENTS = 4;
const LOCK_CLIENTS = 2;
const SEED = envNumber('ONEDAV_SOAK_SEED', 20_261_202);
const MAX_SIZE = 3 * 1024 * 1024;
/** Enough to outlast a replica's restart or a short Redis outage; bounded all the same. */
const RETRY: RetryPolicy = { attempts: 8, pauseMs: 250, maxPauseMs: 2_000 };
const LOCKINFO = Buffer.from(
  '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>fleet soak</D:owner></D:lockinfo>',
);

function envNumber(name: string, fallback: number): number {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number(value);
}

function proppatchBody(value: string): Buffer {
  return Buffer.from(`<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="${PROP_NS}"><D:set><D:prop><x:v>${value}</x:v></D:prop></D:set></D:propertyupdate>`);
}

const PROPFIND_V = Buffer.from(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:x="${PROP_NS}"><D:prop><x:v/></D:prop></D:propfind>`);

/** The value of the soak's dead property on `path`, read through `http`. */
async function propertyOf(http: SoakHttp, path: string): Promise<string | undefined> {
  const res = await http.send({ method: 'PROPFIND', path, headers: { Depth: '0', 'Content-Type': 'application/xml' }, body: PROPFIND_V, keepBody: true });
  if (res.status !== 207) return `(PROPFIND ${res.status})`;
  return parseMultistatus(res.body!.toString('utf8'))[0]?.props[PROP_KEY];
}

async function lock(http: SoakHttp, path: string, seconds = 3600): Promise<SoakResponse & { token?: string }> {
  const res = await http.send({ method: 'LOCK', path, headers: { 'Content-Type': 'application/xml', Timeout: `Second-${seconds}` }, body: LOCKINFO, keepBody: true });
  return { ...res, token: /<([^>]+)>/.exec(String(res.headers['lock-token'] ?? ''))?.[1] };
}

/**
 * Upload sessions open on the emulator (any request to an upload URL sweeps expired ones first),
 * leaving out those in `before`: those onedav sent fragments to (it had recorded them in Redis
 * first, so they must have been committed or cancelled), and those it never used, with the time
 * each was made — a replica killed between createUploadSession's answer and recording the session
 * leaves one per upload it had at that point, which no one can reach (Graph has no way to list
 * sessions: microsoftgraph/microsoft-graph-docs-contrib#412) and which expires on its own.
 */
async function openSessions(fleet: Fleet, before: ReadonlySet<string> = new Set()): Promise<{ used: number; neverUsed: number; neverUsedMadeAt: number[]; ids: Set<string> }> {
  await fetch(`${fleet.emulator.url}/up/sweep`).then((r) => r.arrayBuffer());
  const open = fleet.emulator.drive.uploadFragments().filter((log) => log.outcome === 'open' && !before.has(log.sessionId));
  const neverUsed = open.filter((log) => log.fragments.length === 0);
  return { used: open.length - neverUsed.length, neverUsed: neverUsed.length, neverUsedMadeAt: neverUsed.map((log) => log.createdAt ?? 0), ids: new Set(open.map((log) => log.sessionId)) };
}

/**
 * How long before the kill a session the dead replica had not yet recorded may have been made: its
 * createUploadSession answer, then one Redis write, on a loaded machine. And after it: a request the
 * replica sent just before it died is still served by the emulator (in this process).
 */
const KILL_WINDOW_BEFORE_MS = 5_000;
const KILL_WINDOW_AFTER_MS = 2_000;

describe.skipIf(!HAS_REDIS || !HAS_HAPROXY)('soak, multi-replica mode: three onedav processes behind haproxy on one Redis', () => {
  let fleet: Fleet;
  let raw: Redis;

  beforeAll(async () => {
    fleet = await startFleet({
      replicas: 3,
      persistentRedis: true,
      // Uploads above 64 KiB go through upload sessions in 320 KiB fragments: a file of a few MiB is many calls.
      config: { upload: { simpleMax: 64 * 1024, fragmentSize: 327_680 }, log: { level: 'warn', format: 'json' } },
    });
    raw = new Redis({ host: '127.0.0.1', port: fleet.redis.port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
    raw.on('error', () => undefined); // down on purpose while Redis is killed
    await raw.connect();
  }, 240_000);
  afterAll(async () => {
    raw?.disconnect();
    await fleet?.close();
  });

  it('kill -9 of a replica in the middle of uploads, locks and PROPPATCHes: clients finish, nothing acknowledged is lost, locks and properties hold, no session is left open', { timeout: 240_000 }, async () => {
    const base = new URL(fleet.url);
    const setup = new SoakHttp(base, RETRY);
    for (const path of ['/soak', ...Array.from({ length: CLIENTS }, (_, i) => `/soak/c${i}`)]) expect((await setup.send({ method: 'MKCOL', path })).status).toBe(201);
    // A lock and a property taken before the kill, to be checked through every replica after it.
    expect((await setup.send({ method: 'PUT', path: '/soak/held.txt', body: Buffer.from('held') })).status).toBe(201);
    expect((await setup.send({ method: 'PROPPATCH', path: '/soak/held.txt', headers: { 'Content-Type': 'application/xml' }, body: proppatchBody('before-the-kill') })).status).toBe(207);
    const held = await lock(setup, '/soak/held.txt');
    expect(held.status).toBe(200);

    const stats = new SoakStats();
    const versions = new VersionBook(SEED);
    const https = Array.from({ length: CLIENTS + LOCK_CLIENTS }, () => new SoakHttp(base, RETRY));
    const clients = https.slice(0, CLIENTS).map((http, i) => new SoakClient(i, http, versions, stats, { seed: SEED, maxSize: MAX_SIZE }));
    const lockers = https.slice(CLIENTS).map((http, i) => new LockPropClient(i, http, stats, SEED));
    for (const locker of lockers) await locker.setup();

    // The kill: once a third of the work is done, as soon as a replica has an upload session open.
    let kill: { pid: number; replica: number; sessionsOpen: number; opsBefore: number; sessionIds: string[]; startedAt: number; endedAt: number } | undefined;
    const killer = (async () => {
      await eventually(() => stats.ops >= OPS / 3, 'a third of the operations done', { tries: 4000, everyMs: 25 });
      for (let i = 0; i < 2000 && !kill; i++) {
        for (const [index, replica] of fleet.replicas.entries()) {
          const pid = replica.pid();
          const keys = await raw.keys(`fleet:sessions:*-${pid}-*`);
          // One read of the registry: a count and a list read apart could disagree (an upload ending between them).
          const recorded = keys.length ? await raw.hvals(keys[0]) : [];
          if (pid && recorded.length > 0) {
            // On a loopback Redis without ONEDAV_STATE_KEY the registry holds the upload URLs as they are: …/up/<session id>.
            const sessionIds = recorded.map((v) => (JSON.parse(v) as { uploadUrl: string }).uploadUrl.split('/').pop()!);
            const startedAt = Date.now();
            await replica.kill();
            kill = { pid, replica: index, sessionsOpen: recorded.length, opsBefore: stats.ops, sessionIds, startedAt, endedAt: Date.now() };
            break;
          }
        }
        if (!kill) await new Promise((r) => setTimeout(r, 10));
      }
      if (!kill) throw new Error('no replica had an upload session open to be killed in');
      await fleet.replicas[kill.replica].start();
    })();

    const perClient = Math.ceil(OPS / CLIENTS);
    await Promise.all([...clients.map((c) => c.run(perClient)), ...lockers.map((l) => l.run(Math.ceil(perClient / 2))), killer]);
    const killed = kill!;

    // The sessions the dead replica recorded are cancelled by a live replica once its heartbeat lapsed (15 s).
    const sessionsAfterWorkload = await openSessions(fleet);
    await eventually(async () => (await raw.keys(`fleet:sessions:*-${killed.pid}-*`)).length === 0, 'the dead replica’s upload sessions swept', { tries: 480, everyMs: 250 });
    for (let i = 0; i < 200 && fleet.emulator.drive.fragmentsInFlight() > 0; i++) await new Promise((r) => setTimeout(r, 50));
    const sessionsLeft = await openSessions(fleet);
    // Each session the dead replica had recorded: cancelled by the sweep, or committed had its last fragment landed.
    const deadReplicaSessions = killed.sessionIds.map((id) => fleet.emulator.drive.uploadFragments().find((log) => log.sessionId === id)?.outcome ?? 'unknown');

    // Through each replica on its own (the restarted one included): the lock taken before the kill, its property.
    const direct = fleet.replicas.map((r) => new SoakHttp(new URL(r.url)));
    const heldAnswers: number[] = [];
    const heldProperties: Array<string | undefined> = [];
    for (const http of direct) {
      heldAnswers.push((await http.send({ method: 'PUT', path: '/soak/held.txt', body: Buffer.from('intruder') })).status);
      heldProperties.push(await propertyOf(http, '/soak/held.txt'));
    }
    const unlock = await direct[killed.replica].send({ method: 'UNLOCK', path: '/soak/held.txt', headers: { 'Lock-Token': `<${held.token}>` } });
    const wrongProperties: string[] = [];
    for (const locker of lockers) for (const http of direct) wrongProperties.push(...(await locker.checkProperties(http)));

    // The drive: the soak's clients, and the lock clients' files.
    const check = await checkDrive(fleet.emulator, fleet.driveId, clients, versions);
    const lockFiles = { files: 0, mismatches: 0, partial: 0 };
    for (const locker of lockers) {
      for (const path of locker.files.keys()) {
        lockFiles.files++;
        const bytes = await fleet.emulator.drive.readFile(fleet.driveId, path.slice(1));
        const sha = createHash('sha256').update(bytes).digest('hex');
        if (locker.matches(path, bytes.length, sha)) continue;
        if (locker.partialOf(path, bytes.length, sha)) lockFiles.partial++;
        else lockFiles.mismatches++;
      }
    }
    const heldBytes = (await fleet.emulator.drive.readFile(fleet.driveId, 'soak/held.txt')).toString();
    for (const http of [setup, ...https, ...direct]) http.close();

    const counts = lockers.reduce(
      (sum, l) => ({
        proppatches: sum.proppatches + l.counts.proppatches,
        lockCycles: sum.lockCycles + l.counts.lockCycles,
        enforced: sum.enforced + l.counts.enforced,
        notEnforced: sum.notEnforced + l.counts.notEnforced,
        tokenRefused: sum.tokenRefused + l.counts.tokenRefused,
        readMismatches: sum.readMismatches + l.counts.readMismatches,
      }),
      { proppatches: 0, lockCycles: 0, enforced: 0, notEnforced: 0, tokenRefused: 0, readMismatches: 0 },
    );
    const retries = new Map<number, number>();
    for (const http of https) for (const [status, n] of http.retried) retries.set(status, (retries.get(status) ?? 0) + n);
    const multiFragment = fleet.emulator.drive.uploadFragments().filter((log) => log.outcome === 'committed' && log.fragments.length > 1).length;
    const answers = Object.fromEntries([...stats.byAnswer].sort());
    const report = {
      seed: SEED,
      clients: `${CLIENTS} soak + ${LOCK_CLIENTS} lock/property`,
      opsDone: stats.ops,
      killed: killed,
      retriesByStatus: Object.fromEntries(retries),
      multiFragmentUploads: multiFragment,
      uploaded: `${(stats.bytesUp / 1048576).toFixed(1)} MiB`,
      lostAcknowledgedWrites: check.lostAcknowledged,
      contentMismatches: check.contentMismatches + lockFiles.mismatches,
      partialFiles: check.partialFiles + lockFiles.partial,
      unexpectedItems: check.unexpectedItems,
      hashMismatches: check.hashMismatches,
      readMismatches: stats.countOf('readMismatch') + counts.readMismatches,
      listingMismatches: stats.countOf('listingMismatch'),
      wrongAnswers: stats.countOf('wrongAnswer'),
      internalErrors: stats.countOf('internalError'),
      locks: { cycles: counts.lockCycles, putWithoutTokenRefused: counts.enforced, putWithoutTokenAccepted: counts.notEnforced, putWithTokenRefused: counts.tokenRefused },
      proppatches: counts.proppatches,
      wrongProperties: wrongProperties.length,
      lockTakenBeforeKill: { putWithoutTokenPerReplica: heldAnswers, propertyPerReplica: heldProperties, unlockThroughRestarted: unlock.status },
      deadReplicaSessions,
      uploadSessionsOpenWhenTheWorkEnded: sessionsAfterWorkload.used + sessionsAfterWorkload.neverUsed,
      uploadSessionsLeftOpen: sessionsLeft.used,
      uploadSessionsNeverUsed: sessionsLeft.neverUsed,
      neverUsedMadeMsFromKill: sessionsLeft.neverUsedMadeAt.map((madeAt) => madeAt - killed.startedAt),
      drivePaths: { checked: check.paths, files: check.files + lockFiles.files, folders: check.folders },
      answers,
    };
    console.log(`fleet soak report (kill -9)\n${JSON.stringify(report, null, 2)}`);
    const details = [...check.details, ...lockers.flatMap((l) => l.details), ...wrongProperties, ...stats.violations.slice(0, 30).map((v) => `${v.kind} ${v.op}: ${v.detail}`)];
    if (details.length) console.log(`details:\n${details.map((d) => `  ${d}`).join('\n')}`);

    expect(stats.ops).toBeGreaterThanOrEqual(OPS);
    expect(killed.sessionsOpen).toBeGreaterThan(0);
    expect(killed.opsBefore).toBeLessThan(stats.ops);
    expect(multiFragment).toBeGreaterThan(0);
    expect(check.lostAcknowledged).toBe(0);
    expect(report.contentMismatches).toBe(0);
    expect(report.partialFiles).toBe(0);
    expect(check.unexpectedItems).toBe(0);
    expect(check.hashMismatches).toBe(0);
    expect(report.readMismatches).toBe(0);
    expect(report.listingMismatches).toBe(0);
    expect(report.wrongAnswers).toBe(0);
    expect(report.internalErrors).toBe(0);
    expect(stats.violations).toEqual([]);
    expect(counts.lockCycles).toBeGreaterThan(0);
    expect(counts.enforced).toBeGreaterThan(0);
    expect(counts.notEnforced).toBe(0);
    expect(counts.tokenRefused).toBe(0);
    expect(counts.proppatches).toBeGreaterThan(0);
    expect(wrongProperties).toEqual([]);
    expect(lockers.flatMap((l) => l.details)).toEqual([]);
    expect(heldAnswers).toEqual([423, 423, 423]);
    expect(heldProperties).toEqual(['before-the-kill', 'before-the-kill', 'before-the-kill']);
    expect(heldBytes).toBe('held');
    expect(unlock.status).toBe(204);
    expect(deadReplicaSessions.length).toBeGreaterThan(0);
    for (const outcome of deadReplicaSessions) expect(['cancelled', 'committed']).toContain(outcome);
    expect(sessionsLeft.used).toBe(0);
    // A session never used is the kill's doing only if it was made in the kill's window, one per upload the replica could have had.
    const inKillWindow = (madeAt: number) => madeAt >= killed.startedAt - KILL_WINDOW_BEFORE_MS && madeAt <= killed.endedAt + KILL_WINDOW_AFTER_MS;
    expect(sessionsLeft.neverUsedMadeAt.filter((madeAt) => !inKillWindow(madeAt))).toEqual([]);
    expect(sessionsLeft.neverUsed).toBeLessThanOrEqual(CLIENTS + LOCK_CLIENTS);
  });

  it('Redis killed and restarted on its data folder mid-workload: 503 with Retry-After for what needs shared state, no split brain, reconnects by itself, nothing lost', { timeout: 240_000 }, async () => {
    const base = new URL(fleet.url);
    const setup = new SoakHttp(base, RETRY);
    expect([201, 405]).toContain((await setup.send({ method: 'MKCOL', path: '/soak' })).status);
    const roots = [10, 11];
    for (const i of roots) expect((await setup.send({ method: 'MKCOL', path: `/soak/c${i}` })).status).toBe(201);
    // State from before the outage: a file, its dead property, a lock.
    expect((await setup.send({ method: 'PUT', path: '/soak/before.txt', body: Buffer.from('before the outage') })).status).toBe(201);
    expect((await setup.send({ method: 'PROPPATCH', path: '/soak/before.txt', headers: { 'Content-Type': 'application/xml' }, body: proppatchBody('before-the-outage') })).status).toBe(207);
    expect((await setup.send({ method: 'PUT', path: '/soak/locked.txt', body: Buffer.from('locked before the outage') })).status).toBe(201);
    const held = await lock(setup, '/soak/locked.txt');
    expect(held.status).toBe(200);

    const sessionsBefore = (await openSessions(fleet)).ids;
    const stats = new SoakStats();
    const versions = new VersionBook(SEED + 2);
    const https = roots.map(() => new SoakHttp(base, RETRY));
    const clients = https.map((http, i) => new SoakClient(roots[i], http, versions, stats, { seed: SEED + 2, maxSize: MAX_SIZE }));
    const perClient = Math.ceil(OPS / 2 / clients.length);
    const workload = Promise.all(clients.map((c) => c.run(perClient)));
    await eventually(() => stats.ops >= perClient / 2, 'the workload under way', { tries: 4000, everyMs: 25 });

    await fleet.redis.kill();
    // While it is down, through each replica on its own (no retries): what answers what.
    const direct = fleet.replicas.map((r) => new SoakHttp(new URL(r.url)));
    const during: Record<string, number[]> = {};
    const retryAfterMissing: string[] = [];
    const record = (what: string, res: SoakResponse) => {
      (during[what] ??= []).push(res.status);
      if (res.status === 503 && !(Number(res.headers['retry-after']) > 0)) retryAfterMissing.push(what);
    };
    let getBodies = 0;
    for (const [i, http] of direct.entries()) {
      record('LOCK', await lock(http, `/soak/outage-${i}.txt`));
      record('PUT (locked file, no token)', await http.send({ method: 'PUT', path: '/soak/locked.txt', body: Buffer.from('intruder') }));
      record('PUT (new file)', await http.send({ method: 'PUT', path: `/soak/new-${i}.txt`, body: Buffer.from('new') }));
      record('PROPPATCH', await http.send({ method: 'PROPPATCH', path: '/soak/before.txt', headers: { 'Content-Type': 'application/xml' }, body: proppatchBody('during-the-outage') }));
      record('UNLOCK', await http.send({ method: 'UNLOCK', path: '/soak/locked.txt', headers: { 'Lock-Token': `<${held.token}>` } }));
      record('DELETE', await http.send({ method: 'DELETE', path: '/soak/before.txt' }));
      record('PROPFIND (dead property)', await http.send({ method: 'PROPFIND', path: '/soak/before.txt', headers: { Depth: '0', 'Content-Type': 'application/xml' }, body: PROPFIND_V }));
      record('PROPFIND (allprop)', await http.send({ method: 'PROPFIND', path: '/soak/', headers: { Depth: '1' } }));
      const get = await http.send({ method: 'GET', path: '/soak/before.txt', keepBody: true });
      record('GET', get);
      if (get.status === 200 && get.body?.toString() === 'before the outage') getBodies++;
    }
    // Two clients after one lock, and two uploads of one path, through two replicas at once: neither is granted.
    const contested = await Promise.all([lock(direct[0], '/soak/contested.txt'), lock(direct[2], '/soak/contested.txt')]);
    const doubled = await Promise.all([0, 2].map((i) => direct[i].send({ method: 'PUT', path: '/soak/doubled.txt', body: Buffer.from(`from ${i}`) })));
    for (const res of contested) record('LOCK (contested)', res);
    for (const res of doubled) record('PUT (same path, two replicas)', res);

    await fleet.redis.start();
    // onedav reconnects by itself: a LOCK through every replica is granted again (bounded polling).
    let polls = 0;
    const afterLocks: Array<string | undefined> = [];
    for (const [i, http] of direct.entries()) {
      await eventually(
        async () => {
          polls++;
          const res = await lock(http, `/soak/after-${i}.txt`, 60);
          // 201: a lock on an unmapped URL creates an empty file (RFC 4918 §9.10.4).
          if (res.status === 201) afterLocks.push(res.token);
          return res.status === 201;
        },
        `replica ${i} locks again once Redis is back`,
        { tries: 120, everyMs: 250 },
      );
    }
    await workload;

    // Nothing lost: the file, its property and its lock (through every replica); the workload's writes.
    const lockedAnswers: number[] = [];
    const properties: Array<string | undefined> = [];
    for (const http of direct) {
      lockedAnswers.push((await http.send({ method: 'PUT', path: '/soak/locked.txt', body: Buffer.from('intruder') })).status);
      properties.push(await propertyOf(http, '/soak/before.txt'));
    }
    const unlock = await direct[1].send({ method: 'UNLOCK', path: '/soak/locked.txt', headers: { 'Lock-Token': `<${held.token}>` } });
    for (let i = 0; i < 200 && fleet.emulator.drive.fragmentsInFlight() > 0; i++) await new Promise((r) => setTimeout(r, 50));
    const sessionsLeft = await openSessions(fleet, sessionsBefore);
    const check = await checkDrive(fleet.emulator, fleet.driveId, clients, versions);
    const onDrive = (path: string) => fleet.emulator.drive.readFile(fleet.driveId, path).then((b) => b.toString(), () => undefined);
    const files = { before: await onDrive('soak/before.txt'), locked: await onDrive('soak/locked.txt'), doubled: await onDrive('soak/doubled.txt'), contested: await onDrive('soak/contested.txt') };
    for (const http of [setup, ...https, ...direct]) http.close();

    const workloadRetries = new Map<number, number>();
    for (const http of https) for (const [status, n] of http.retried) workloadRetries.set(status, (workloadRetries.get(status) ?? 0) + n);
    const report = {
      duringTheOutage: during,
      retryAfterMissing,
      getServedTheFile: `${getBodies}/${direct.length}`,
      pollsUntilEveryReplicaLockedAgain: polls,
      workload: { ops: stats.ops, retriesByStatus: Object.fromEntries(workloadRetries), answers: Object.fromEntries([...stats.byAnswer].sort()) },
      lostAcknowledgedWrites: check.lostAcknowledged,
      contentMismatches: check.contentMismatches,
      partialFiles: check.partialFiles,
      unexpectedItems: check.unexpectedItems,
      violations: stats.violations.length,
      afterTheOutage: { putLockedFileWithoutTokenPerReplica: lockedAnswers, propertyPerReplica: properties, unlock: unlock.status, files },
      uploadSessionsLeftOpen: sessionsLeft.used + sessionsLeft.neverUsed,
    };
    console.log(`fleet soak report (Redis outage)\n${JSON.stringify(report, null, 2)}`);
    if (check.details.length || stats.violations.length) console.log([...check.details, ...stats.violations.map((v) => `${v.kind} ${v.op}: ${v.detail}`)].join('\n'));

    // Everything that reads or writes locks, dead properties or upload ownership: 503 with Retry-After.
    for (const what of ['LOCK', 'PUT (locked file, no token)', 'PUT (new file)', 'PROPPATCH', 'UNLOCK', 'DELETE', 'PROPFIND (dead property)', 'LOCK (contested)', 'PUT (same path, two replicas)']) {
      expect(during[what], what).toEqual(during[what].map(() => 503));
    }
    expect(retryAfterMissing).toEqual([]);
    // What needs none keeps working: a plain read.
    expect(during.GET).toEqual([200, 200, 200]);
    expect(getBodies).toBe(direct.length);
    expect(afterLocks).toHaveLength(direct.length);
    // The workload ran through the outage: it met 503s and retried past them.
    expect(workloadRetries.get(503) ?? 0).toBeGreaterThan(0);
    expect(stats.ops).toBeGreaterThanOrEqual(perClient * clients.length);
    expect(check.lostAcknowledged).toBe(0);
    expect(check.contentMismatches).toBe(0);
    expect(check.partialFiles).toBe(0);
    expect(check.unexpectedItems).toBe(0);
    expect(stats.violations).toEqual([]);
    expect(lockedAnswers).toEqual([423, 423, 423]);
    expect(properties).toEqual(['before-the-outage', 'before-the-outage', 'before-the-outage']);
    expect(unlock.status).toBe(204);
    expect(files).toEqual({ before: 'before the outage', locked: 'locked before the outage', doubled: undefined, contested: undefined });
    expect(sessionsLeft.used + sessionsLeft.neverUsed).toBe(0);
  });
});
