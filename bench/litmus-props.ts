/**
 * Wall time of litmus's `props` suite (30 PROPFIND/PROPPATCH-heavy tests) against onedav on the
 * emulator: `npx tsx bench/litmus-props.ts [--other DIR] [--runs 10]`.
 *
 *   --other DIR   also run the onedav of another checkout (e.g. `git archive REV | tar -x -C DIR`,
 *                 with DIR/node_modules linked to this one's); runs alternate between the two
 *   --runs 10     measured runs per checkout, after one warm-up run each
 *
 * Both stacks live in this process (the same emulator code, each checkout's own onedav); the
 * figure is litmus's wall time, so run it on a quiet machine or compare medians only.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median, printTable } from './lib/report.js';

const { values } = parseArgs({ options: { other: { type: 'string' }, runs: { type: 'string', default: '10' } }, strict: true });

interface Checkout {
  name: string;
  url: string;
  close(): Promise<void>;
  times: number[];
}

async function start(root: string, name: string): Promise<Checkout> {
  // src/dav/access/passwords.ts since the dav folder has sub-folders; src/dav/passwords.ts in older checkouts.
  const passwords = ['src/dav/access/passwords.ts', 'src/dav/passwords.ts'].map((p) => join(root, p)).find((p) => existsSync(p))!;
  const { hashPassword } = await import(passwords);
  const { DRIVE_KINDS, mountOf } = await import(join(root, 'test/helpers/drive-kinds.ts'));
  const { startDavStack } = await import(join(root, 'test/helpers/stack.ts'));
  const users = [{ name: 'litmus', password: await hashPassword('litmus-pw', { N: 1 << 12, r: 8, p: 1 }) }];
  const stack = await startDavStack({ mounts: [mountOf(DRIVE_KINDS[0])], dav: { users, anonymous: { enabled: false }, download: { mode: 'auto' } } });
  return { name, url: stack.url, close: () => stack.close(), times: [] };
}

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { run } = await import(join(here, 'test/clients/tools.ts'));
const workdir = await mkdtemp(join(tmpdir(), 'onedav-litmus-props-'));

async function litmusProps(c: Checkout): Promise<number> {
  const t0 = performance.now();
  const result = await run('litmus', [`${c.url}/`, 'litmus', 'litmus-pw'], { cwd: workdir, env: { TESTS: 'props' }, timeoutMs: 240_000 });
  const ms = performance.now() - t0;
  const summary = /summary for `props': of (\d+) tests run: (\d+) passed/.exec(result.stdout);
  if (!summary || summary[1] !== summary[2]) throw new Error(`litmus props did not pass on ${c.name}:\n${result.stdout.slice(-2000)}`);
  return ms;
}

const checkouts = [await start(here, 'this checkout')];
if (values.other) checkouts.push(await start(resolve(values.other), values.other));
try {
  for (const c of checkouts) await litmusProps(c); // warm-up
  for (let i = 0; i < Number(values.runs); i++) {
    const order = i % 2 === 0 ? checkouts : [...checkouts].reverse();
    for (const c of order) c.times.push(await litmusProps(c));
  }
} finally {
  for (const c of checkouts) await c.close();
  await rm(workdir, { recursive: true, force: true });
}

printTable({
  title: `litmus props (30 tests), wall ms over ${values.runs} alternating runs`,
  columns: ['onedav', 'median ms', 'min ms', 'max ms'],
  rows: checkouts.map((c) => [c.name, median(c.times).toFixed(0), Math.min(...c.times).toFixed(0), Math.max(...c.times).toFixed(0)]),
});
process.exit(0);
