/**
 * CPU the metadata cache spends keeping a big cached folder up to date:
 * `npx tsx bench/cache-updates.ts [--sizes 1000,10000,50000] [--ops 200] [--repo DIR]`.
 *
 * A folder of N files is cached as one listing (as a PROPFIND leaves it), then the cache records
 * what onedav's own writes and other clients' changes do to it, one operation at a time, as
 * GraphDrive calls it: a PUT of a new file (the parent's stat, then recordItem), a DELETE
 * (recordRemoval), a rename within the folder (recordMove) and a change reported elsewhere in the
 * drive (forgetChanged, as delta or another replica reports it). Each runs on the event loop, so
 * its time is time no other request is served. `--repo DIR` measures another checkout's cache
 * (a before/after comparison); the figures of both are printed side by side when given.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { FOLDED_NAMES } from '../src/util/drive-path.js';
import type { MetadataCache as Cache } from '../src/cache/metadata-cache.js';

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,10000,50000' }, ops: { type: 'string', default: '200' }, repo: { type: 'string' } },
  strict: true,
});
const sizes = values.sizes.split(',').map(Number);
const ops = Number(values.ops);

interface Entry {
  id: string;
  name: string;
  path: string;
  isFolder: boolean;
  size: number;
  modified: Date;
  etag: string;
  version: string;
}
type CacheClass = new (options: ConstructorParameters<typeof Cache<Entry>>[0]) => Cache<Entry>;

// As GraphDrive sizes its entries (graph-drive.ts entrySize), for ids and tags shaped like Graph's.
const sizeOf = (e: Entry) => 330 + 2 * (e.id.length + e.path.length + e.name.length + e.etag.length + e.version.length);
const entry = (i: number, name = `IMG_${String(i).padStart(6, '0')}.jpg`): Entry => ({
  id: `01ABCDEFGHIJKLMNOPQRSTUVWX${String(i).padStart(6, '0')}`,
  name,
  path: `/photos/${name}`,
  isFolder: false,
  size: 1,
  modified: new Date(0),
  etag: `"{A1B2C3D4-E5F6-4711-8899-${String(i).padStart(12, '0')}},1"`,
  version: '1',
});

async function load(repo: string): Promise<CacheClass> {
  const module = await import(pathToFileURL(resolve(repo, 'src/cache/metadata-cache.ts')).href);
  return module.MetadataCache as CacheClass;
}

function measure(MetadataCache: CacheClass, n: number): Record<string, number> {
  const cache = new MetadataCache({ ttlMs: 3_600_000, maxEntries: 200_000, maxBytes: 1024 * 1024 * 1024, names: FOLDED_NAMES, sizeOf });
  cache.setListing('/photos', Array.from({ length: n }, (_, i) => entry(i)), 'photos-id');
  cache.peekItem('/photos/IMG_000000.jpg');
  const time = (run: (i: number) => void) => {
    const start = performance.now();
    for (let i = 0; i < ops; i++) run(i);
    return (performance.now() - start) / ops;
  };
  return {
    'PUT of a new file': time((i) => {
      cache.peekItem(`/photos/new-${i}.jpg`);
      cache.recordItem(`/photos/new-${i}.jpg`, entry(n + i, `new-${i}.jpg`));
    }),
    'DELETE of a file': time((i) => {
      cache.peekItem(`/photos/${entry(i).name}`);
      cache.recordRemoval(`/photos/${entry(i).name}`);
    }),
    'rename in the folder': time((i) => {
      const from = entry(ops + i);
      cache.recordMove(`/photos/${from.name}`, `/photos/renamed-${i}.jpg`, { ...from, name: `renamed-${i}.jpg`, path: `/photos/renamed-${i}.jpg` }, (item, path) => ({ ...item, path }));
    }),
    'a change elsewhere (delta, replica)': time((i) => cache.forgetChanged(`/elsewhere/file-${i}`, `unknown-${i}`)),
    'a delta page: one file changed elsewhere': time((i) => cache.applyRemoteChanges([{ id: `delta-${i}`, deleted: false, isFolder: false, name: `file-${i}`, parentId: 'a-folder-not-cached' }])),
  };
}

const here = resolve(import.meta.dirname, '..');
const variants: Array<[string, CacheClass]> = [['this checkout', await load(here)]];
if (values.repo) variants.push([values.repo, await load(values.repo)]);

console.log(`# Metadata cache: ms of CPU per operation on a cached folder (${ops} operations each; Node ${process.version})\n`);
for (const n of sizes) {
  const results = variants.map(([label, cls]) => [label, measure(cls, n)] as const);
  console.log(`## ${n.toLocaleString('en')} files cached\n`);
  console.log(`| operation | ${results.map(([label]) => label).join(' | ')} |${results.length > 1 ? ' ratio |' : ''}`);
  console.log(`|---|${results.map(() => '---').join('|')}|${results.length > 1 ? '---|' : ''}`);
  for (const op of Object.keys(results[0][1])) {
    const figures = results.map(([, r]) => r[op]);
    const ratio = figures.length > 1 ? ` ${(figures[1] / figures[0]).toFixed(1)}× |` : '';
    console.log(`| ${op} | ${figures.map((f) => f.toFixed(3)).join(' | ')} |${ratio}`);
  }
  console.log('');
}
