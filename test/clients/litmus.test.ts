import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { startDavServer, type DavServerOptions } from '../../src/dav/server.js';
import { MemoryDrive } from '../../src/drive/index.js';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { startDavStack } from '../helpers/stack.js';
import { hasProgram, run, skipReason } from './tools.js';

/**
 * The litmus WebDAV compliance suite (basic, copymove, props, locks, http) against onedav on the
 * emulator, authenticated with Basic, in the default `auto` download mode (litmus is neon-based,
 * so it is proxied). Every test must pass, without warnings, on each kind of drive (business,
 * SharePoint library, 21Vianet, and an in-memory drive).
 */
const SUITES = ['basic', 'copymove', 'props', 'locks', 'http'];

interface SuiteResult {
  run: number;
  passed: number;
  failed: number;
  warnings: number;
  failures: string[];
}

function parseLitmus(output: string): Record<string, SuiteResult> {
  const results: Record<string, SuiteResult> = {};
  const text = output.replace(/\r/g, '\n');
  for (const chunk of text.split('-> running `').slice(1)) {
    const name = chunk.slice(0, chunk.indexOf("'"));
    const summary = /summary for `[^']+': of (\d+) tests run: (\d+) passed, (\d+) failed/.exec(chunk);
    const failures = [...chunk.matchAll(/^\s*\d+\.\s+(\S+?)\.*\s+FAIL(.*)$/gm)].map((m) => `${m[1]}${m[2]}`);
    results[name] = {
      run: Number(summary?.[1] ?? 0),
      passed: Number(summary?.[2] ?? 0),
      failed: Number(summary?.[3] ?? -1),
      warnings: (chunk.match(/WARNING:/g) ?? []).length,
      failures,
    };
  }
  return results;
}

/** The three Graph drive kinds, and an in-memory drive (case-sensitive): proof that the seam is neutral. */
const KINDS: Array<{ name: string; start(users: DavServerOptions['users']): Promise<{ url: string; close(): Promise<void> }> }> = [
  ...DRIVE_KINDS.map((kind) => ({
    name: kind.name,
    start: (users: DavServerOptions['users']) => startDavStack({ mounts: [mountOf(kind)], dav: { users, anonymous: { enabled: false }, download: { mode: 'auto' } } }),
  })),
  {
    name: 'memory',
    async start(users: DavServerOptions['users']) {
      const dataDir = await mkdtemp(join(tmpdir(), 'onedav-litmus-data-'));
      const server = await startDavServer({ port: 0, dataDir, users, anonymous: { enabled: false }, download: { mode: 'auto' }, mounts: [{ prefix: '/', drive: new MemoryDrive() }] });
      return {
        url: server.url,
        async close() {
          await server.close();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];

describe.skipIf(!hasProgram('litmus')).each(KINDS)(`litmus on a $name drive${skipReason('litmus')}`, (kind) => {
  let stack: { url: string; close(): Promise<void> };
  let workdir: string;

  beforeAll(async () => {
    const users = [{ name: 'litmus', password: await hashPassword('litmus-pw', { N: 1 << 12, r: 8, p: 1 }) }];
    stack = await kind.start(users);
    workdir = await mkdtemp(join(tmpdir(), 'onedav-litmus-'));
  });
  afterAll(async () => {
    await stack.close();
    await rm(workdir, { recursive: true, force: true });
  });

  it('passes every test of basic, copymove, props, locks and http', async () => {
    const result = await run('litmus', [`${stack.url}/`, 'litmus', 'litmus-pw'], { cwd: workdir, env: { TESTS: SUITES.join(' ') }, timeoutMs: 240_000 });
    const suites = parseLitmus(result.stdout);
    expect(Object.keys(suites)).toEqual(SUITES);
    for (const name of SUITES) {
      const suite = suites[name];
      expect(suite.failures, `${name} failures`).toEqual([]);
      expect(suite.failed, `${name} failed count`).toBe(0);
      expect(suite.passed, `${name} passed count`).toBe(suite.run);
      expect(suite.warnings, `${name} warnings`).toBe(0);
    }
    expect(suites.basic.run).toBeGreaterThanOrEqual(16);
    expect(suites.locks.run).toBeGreaterThanOrEqual(41);
    // litmus 0.13 (Debian's) runs 104 tests in these suites.
    const passed = SUITES.reduce((sum, name) => sum + suites[name].passed, 0);
    console.log(`[litmus on a ${kind.name} drive] ${passed} passed`);
    expect(passed).toBeGreaterThanOrEqual(104);
    expect(result.code).toBe(0);
  }, 300_000);
});
