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

/** Upload sessions still open on the emulator (any request to an upload URL sweeps expired ones first). */
async function openSessions(fleet: Fleet): Promise<number> {
  await fetch(`${fleet.emulator.url}/up/sweep`).then((r) => r.arrayBuffer());
  return fleet.emulator.drive.openUploadSessions();
}

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
    let kill: { pid: number; replica: number; sessionsOpen: number; opsBefore: number } | undefined;
    const killer = (async () => {
      await eventually(() => stats.ops >= OPS / 3, 'a third of the operations done', { tries: 4000, everyMs: 25 });
      for (let i = 0; i < 2000 && !kill; i++) {
        for (const [index, replica] of fleet.replicas.entries()) {
          const pid = replica.pid();
          const keys = await raw.keys(`fleet:sessions:*-${pid}-*`);
          const open = keys.length ? await raw.hlen(keys[0]) : 0;
          if (pid && open > 0) {
            kill = { pid, replica: index, sessionsOpen: open, opsBefore: stats.ops };
            await replica.kill();
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

    // The sessions the dead replica left are cancelled by a live replica once its heartbeat lapsed.
    const sessionsAfterWorkload = await openSessions(fleet);
    let sessionsLeft = sessionsAfterWorkload;
    await eventually(async () => (sessionsLeft = await openSessions(fleet)) === 0, 'the dead replica’s upload sessions cancelled', { tries: 240, everyMs: 250 }).catch(() => undefined);
    for (let i = 0; i < 200 && fleet.emulator.drive.fragmentsInFlight() > 0; i++) await new Promise((r) => setTimeout(r, 50));

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
        const sha = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
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
      uploadSessionsOpenWhenTheWorkEnded: sessionsAfterWorkload,
      uploadSessionsLeftOpen: sessionsLeft,
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
    expect(sessionsLeft).toBe(0);
  });
});
