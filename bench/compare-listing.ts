/**
 * A/B check for a change to the listing path: PROPFIND Depth 1 on one folder, served by the onedav
 * of this checkout, by the onedav of another checkout, and by `rclone serve webdav` over the same
 * files, with requests interleaved (A, B, rclone, A, B, …) so that whatever else loads the machine
 * weighs on all three alike.
 *
 *   npx tsx bench/compare-listing.ts --other /path/to/other/checkout [--items 10000] [--samples 20] [--allprop]
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { countResponses, expectStatus, propfind } from './lib/http.js';
import { EmulatorProcess } from './lib/emulator-process.js';
import { OneDavProcess } from './lib/onedav-process.js';
import { rcloneServe } from './lib/rclone.js';
import { median, ms, now, percentile, printTable } from './lib/report.js';

const { values } = parseArgs({
  options: { other: { type: 'string' }, items: { type: 'string', default: '10000' }, samples: { type: 'string', default: '20' }, allprop: { type: 'boolean', default: false } },
});
if (!values.other) {
  process.stderr.write('usage: npx tsx bench/compare-listing.ts --other /path/to/other/checkout [--items N] [--samples N] [--allprop]\n');
  process.exit(2);
}
const items = Number(values.items);
const samples = Number(values.samples);
const body = values.allprop ? '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>' : undefined;

const work = await mkdtemp(join(tmpdir(), 'onedav-compare-'));
const emulator = await EmulatorProcess.start();
const servers: Array<{ name: string; url: string; path: string; stop: () => Promise<void> }> = [];
try {
  const files = Array.from({ length: items }, (_, i) => ({ name: `document ${String(i).padStart(5, '0')}.txt`, size: 100 + (i % 900), modified: Date.UTC(2024, 0, 1) + i * 60_000 }));
  await emulator.putFiles(files.map((f) => ({ path: `big/${f.name}`, size: f.size, modified: f.modified })));
  const dir = join(work, 'big');
  await mkdir(dir);
  for (const f of files) {
    await writeFile(join(dir, f.name), Buffer.alloc(f.size, 'x'));
    await utimes(join(dir, f.name), f.modified / 1000, f.modified / 1000);
  }
  for (const [name, repo] of [['this checkout', undefined], [`other (${values.other})`, values.other]] as const) {
    const dataDir = await mkdtemp(join(work, 'data-'));
    const server = await OneDavProcess.start(emulator, { dataDir, repo, config: { cache: { ttlSeconds: 3600 } } });
    servers.push({ name: `onedav, ${name}`, url: server.url, path: '/big/', stop: () => server.stop() });
  }
  const rc = await rcloneServe(dir);
  servers.push({ name: 'rclone serve webdav', url: rc.url, path: '/', stop: () => rc.stop() });

  const times = servers.map(() => [] as number[]);
  for (let round = -2; round < samples; round++) {
    for (const [i, server] of servers.entries()) {
      const start = now();
      const answer = expectStatus(await propfind(server.url, server.path, '1', { keepBody: true, body }), [207], server.name);
      const elapsed = now() - start;
      if (countResponses(answer.text!) !== items + 1) throw new Error(`${server.name} listed ${countResponses(answer.text!) - 1} of ${items}`);
      if (round >= 0) times[i].push(elapsed);
    }
  }
  const base = median(times[servers.length - 1]);
  printTable({
    title: `PROPFIND Depth 1, ${items} items, warm, ${values.allprop ? 'allprop' : 'named properties'}: ${samples} interleaved samples each`,
    columns: ['server', 'median', 'p90', 'vs rclone'],
    rows: servers.map((s, i) => [s.name, ms(median(times[i])), ms(percentile([...times[i]].sort((a, b) => a - b), 90)), `${(median(times[i]) / base).toFixed(2)}×`]),
  });
} finally {
  for (const s of servers) await s.stop();
  await emulator.stop();
  await rm(work, { recursive: true, force: true });
}
