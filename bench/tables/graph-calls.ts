import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countResponses, expectStatus, MiB, patternStream, propfind, send } from '../lib/http.js';
import { ms, verdict, type Table } from '../lib/report.js';
import { GraphRelay } from '../lib/graph-relay.js';
import { hasRclone, rclone, rcloneOneDrive, type OneDriveRemote } from '../lib/rclone.js';
import { BenchStack, describeRoutes, type CallCount } from '../lib/stack.js';

/** Graph's largest `$top` for children: one listing call returns up to this many items. */
export const PAGE = 1000;
/** onedav's default upload fragment (config `upload.fragmentSize`). */
const FRAGMENT = 10 * MiB;

export interface GraphCallsOptions {
  /** Children of the folder listed cold (default 2,500). */
  bigFolder: number;
  /** Bytes of the large PUT (default 50 MiB). */
  largePut: number;
  /** Files in the rclone tree (default 1,000). */
  syncFiles: number;
  browseFolders: number;
  browseFilesPerFolder: number;
  cpuProfileDir?: string;
}

export const FULL_GRAPH_CALLS: GraphCallsOptions = { bigFolder: 2500, largePut: 50 * MiB, syncFiles: 1000, browseFolders: 20, browseFilesPerFolder: 30 };
export const QUICK_GRAPH_CALLS: GraphCallsOptions = { bigFolder: 1200, largePut: 25 * MiB, syncFiles: 200, browseFolders: 20, browseFilesPerFolder: 10 };

interface Row {
  op: string;
  /** What the row should cost, and where that number comes from. */
  target?: { calls: number; atMost?: boolean; why: string };
  calls: CallCount;
  extra?: string;
}

const REDIRECTING_CLIENT = { 'user-agent': 'rclone/v1.60.1' };
const PROXIED_CLIENT = { 'user-agent': 'gvfs/1.50.0' };

/**
 * Table 1: Graph calls per WebDAV operation, counted by the emulator, cold (onedav has never seen
 * the path) and warm (asked again at once), plus two scripted sessions.
 */
export async function graphCallsTable(options: GraphCallsOptions): Promise<Table> {
  const rows: Row[] = [];
  const stack = await BenchStack.start({ cpuProfileDir: options.cpuProfileDir });
  try {
    await seed(stack, options);
    await singleOperations(stack, options, rows);
    await browseSession(stack, options, rows);
    if (hasRclone()) await rcloneSession(stack, options, rows);
    else rows.push({ op: 'rclone sync sessions: skipped, rclone is not installed (apt-get install rclone)', calls: { graph: 0, downloads: 0, identity: 0, byRoute: {} } });
  } finally {
    await stack.stop();
  }
  return {
    title: 'Table 1 — Graph calls per WebDAV operation (counted by the emulator)',
    columns: ['operation', 'target', 'Graph calls', 'downloads', 'verdict', 'what onedav asked Graph'],
    rows: rows.map((r) => [
      r.op,
      r.target ? `${r.target.atMost ? '≤ ' : ''}${r.target.calls} (${r.target.why})` : '—',
      r.calls.graph,
      r.calls.downloads,
      r.target ? verdict(r.calls.graph <= r.target.calls) : '',
      (describeRoutes(r.calls) || '—') + (r.extra ? ` [${r.extra}]` : ''),
    ]),
    notes: [
      `"Graph calls" = Graph API + upload-session requests (what Microsoft throttles); downloads = requests to pre-authenticated download URLs.`,
      `page = ${PAGE} children per listing call ($top maximum Graph accepts for children). "brief" targets come from the issue; "floor" = the fewest calls Graph allows for that operation.`,
      `cold = onedav never saw the path (fresh process or untouched folder); warm = the same request again at once (cache TTL 60 s, the default).`,
    ],
  };
}

async function seed(stack: BenchStack, o: GraphCallsOptions): Promise<void> {
  const files = (folder: string, n: number, size: number) => Array.from({ length: n }, (_, i) => ({ path: `${folder}/file-${String(i).padStart(5, '0')}.txt`, size }));
  await stack.emulator.mkdirs(['t1/p0/folder', 't1/w', 'browse']);
  await stack.emulator.putFiles([
    { path: 't1/p0/file.txt', size: 1024 },
    { path: 't1/p0/folder/inside.txt', size: 10 },
    ...files('t1/bigA', o.bigFolder, 64),
    ...files('t1/lists/bigB', o.bigFolder, 64),
    { path: 't1/get/redirect-cold.bin', size: 256 * 1024 },
    { path: 't1/get/redirect-listed.bin', size: 256 * 1024 },
    { path: 't1/proxy/proxy.bin', size: 256 * 1024 },
    ...Array.from({ length: o.browseFolders }, (_, d) => files(`browse/folder-${String(d + 1).padStart(2, '0')}`, o.browseFilesPerFolder, 2048)).flat(),
  ]);
}

async function singleOperations(stack: BenchStack, o: GraphCallsOptions, rows: Row[]): Promise<void> {
  const url = stack.url;
  const measure = async (op: string, target: Row['target'], fn: () => Promise<unknown>, extra?: (result: unknown) => string) => {
    const { result, calls } = await stack.count(fn);
    rows.push({ op, target, calls, extra: extra?.(result) });
  };
  const listingOf = (n: number) => async () => {
    const answer = expectStatus(await propfind(url, '/t1/bigA/', '1', { keepBody: true }), [207], 'PROPFIND Depth 1');
    if (countResponses(answer.text!) !== n + 1) throw new Error(`PROPFIND Depth 1 listed ${countResponses(answer.text!) - 1} of ${n} children`);
  };
  const pages = Math.ceil(o.bigFolder / PAGE);

  await measure('PROPFIND Depth 0, file, cold', { calls: 1, why: 'floor' }, async () => expectStatus(await propfind(url, '/t1/p0/file.txt', '0'), [207], 'PROPFIND'));
  await measure('PROPFIND Depth 0, file, warm', { calls: 0, why: 'brief' }, async () => expectStatus(await propfind(url, '/t1/p0/file.txt', '0'), [207], 'PROPFIND'));
  await measure('PROPFIND Depth 0, folder, cold', { calls: 1, why: 'floor' }, async () => expectStatus(await propfind(url, '/t1/p0/folder/', '0'), [207], 'PROPFIND'));
  await measure('PROPFIND Depth 0, folder, warm', { calls: 0, why: 'brief' }, async () => expectStatus(await propfind(url, '/t1/p0/folder/', '0'), [207], 'PROPFIND'));
  await measure(`PROPFIND Depth 1, ${o.bigFolder} children, cold (nothing cached)`, { calls: pages, why: `brief: ⌈${o.bigFolder}/${PAGE}⌉` }, listingOf(o.bigFolder));
  await measure(`PROPFIND Depth 1, ${o.bigFolder} children, warm`, { calls: 0, why: 'brief' }, listingOf(o.bigFolder));
  expectStatus(await propfind(url, '/t1/lists/', '1'), [207], 'PROPFIND');
  await measure(`PROPFIND Depth 1, ${o.bigFolder} children, cold (parent listed)`, { calls: pages, why: `brief: ⌈${o.bigFolder}/${PAGE}⌉` }, async () => {
    const answer = expectStatus(await propfind(url, '/t1/lists/bigB/', '1', { keepBody: true }), [207], 'PROPFIND');
    if (countResponses(answer.text!) !== o.bigFolder + 1) throw new Error('short listing');
  });

  const get = (path: string, headers: Record<string, string>, status: number) => async () => expectStatus(await send(url, 'GET', path, { headers }), [status], `GET ${path}`);
  await measure('GET, 302 redirect, cold (nothing cached)', { calls: 1, why: 'floor' }, get('/t1/get/redirect-cold.bin', REDIRECTING_CLIENT, 302));
  await measure('GET, 302 redirect, warm', { calls: 0, why: 'brief' }, get('/t1/get/redirect-cold.bin', REDIRECTING_CLIENT, 302));
  expectStatus(await propfind(url, '/t1/get/', '1'), [207], 'PROPFIND');
  await measure('GET, 302 redirect, file known from a listing', { calls: 1, why: 'floor' }, get('/t1/get/redirect-listed.bin', REDIRECTING_CLIENT, 302));
  await measure('GET, proxied, cold (nothing cached)', { calls: 1, why: 'floor' }, get('/t1/proxy/proxy.bin', PROXIED_CLIENT, 200));
  await measure('GET, proxied, warm', { calls: 0, why: 'brief' }, get('/t1/proxy/proxy.bin', PROXIED_CLIENT, 200));

  // Writes, in a folder the client has just listed (as every client does before writing).
  expectStatus(await propfind(url, '/t1/w/', '1'), [207], 'PROPFIND');
  const put = (path: string, size: number, status: number) => async () => expectStatus(await send(url, 'PUT', path, { headers: { 'content-length': String(size) }, body: patternStream(size) }), [status], `PUT ${path}`);
  await measure('PUT 1 KiB, new file', { calls: 1, why: 'floor' }, put('/t1/w/small.txt', 1024, 201));
  await measure('PUT 1 KiB, replacing it', { calls: 1, why: 'floor' }, put('/t1/w/small.txt', 1024, 204));
  const fragments = Math.ceil(o.largePut / FRAGMENT);
  await measure(`PUT ${o.largePut / MiB} MiB, new file`, { calls: 1 + fragments, why: `floor: session + ${fragments} fragments` }, put('/t1/w/large.bin', o.largePut, 201));
  await measure('MKCOL', { calls: 1, why: 'floor' }, async () => expectStatus(await send(url, 'MKCOL', '/t1/w/made/'), [201], 'MKCOL'));
  const destination = (path: string) => ({ destination: `${url}${path}`, overwrite: 'F' });
  await measure('MOVE (rename a file)', { calls: 1, why: 'floor' }, async () => expectStatus(await send(url, 'MOVE', '/t1/w/small.txt', { headers: destination('/t1/w/renamed.txt') }), [201], 'MOVE'));
  await measure('MOVE (file into another folder)', { calls: 1, why: 'floor' }, async () => expectStatus(await send(url, 'MOVE', '/t1/w/renamed.txt', { headers: destination('/t1/w/made/moved.txt') }), [201], 'MOVE'));
  await measure('COPY (file)', { calls: 4, atMost: true, why: 'floor: POST copy, 2 monitor polls (the emulator says inProgress first), GET new item' }, async () => expectStatus(await send(url, 'COPY', '/t1/w/large.bin', { headers: destination('/t1/w/copy.bin') }), [201], 'COPY'));
  await measure('DELETE (file)', { calls: 1, why: 'floor' }, async () => expectStatus(await send(url, 'DELETE', '/t1/w/copy.bin'), [204], 'DELETE'));
  await measure('DELETE (folder)', { calls: 1, why: 'floor' }, async () => expectStatus(await send(url, 'DELETE', '/t1/w/made/'), [204], 'DELETE'));
}

/** A file manager: list the root and /browse, open every folder, stat every file, open 5 files. */
async function browseSession(stack: BenchStack, o: GraphCallsOptions, rows: Row[]): Promise<void> {
  await stack.restartOneDav();
  const url = stack.url;
  const folders = Array.from({ length: o.browseFolders }, (_, d) => `/browse/folder-${String(d + 1).padStart(2, '0')}/`);
  const opened = folders.filter((_, i) => i % Math.max(1, Math.floor(folders.length / 5)) === 0).slice(0, 5).map((f) => `${f}file-00000.txt`);
  const session = async () => {
    expectStatus(await propfind(url, '/', '1'), [207], 'PROPFIND /');
    expectStatus(await propfind(url, '/browse/', '1'), [207], 'PROPFIND /browse/');
    for (const folder of folders) {
      const listing = expectStatus(await propfind(url, folder, '1', { keepBody: true }), [207], `PROPFIND ${folder}`);
      for (const href of hrefsOf(listing.text!).slice(1)) expectStatus(await propfind(url, href, '0'), [207], `PROPFIND ${href}`);
    }
    for (const file of opened) expectStatus(await send(url, 'GET', file, { headers: PROXIED_CLIENT }), [200], `GET ${file}`);
  };
  const listed = folders.length + 2;
  const cold = await stack.count(session);
  rows.push({
    op: `browse session, cold: list / + /browse + ${o.browseFolders} folders, stat ${o.browseFolders * o.browseFilesPerFolder} files, open ${opened.length}`,
    target: { calls: 1 + listed + opened.length, atMost: true, why: `floor: root stat + 1 per folder listed + 1 per file opened` },
    calls: cold.calls,
  });
  const warm = await stack.count(session);
  rows.push({ op: 'browse session, warm (same again)', target: { calls: 0, why: 'brief' }, calls: warm.calls });
}

function hrefsOf(xml: string): string[] {
  return [...xml.matchAll(/<(?:[A-Za-z]+:)?href>([^<]*)</g)].map((m) => m[1].replace(/&amp;/g, '&'));
}

/** rclone sync of a local tree to onedav, then again (nothing to do), then again on a fresh onedav process. */
async function rcloneSession(stack: BenchStack, o: GraphCallsOptions, rows: Row[]): Promise<void> {
  const local = await mkdtemp(join(tmpdir(), 'onedav-bench-sync-'));
  try {
    const folders = await writeTree(local, o.syncFiles);
    const remoteFolders = folders + 1; // the /sync folder itself
    await stack.restartOneDav();
    const run = async () => rclone(['sync', local, 'benchdav:sync', '-v', '--stats', '0'], stack.url);
    const first = await stack.count(run);
    rows.push({ op: `rclone sync, ${o.syncFiles} files in ${folders} folders, first run`, calls: first.calls, extra: `${first.result.copied} copied, ${ms(first.result.ms)}` });
    const second = await stack.count(run);
    if (second.result.copied !== 0) throw new Error(`the second rclone sync copied ${second.result.copied} files; it should find nothing to do`);
    rows.push({
      op: 'rclone sync again at once (nothing to do)',
      target: { calls: remoteFolders, atMost: true, why: `brief: ≤ 1 per folder, ${remoteFolders} folders` },
      calls: second.calls,
      extra: `${second.result.copied} copied, ${ms(second.result.ms)}`,
    });
    await stack.restartOneDav();
    const third = await stack.count(run);
    if (third.result.copied !== 0) throw new Error(`the third rclone sync copied ${third.result.copied} files; it should find nothing to do`);
    rows.push({
      op: 'rclone sync again, fresh onedav process (cold cache)',
      target: { calls: remoteFolders, atMost: true, why: `brief: ≤ 1 per folder, ${remoteFolders} folders` },
      calls: third.calls,
      extra: `${third.result.copied} copied, ${ms(third.result.ms)}`,
    });
  } finally {
    await rm(local, { recursive: true, force: true });
  }
}

/** `files` small files in `tops` top folders of `subs` subfolders each, spread evenly over all of them. Returns the folder count. */
async function writeTree(root: string, files: number, { tops, subs }: { tops: number; subs: number } = { tops: 5, subs: 4 }): Promise<number> {
  const dirs: string[] = [];
  for (let t = 0; t < tops; t++) {
    dirs.push(`dir-${t}`);
    for (let s = 0; s < subs; s++) dirs.push(`dir-${t}/sub-${s}`);
  }
  for (const dir of dirs) await mkdir(join(root, dir), { recursive: true });
  for (let i = 0; i < files; i++) {
    const dir = dirs[i % dirs.length];
    await writeFile(join(root, dir, `file-${String(i).padStart(5, '0')}.txt`), `file ${i}\n`.repeat(1 + (i % 7)));
  }
  return dirs.length;
}


export interface RcloneWorkloadOptions {
  /** Files in the tree copied up, spread over the folders (writeTree). */
  files: number;
  /** Top folders (at least 2: the workload moves a file out of the first and renames the second), each with `subs` subfolders. */
  tops: number;
  subs: number;
  cpuProfileDir?: string;
}

/**
 * The tree at the scale issue 16 measured (rclone's onedrive backend made 88 calls there; 91 on
 * this one), and a bigger one where folders outnumber what each holds: both tools then spend one
 * listing per folder, and the ratio is at its least favourable.
 */
export const ISSUE_RCLONE_WORKLOAD: RcloneWorkloadOptions = { files: 6, tops: 2, subs: 1 };
export const FULL_RCLONE_WORKLOAD: RcloneWorkloadOptions = { files: 50, tops: 5, subs: 4 };

interface WorkloadStep {
  name: string;
  /** rclone's arguments, with REMOTE: for the remote and LOCAL / DOWN for the local trees. */
  args: string[];
}

/**
 * The workload of issue 16: copy a tree up, list it, check it, copy it down, move a file into the
 * root, rename a folder, purge the tree. Each step is one rclone run.
 */
const WORKLOAD: WorkloadStep[] = [
  { name: 'copy the tree up', args: ['copy', 'LOCAL', 'REMOTE:TOP/tree'] },
  { name: 'list it (lsf -R)', args: ['lsf', '-R', 'REMOTE:TOP/tree'] },
  { name: 'check it', args: ['check', 'LOCAL', 'REMOTE:TOP/tree'] },
  { name: 'copy it down', args: ['copy', 'REMOTE:TOP/tree', 'DOWN'] },
  { name: 'move a file into the root', args: ['moveto', 'REMOTE:TOP/tree/dir-0/file-00000.txt', 'REMOTE:TOP-moved.txt'] },
  { name: 'rename a folder', args: ['moveto', 'REMOTE:TOP/tree/dir-1', 'REMOTE:TOP/tree/dir-1-renamed'] },
  { name: 'purge the tree', args: ['purge', 'REMOTE:TOP'] },
];

/**
 * Table 6: the rclone workload's Graph calls per step through onedav (rclone's webdav backend),
 * cold (a fresh onedav process before every step) and warm (one process for the whole workload),
 * beside rclone's own onedrive backend on the same emulator (its Graph host relayed, graph-relay.ts).
 */
export async function rcloneWorkloadTable(options: RcloneWorkloadOptions): Promise<Table> {
  if (!hasRclone()) throw new Error('rclone is not installed (apt-get install rclone)');
  // Background delta polling (one call per tick whatever the clients do, and its first call at start)
  // lands in whichever step is running: off here, so that every figure is the workload's own.
  const stack = await BenchStack.start({ cpuProfileDir: options.cpuProfileDir, config: { cache: { deltaPollSeconds: 0 } } });
  const relay = await GraphRelay.start(stack.emulator.url);
  const local = await mkdtemp(join(tmpdir(), 'onedav-bench-workload-'));
  try {
    const folders = await writeTree(join(local, 'up'), options.files, options);
    const remote: OneDriveRemote = {
      proxyUrl: relay.proxyUrl,
      certPath: relay.certPath,
      accessToken: await stack.emulator.accessToken(),
      driveId: stack.emulator.info.driveId,
      driveType: 'business',
    };
    const runSteps = async (top: string, run: (args: string[]) => Promise<unknown>, before?: () => Promise<void>) => {
      const counts: CallCount[] = [];
      for (const step of WORKLOAD) {
        await before?.();
        const args = step.args.map((a) =>
          a.replace('REMOTE:', 'R:').replace('TOP', top).replace(/^LOCAL$/, join(local, 'up')).replace(/^DOWN$/, join(local, `down-${top}`)),
        );
        counts.push((await stack.count(() => run(args))).calls);
      }
      return counts;
    };
    const onRemote = (name: string) => (args: string[]) => args.map((a) => a.replace(/^R:/, `${name}:`));
    const reference = await runSteps('od', (args) => rcloneOneDrive(onRemote('benchod')(args), remote));
    await stack.restartOneDav();
    const cold = await runSteps('cold', (args) => rclone(onRemote('benchdav')(args), stack.url), () => stack.restartOneDav());
    await stack.restartOneDav();
    const warm = await runSteps('warm', (args) => rclone(onRemote('benchdav')(args), stack.url));
    const total = (counts: CallCount[]) => counts.reduce((sum, c) => sum + c.graph, 0);
    const [r, c, w] = [total(reference), total(cold), total(warm)];
    return {
      title: `Table 6 — the rclone workload (${options.files} files in ${folders} folders): Graph calls per step`,
      columns: ['step', 'rclone onedrive', 'onedav cold', 'onedav warm', 'what cold onedav asked Graph', 'what rclone onedrive asked'],
      rows: [
        ...WORKLOAD.map((step, i) => [step.name, reference[i].graph, cold[i].graph, warm[i].graph, describeRoutes(cold[i]) || '—', describeRoutes(reference[i]) || '—']),
        ['total', r, c, w, '', ''],
        ['ratio to rclone onedrive (target cold ≤ 0.5×)', '1.00×', `${(c / r).toFixed(3)}× ${verdict(c <= r / 2)}`, `${(w / r).toFixed(3)}×`, '', ''],
      ],
      notes: [
        'Each step is one rclone run (rclone keeps nothing between runs). onedav through rclone\'s webdav backend (vendor other);',
        'cold = a fresh onedav process before every step; warm = one onedav process for the whole workload.',
        'rclone onedrive = rclone\'s own backend on the same emulator (business drive), its Graph host relayed to the emulator.',
        'onedav runs with cache.deltaPollSeconds 0: the delta poller\'s calls depend on time, not on the workload. The warm column depends on time too (cache TTL 60 s against the length of each step).',
        '"Graph calls" = Graph API + upload-session requests, counted by the emulator; downloads from pre-authenticated URLs are not counted.',
      ],
    };
  } finally {
    await rm(local, { recursive: true, force: true });
    await relay.stop();
    await stack.stop();
  }
}
