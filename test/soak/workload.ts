import { encodeSegment } from '../../src/dav/protocol/paths.js';
import { mulberry32 } from '../../src/emulator/faults.js';
import { parseMultistatus } from '../helpers/multistatus.js';
import { contentBytes, contentChunks, makeVersion, sha256Of, type Version } from './content.js';
import { SoakHttp, type SoakResponse } from './http.js';
import { Model, parentOf, type Outcome } from './model.js';

/**
 * The soak's clients: each owns a folder (`/soak/c<i>`) and runs a seeded random sequence of
 * WebDAV operations in it, one at a time, recording in its Model what it was told. Clients run in
 * parallel, so the server sees concurrent uploads, listings, moves and reads on one drive.
 * Answers that contradict what the client certainly knows are recorded as violations.
 */
export interface WorkloadOptions {
  seed: number;
  /** Largest PUT body. */
  maxSize: number;
}

export interface Violation {
  kind: 'wrongAnswer' | 'readMismatch' | 'listingMismatch' | 'internalError';
  op: string;
  detail: string;
}

export class SoakStats {
  ops = 0;
  readonly byOp = new Map<string, number>();
  readonly byAnswer = new Map<string, number>();
  bytesUp = 0;
  bytesDown = 0;
  redirects = { followed: 0, verified: 0, failed: 0, staleUrl: 0 };
  readonly violations: Violation[] = [];

  /** Every operation in order, for explaining a violation: `c<i> OP path → status`. */
  readonly trace: string[] = [];

  count(op: string, res: SoakResponse, what = ''): void {
    this.trace.push(`${what} ${op} → ${res.aborted && res.status === 0 ? 'aborted' : res.status}${res.error ? ` (${res.error})` : ''}`);
    this.ops++;
    this.byOp.set(op, (this.byOp.get(op) ?? 0) + 1);
    const answer = `${op} ${res.aborted && res.status === 0 ? 'aborted' : res.status}`;
    this.byAnswer.set(answer, (this.byAnswer.get(answer) ?? 0) + 1);
  }

  violation(kind: Violation['kind'], op: string, detail: string): void {
    this.violations.push({ kind, op, detail });
  }

  countOf(kind: Violation['kind']): number {
    return this.violations.filter((v) => v.kind === kind).length;
  }
}

/** Versions are shared by all clients (COPY makes two paths hold one version). */
export class VersionBook {
  private next = 1;
  readonly all = new Map<number, Version>();

  constructor(readonly seed: number) {}

  create(size: number): Version {
    const version = makeVersion(this.seed, this.next++, size);
    this.all.set(version.id, version);
    return version;
  }

  get(id: number): Version {
    const v = this.all.get(id);
    if (!v) throw new Error(`unknown version ${id}`);
    return v;
  }
}

const FOLDER_NAMES = ['d1', 'd2', 'sub dir'];
const FILE_NAMES = ['a.txt', 'b.bin', 'ü n#1.dat', 'c 100%.txt', 'e+f;g.log'];
const MAX_DEPTH = 3;
const KiB = 1024;
const MiB = 1024 * 1024;

export function hrefOf(path: string): string {
  return path
    .split('/')
    .map((s) => (s === '' ? '' : encodeSegment(s)))
    .join('/');
}

export class SoakClient {
  readonly root: string;
  readonly model = new Model();
  private readonly random: () => number;

  constructor(
    readonly index: number,
    private readonly http: SoakHttp,
    private readonly versions: VersionBook,
    private readonly stats: SoakStats,
    private readonly options: WorkloadOptions,
  ) {
    this.root = `/soak/c${index}`;
    this.model.create(this.root, 'folder', 'ok', parentOf(this.root));
    this.random = mulberry32(options.seed * 1000 + index);
  }

  async run(ops: number, shouldStop: () => boolean = () => false): Promise<void> {
    for (let i = 0; i < ops && !shouldStop(); i++) await this.step();
  }

  async step(): Promise<void> {
    const r = this.random();
    if (r < 0.3) return this.put();
    if (r < 0.48) return this.get();
    if (r < 0.6) return this.propfind();
    if (r < 0.7) return this.mkcol();
    if (r < 0.74) return this.transfer(this.random() < 0.5 ? 'MOVE' : 'COPY');
    if (r < 0.8) return this.replaceFile();
    return this.delete();
  }

  // ---- operations --------------------------------------------------------------------------

  private async put(): Promise<void> {
    const path = `${this.pickFolder()}/${this.pick(FILE_NAMES)}`;
    const size = this.pickSize();
    const version = this.versions.create(size);
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    const chunked = this.random() < 0.15;
    if (!chunked) headers['Content-Length'] = String(size);
    if (this.random() < 0.1) headers['X-OC-Mtime'] = String(1_600_000_000 + Math.floor(this.random() * 1e8));
    const abortAfter = size >= 2 && this.random() < 0.06 ? 1 + Math.floor(this.random() * (size - 1)) : undefined;
    const before = this.certainty(path);
    const res = await this.http.send({ method: 'PUT', path: hrefOf(path), headers, body: () => contentChunks(version.key, 0, size, 64 * KiB), abortAfter, keepBody: true });
    this.stats.count(abortAfter !== undefined ? 'PUT(abort)' : 'PUT', res, `${path} v${version.id}:${size}`);
    if (res.status !== 0 || !res.aborted) this.stats.bytesUp += abortAfter ?? size;
    const outcome = outcomeOf(res);
    this.checkServerError('PUT', path, res);
    // 423: the business drive still holds an upload session for this file (a lost createUploadSession
    // answer); Graph refuses a second one (OneDrive/onedrive-api-docs#747), so nothing was written.
    if (outcome !== 'unknown' && outcome !== 'failed' && res.status !== 423 && !res.uncertainAttempts) {
      if (before.parentFolder && before.notFolder && res.status !== 0) {
        const expected = before.absent ? [201] : before.file ? [204] : [201, 204];
        if (!expected.includes(res.status)) this.stats.violation('wrongAnswer', 'PUT', `${path}: ${res.status}, expected ${expected.join('/')} (${describe(res)})`);
      }
    }
    this.settle(res, outcome, (o) => this.model.create(path, version.id, o, this.root));
  }

  private async get(): Promise<void> {
    const path = this.pickExisting(true) ?? `${this.pickFolder()}/${this.pick(FILE_NAMES)}`;
    const candidates = this.model.versions(path).map((id) => this.versions.get(id));
    const headers: Record<string, string> = {};
    let range: [number, number] | undefined;
    const sized = candidates.find((v) => v.size > 0);
    if (sized && this.random() < 0.4) {
      const start = Math.floor(this.random() * sized.size);
      const end = Math.min(sized.size - 1, start + Math.floor(this.random() * MiB));
      range = [start, end];
      headers.Range = `bytes=${start}-${end}`;
    }
    const redirect = this.random() < 0.2;
    if (redirect) headers['User-Agent'] = 'rclone/v1.66.0';
    let res = await this.http.send({ method: 'GET', path: hrefOf(path), headers });
    this.stats.count(redirect ? 'GET(redirect)' : range ? 'GET(range)' : 'GET', res, path);
    this.checkServerError('GET', path, res);
    if (res.status === 302) {
      const followed = await this.follow(String(res.headers.location), headers.Range);
      if (!followed) return;
      res = followed;
    }
    this.stats.bytesDown += res.length;
    this.checkRead(path, res);
  }

  /** The redirect target is OneDrive's (the emulator's) own URL, with its own faults. */
  private async follow(location: string, range: string | undefined): Promise<SoakResponse | undefined> {
    this.stats.redirects.followed++;
    const target = new URL(location);
    const http = new SoakHttp(target);
    try {
      const res = await http.send({ method: 'GET', path: target.pathname + target.search, headers: range ? { Range: range } : {} });
      if (res.status === 401) this.stats.redirects.staleUrl++;
      if (res.status !== 200 && res.status !== 206) {
        this.stats.redirects.failed++;
        return undefined;
      }
      this.stats.redirects.verified++;
      return res;
    } finally {
      http.close();
    }
  }

  private checkRead(path: string, res: SoakResponse): void {
    const states = this.model.get(path);
    if (res.truncated || res.status === 0) return; // a cut download is a failed read, not a wrong one
    if (res.status === 404) {
      if (!states.has('absent')) this.stats.violation('readMismatch', 'GET', `${path}: 404 but it must exist (${[...states].join(',')})`);
      return;
    }
    if (res.status === 200 && String(res.headers['content-type'] ?? '').startsWith('text/html') && states.has('folder')) return;
    if (res.status !== 200 && res.status !== 206) return;
    const candidates = this.model.versions(path).map((id) => this.versions.get(id));
    let matched = false;
    if (res.status === 200) {
      matched = candidates.some((v) => v.size === res.length && v.sha256 === res.sha256);
    } else {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
      if (m) {
        const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
        matched = end - start + 1 === res.length && candidates.some((v) => v.size === total && sha256Of(v.key, start, end + 1) === res.sha256);
      }
    }
    if (!matched) {
      this.stats.violation('readMismatch', 'GET', `${path}: ${res.status} with ${res.length} bytes matching none of versions ${candidates.map((v) => `${v.id}(${v.size})`).join(',') || '(none)'} (${[...states].join(',')})`);
    }
  }

  private async propfind(): Promise<void> {
    const onFile = this.random() < 0.2;
    const path = onFile ? (this.pickExisting(true) ?? this.pickFolder()) : this.pickFolder();
    const depth = onFile ? '0' : '1';
    const res = await this.http.send({ method: 'PROPFIND', path: hrefOf(path), headers: { Depth: depth }, keepBody: true });
    this.stats.count('PROPFIND', res, path);
    this.checkServerError('PROPFIND', path, res);
    const states = this.model.get(path);
    if (res.status === 404) {
      if (!states.has('absent')) this.stats.violation('listingMismatch', 'PROPFIND', `${path}: 404 but it must exist`);
      return;
    }
    if (res.status !== 207) {
      if (res.status !== 0 && res.status < 500) this.stats.violation('wrongAnswer', 'PROPFIND', `${path}: ${res.status} (${describe(res)})`);
      return;
    }
    if (this.model.mustBeAbsent(path)) this.stats.violation('listingMismatch', 'PROPFIND', `${path}: 207 but it must be absent`);
    let listed;
    try {
      listed = parseMultistatus(res.body!.toString('utf8'));
    } catch (err) {
      this.stats.violation('wrongAnswer', 'PROPFIND', `${path}: unparsable multistatus (${(err as Error).message})`);
      return;
    }
    const byPath = new Map(listed.map((r) => [r.path.replace(/\/$/, '') || '/', r]));
    for (const [p, r] of byPath) {
      // The old file of an overwrite still in flight (an earlier request whose answer this client never got).
      if (p.slice(p.lastIndexOf('/') + 1).startsWith('.onedav-aside-')) continue;
      const s = this.model.get(p);
      const collection = (r.props['{DAV:}resourcetype'] ?? '').includes('collection');
      if (collection ? !s.has('folder') : !this.model.versions(p).length) {
        this.stats.violation('listingMismatch', 'PROPFIND', `${p}: listed as ${collection ? 'folder' : 'file'} but the model says ${[...s].join(',')}`);
        continue;
      }
      if (!collection) {
        const length = Number(r.props['{DAV:}getcontentlength']);
        if (!this.model.versions(p).some((id) => this.versions.get(id).size === length)) {
          this.stats.violation('listingMismatch', 'PROPFIND', `${p}: listed with ${length} bytes, versions ${this.model.versions(p).map((id) => this.versions.get(id).size).join(',')}`);
        }
      }
    }
    if (depth === '1' && this.model.mustBeFolder(path)) {
      for (const child of this.model.children(path)) {
        if (this.model.mustExist(child) && !byPath.has(child)) this.stats.violation('listingMismatch', 'PROPFIND', `${child}: must exist but is not listed in ${path}`);
      }
    }
  }

  private async mkcol(): Promise<void> {
    const parent = this.pickFolder((p) => depthOf(p, this.root) < MAX_DEPTH);
    const path = `${parent}/${this.pick(FOLDER_NAMES)}`;
    const before = this.certainty(path);
    const res = await this.http.send({ method: 'MKCOL', path: hrefOf(path), keepBody: true });
    this.stats.count('MKCOL', res, path);
    this.checkServerError('MKCOL', path, res);
    const outcome = outcomeOf(res);
    if ((outcome === 'ok' || outcome === 'refused') && !res.uncertainAttempts) {
      const expected = before.parentFolder && before.absent ? [201] : before.exists ? [405] : undefined;
      if (expected && !expected.includes(res.status)) this.stats.violation('wrongAnswer', 'MKCOL', `${path}: ${res.status}, expected ${expected.join('/')} (${describe(res)})`);
    }
    this.settle(res, outcome, (o) => this.model.create(path, 'folder', o, this.root));
  }

  private async delete(): Promise<void> {
    const path = this.pickExisting(false) ?? `${this.pickFolder()}/${this.pick(FILE_NAMES)}`;
    if (path === this.root) return;
    const before = this.certainty(path);
    const res = await this.http.send({ method: 'DELETE', path: hrefOf(path), keepBody: true });
    this.stats.count('DELETE', res, path);
    this.checkServerError('DELETE', path, res);
    const outcome = outcomeOf(res);
    if ((outcome === 'ok' || outcome === 'refused') && !res.uncertainAttempts) {
      const expected = before.exists ? [204] : before.absent ? [404] : undefined;
      if (expected && !expected.includes(res.status)) this.stats.violation('wrongAnswer', 'DELETE', `${path}: ${res.status}, expected ${expected.join('/')} (${describe(res)})`);
    }
    this.settle(res, outcome, (o) => this.model.remove(path, o));
  }

  private async transfer(method: 'MOVE' | 'COPY'): Promise<void> {
    const from = this.pickExisting(false);
    if (!from || from === this.root) return this.put();
    const isFolder = this.model.mayBeFolder(from);
    const height = isFolder ? Math.max(1, ...this.model.below(from).map((p) => depthOf(p, from) + 1)) : 0;
    const parent = this.pickFolder((p) => depthOf(p, this.root) + height < MAX_DEPTH + 1);
    const to = `${parent}/${this.pick(isFolder ? FOLDER_NAMES : FILE_NAMES)}`;
    return this.sendTransfer(method, from, to, this.random() < 0.75 ? 'T' : 'F', method);
  }

  /** MOVE (mostly) or COPY of a file onto another file that certainly exists, Overwrite: T. */
  private async replaceFile(): Promise<void> {
    const files = this.model.paths().filter((p) => p.startsWith(`${this.root}/`) && this.model.mustExist(p) && this.model.mustBeFile(p));
    if (files.length < 2) return this.put();
    const to = this.pick(files);
    const from = this.pick(files.filter((p) => p !== to));
    const method = this.random() < 0.7 ? 'MOVE' : 'COPY';
    return this.sendTransfer(method, from, to, 'T', `${method}(replace)`);
  }

  private async sendTransfer(method: 'MOVE' | 'COPY', from: string, to: string, overwrite: 'T' | 'F', label: string): Promise<void> {
    const before = { from: this.certainty(from), to: this.certainty(to) };
    const destination = `${this.http.base.origin}${hrefOf(to)}`;
    const res = await this.http.send({ method, path: hrefOf(from), headers: { Destination: destination, Overwrite: overwrite }, keepBody: true });
    this.stats.count(label, res, `${from} → ${to} (Overwrite ${overwrite})`);
    this.checkServerError(method, from, res);
    let outcome = outcomeOf(res);
    if (res.status === 207) outcome = 'failed'; // some members failed (cross-mount only)
    const inside = to === from || to.startsWith(`${from}/`) || from.startsWith(`${to}/`);
    if ((outcome === 'ok' || outcome === 'refused') && !res.uncertainAttempts && !inside && before.from.exists && before.to.parentFolder) {
      const expected = before.to.absent ? [201] : before.to.exists ? (overwrite === 'T' ? [204] : [412]) : undefined;
      if (expected && !expected.includes(res.status)) this.stats.violation('wrongAnswer', method, `${from} → ${to} (Overwrite ${overwrite}): ${res.status}, expected ${expected.join('/')} (${describe(res)})`);
    }
    if (inside && outcome === 'ok') this.stats.violation('wrongAnswer', method, `${from} → ${to}: ${res.status} for a move or copy into itself or onto its own ancestor`);
    const fileOverFile = before.to.file && !this.model.mayBeFolder(from);
    this.settle(res, outcome, (o) => this.model.transfer(from, to, method === 'MOVE' ? 'move' : 'copy', o, this.root));
    // The file it was to replace must still be there, old or new: look now, before a later write could hide a loss.
    if (outcome === 'failed' && fileOverFile) await this.checkKept(to);
  }

  private async checkKept(path: string): Promise<void> {
    const res = await this.http.send({ method: 'GET', path: hrefOf(path) });
    this.stats.count('GET(kept)', res, path);
    this.stats.bytesDown += res.length;
    this.checkRead(path, res);
  }

  // ---- helpers -----------------------------------------------------------------------------

  /**
   * Applies an operation's outcome to the model. Earlier attempts of a retried request (through a
   * balancer, after a replica died or answered 503) may have done the work, or may still: that
   * counts as an answer that never came, before the final one.
   */
  private settle(res: SoakResponse, outcome: Outcome, apply: (o: Outcome) => void): void {
    if (res.uncertainAttempts) apply('unknown');
    apply(outcome);
  }

  private checkServerError(op: string, path: string, res: SoakResponse): void {
    if (res.status === 500) this.stats.violation('internalError', op, `${path}: 500 ${describe(res)}`);
    else if (res.status > 500 && ![502, 503, 504].includes(res.status)) this.stats.violation('wrongAnswer', op, `${path}: ${res.status} is not one of the documented 5xx`);
  }

  /** What the client certainly knows about `path` before an operation. */
  private certainty(path: string) {
    const parent = parentOf(path);
    return {
      parentFolder: parent === this.root || this.model.mustBeFolder(parent),
      absent: this.model.mustBeAbsent(path),
      exists: this.model.mustExist(path),
      file: this.model.mustExist(path) && this.model.mustBeFile(path),
      notFolder: !this.model.mayBeFolder(path),
    };
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  private pickFolder(filter: (p: string) => boolean = () => true): string {
    const folders = [this.root, ...this.model.paths().filter((p) => this.model.mayBeFolder(p) && p.startsWith(`${this.root}/`))].filter(filter);
    return folders.length ? this.pick(folders) : this.root;
  }

  /** A path that may exist (files only when asked), or undefined when there is none yet. */
  private pickExisting(filesOnly: boolean): string | undefined {
    const paths = this.model.paths().filter((p) => {
      if (!p.startsWith(`${this.root}/`)) return false;
      const s = this.model.get(p);
      return filesOnly ? this.model.versions(p).length > 0 : !(s.size === 1 && s.has('absent'));
    });
    return paths.length ? this.pick(paths) : undefined;
  }

  /** Small bodies dominate; sizes around the 4 MiB simple-upload limit and 320 KiB multiples are favoured. */
  private pickSize(): number {
    const r = this.random();
    const max = this.options.maxSize;
    if (r < 0.05) return 0;
    if (r < 0.6) return 1 + Math.floor(this.random() * 64 * KiB);
    if (r < 0.7) {
      const edges = [4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 327_680, 327_680 * 4, 327_680 * 4 + 1, 327_680 * 4 - 1];
      return Math.min(max, this.pick(edges));
    }
    if (r < 0.9) return Math.min(max, 64 * KiB + Math.floor(this.random() * 4 * MiB));
    return Math.min(max, 4 * MiB + Math.floor(this.random() * Math.max(1, max - 4 * MiB)));
  }
}

export function outcomeOf(res: SoakResponse): Outcome {
  if (res.status === 0) return res.aborted ? 'refused' : 'unknown';
  if (res.status >= 200 && res.status < 300) return 'ok';
  if (res.status >= 400 && res.status < 500) return 'refused';
  if (res.status === 504) return 'unknown';
  return 'failed';
}

function depthOf(path: string, root: string): number {
  if (path === root) return 0;
  return path.slice(root.length).split('/').length - 1;
}

function describe(res: SoakResponse): string {
  const body = res.body ? res.body.toString('utf8').slice(0, 160).trim() : '';
  return `${res.error ?? ''}${body ? ` "${body}"` : ''}`.trim();
}

export { contentBytes };
