import { mulberry32 } from '../../src/emulator/faults.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { contentChunks, makeVersion, sha256Of } from './content.js';
import type { SoakHttp, SoakResponse } from './http.js';
import { outcomeOf, type SoakStats } from './workload.js';

/**
 * The soak's lock and dead-property clients (multi-replica mode): each owns a folder
 * (`/soak/x<i>`) of a few files, and in a seeded random order sets a dead property (PROPPATCH),
 * or runs a lock cycle — LOCK, a PUT without the token (must be 423), a PUT with it, UNLOCK — or
 * reads a file back. What it was told is kept per file as the set of values (property) and
 * versions (bytes) that may be there, as the soak's Model does for paths; the end check reads them
 * through every replica.
 */
export const PROP_NS = 'urn:onedav-soak';
export const PROP_KEY = `{${PROP_NS}}v`;
const FILES = 3;
/** Locks of a cycle outlive any retry (a write waiting out a dead replica's upload lease takes 30 s); one whose UNLOCK answer was lost blocks its file no longer than this. */
const LOCK_SECONDS = 120;

export interface LockPropCounts {
  proppatches: number;
  lockCycles: number;
  /** A PUT without the token of a lock that was certainly held answered 423. */
  enforced: number;
  /** …or did not: the lock was not enforced. */
  notEnforced: number;
  /** A PUT with the token of a lock certainly held was refused (4xx). */
  tokenRefused: number;
  /** A file read back held bytes none of its possible versions has. */
  readMismatches: number;
}

interface FileModel {
  /** Version ids of the soak's VersionBook seed space, here our own: `makeVersion(seed, id, size)`. */
  versions: Set<number>;
  values: Set<string | undefined>;
  /** A lock of unknown token may be on it (a LOCK or UNLOCK whose answer never came): no more lock cycles. */
  tainted: boolean;
}

export class LockPropClient {
  readonly root: string;
  readonly files = new Map<string, FileModel>();
  readonly counts: LockPropCounts = { proppatches: 0, lockCycles: 0, enforced: 0, notEnforced: 0, tokenRefused: 0, readMismatches: 0 };
  readonly details: string[] = [];
  private readonly random: () => number;
  private nextVersion: number;

  constructor(
    readonly index: number,
    private readonly http: SoakHttp,
    private readonly stats: SoakStats,
    private readonly seed: number,
  ) {
    this.root = `/soak/x${index}`;
    this.random = mulberry32(seed * 7919 + index);
    this.nextVersion = (index + 1) * 1_000_000;
  }

  /** Sizes are small: the point is the lock and property state, not the upload. */
  version(id: number) {
    return makeVersion(this.seed, id, 1000 + (id % 5000));
  }

  async setup(): Promise<void> {
    const res = await this.http.send({ method: 'MKCOL', path: this.root });
    if (res.status !== 201) throw new Error(`MKCOL ${this.root}: ${res.status}`);
    for (let i = 0; i < FILES; i++) {
      const path = `${this.root}/f${i}.txt`;
      const id = this.nextVersion++;
      const put = await this.put(path, id);
      if (put.status !== 201) throw new Error(`PUT ${path}: ${put.status}`);
      this.files.set(path, { versions: new Set([id]), values: new Set([undefined]), tainted: false });
    }
  }

  async run(ops: number, shouldStop: () => boolean = () => false): Promise<void> {
    for (let i = 0; i < ops && !shouldStop(); i++) await this.step();
  }

  private async step(): Promise<void> {
    const paths = [...this.files.keys()];
    const path = paths[Math.floor(this.random() * paths.length)];
    const r = this.random();
    if (r < 0.45) return this.proppatch(path);
    if (r < 0.85) return this.lockCycle(path);
    return this.read(path);
  }

  private async proppatch(path: string): Promise<void> {
    const file = this.files.get(path)!;
    const value = `c${this.index}-${Math.floor(this.random() * 1e9)}`;
    const body = Buffer.from(
      `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="${PROP_NS}"><D:set><D:prop><x:v>${value}</x:v></D:prop></D:set></D:propertyupdate>`,
    );
    const res = await this.http.send({ method: 'PROPPATCH', path, headers: { 'Content-Type': 'application/xml' }, body, keepBody: true });
    this.stats.count('PROPPATCH', res, path);
    this.counts.proppatches++;
    const set = res.status === 207 && /HTTP\/1\.1 200/.test(res.body?.toString('utf8') ?? '');
    if (set && !res.uncertainAttempts) file.values = new Set([value]);
    else if (res.status === 423 && !file.tainted) this.note(`PROPPATCH ${path}: 423 with no lock held`);
    else if (set || !(res.status >= 400 && res.status < 500)) file.values.add(value);
  }

  private async lockCycle(path: string): Promise<void> {
    const file = this.files.get(path)!;
    if (file.tainted) return this.read(path);
    this.counts.lockCycles++;
    const lockinfo = Buffer.from(
      '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>soak</D:owner></D:lockinfo>',
    );
    const lock = await this.http.send({ method: 'LOCK', path, headers: { 'Content-Type': 'application/xml', Timeout: `Second-${LOCK_SECONDS}` }, body: lockinfo, keepBody: true });
    this.stats.count('LOCK', lock, path);
    const token = /<([^>]+)>/.exec(String(lock.headers['lock-token'] ?? ''))?.[1];
    if (lock.status !== 200 || !token || lock.uncertainAttempts) {
      // An attempt whose answer never came may hold a lock we have no token for.
      if (outcomeOf(lock) !== 'refused' || lock.uncertainAttempts) file.tainted = true;
      else this.note(`LOCK ${path}: ${lock.status} on a file no one else locks`);
      return;
    }
    // Without the token: refused, whichever replica answers.
    const intruder = this.nextVersion++;
    const blocked = await this.put(path, intruder);
    this.stats.count('PUT(no token)', blocked, path);
    if (blocked.status === 423) this.counts.enforced++;
    else if (blocked.status >= 200 && blocked.status < 300) {
      this.counts.notEnforced++;
      this.note(`PUT ${path} without the lock token: ${blocked.status}`);
    }
    if (!(blocked.status >= 400 && blocked.status < 500)) file.versions.add(intruder);
    // With it: written.
    const id = this.nextVersion++;
    const written = await this.put(path, id, { If: `(<${token}>)` });
    this.stats.count('PUT(token)', written, path);
    const writtenOutcome = outcomeOf(written);
    if (writtenOutcome === 'ok' && !written.uncertainAttempts) file.versions = new Set([id]);
    else if (writtenOutcome === 'refused' && !written.uncertainAttempts) {
      this.counts.tokenRefused++;
      this.note(`PUT ${path} with its lock token: ${written.status}`);
    } else file.versions.add(id);
    const unlock = await this.http.send({ method: 'UNLOCK', path, headers: { 'Lock-Token': `<${token}>` } });
    this.stats.count('UNLOCK', unlock, path);
    if (unlock.status !== 204) {
      // Not unlocked for sure: leave the file alone (its lock expires after LOCK_SECONDS).
      file.tainted = true;
      if (outcomeOf(unlock) === 'refused' && !unlock.uncertainAttempts) this.note(`UNLOCK ${path}: ${unlock.status}`);
    }
  }

  private async read(path: string): Promise<void> {
    const res = await this.http.send({ method: 'GET', path });
    this.stats.count('GET(lock file)', res, path);
    if (res.status !== 200 || res.truncated) return;
    this.stats.bytesDown += res.length;
    if (!this.matches(path, res.length, res.sha256)) {
      this.counts.readMismatches++;
      this.note(`GET ${path}: ${res.length} bytes matching none of ${[...this.files.get(path)!.versions].join(',')}`);
    }
  }

  /** Whether `length` bytes hashing to `sha256` are one of the versions `path` may hold. */
  matches(path: string, length: number, sha256: string): boolean {
    return [...this.files.get(path)!.versions].some((id) => {
      const v = this.version(id);
      return v.size === length && v.sha256 === sha256;
    });
  }

  /** Whether they are the start of one of them (a torn upload). */
  partialOf(path: string, length: number, sha256: string): boolean {
    return [...this.files.get(path)!.versions].some((id) => {
      const v = this.version(id);
      return v.size > length && sha256Of(v.key, 0, length) === sha256;
    });
  }

  /** The property values PROPFIND through `http` shows, checked against the model; returns the wrong ones. */
  async checkProperties(http: SoakHttp): Promise<string[]> {
    const wrong: string[] = [];
    const body = Buffer.from(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:x="${PROP_NS}"><D:prop><x:v/></D:prop></D:propfind>`);
    const res = await http.send({ method: 'PROPFIND', path: `${this.root}/`, headers: { Depth: '1', 'Content-Type': 'application/xml' }, body, keepBody: true });
    if (res.status !== 207) return [`PROPFIND ${this.root}: ${res.status}`];
    const listed = new Map(parseMultistatus(res.body!.toString('utf8')).map((r) => [r.path, r.props[PROP_KEY]]));
    for (const [path, file] of this.files) {
      if (!listed.has(path)) wrong.push(`${path}: not listed`);
      else if (!file.values.has(listed.get(path))) wrong.push(`${path}: property ${listed.get(path)}, expected one of ${[...file.values].join(',')}`);
    }
    return wrong;
  }

  private put(path: string, id: number, headers: Record<string, string> = {}): Promise<SoakResponse> {
    const v = this.version(id);
    return this.http.send({ method: 'PUT', path, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(v.size), ...headers }, body: () => contentChunks(v.key, 0, v.size), keepBody: true });
  }

  private note(text: string): void {
    if (this.details.length < 40) this.details.push(text);
  }
}
