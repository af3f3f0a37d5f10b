import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, serveUrl, type Printed } from '../helpers/cli.js';

/**
 * The package as a user gets it: `npm pack` (its prepack builds dist/ afresh), `npm install` of the
 * tarball into an empty folder, then the installed `onedav serve` with node alone, no tsx, no
 * TypeScript, nothing of this checkout on the module path.
 */
describe('the npm package', () => {
  const STALE = 'dist/cli/left-over-from-an-old-build.js';
  let work: string;
  let entries: string[];
  let scratch: string;
  let server: ChildProcess | undefined;
  let url: string;
  const printed: Printed = { text: '' };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'onedav-package-'));
    // A file an earlier build left behind must not ship: the build starts from an empty dist/.
    await mkdir(join(REPO, dirname(STALE)), { recursive: true });
    await writeFile(join(REPO, STALE), 'throw new Error("stale");\n');

    await run('npm', ['pack', '--pack-destination', work], REPO, 240_000);
    const tarballs = (await readdir(work)).filter((f) => f.endsWith('.tgz'));
    expect(tarballs).toHaveLength(1);
    const tarball = join(work, tarballs[0]);
    entries = (await run('tar', ['-tzf', tarball], work, 30_000)).stdout
      .split('\n')
      .filter(Boolean)
      .map((e) => e.replace(/^package\//, ''));

    scratch = join(work, 'scratch');
    await mkdir(scratch);
    await writeFile(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
    // Our runtime dependencies are in the npm cache after `npm ci`; the registry is the fallback.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', tarball], scratch, 180_000);

    server = spawn(join(scratch, 'node_modules/.bin/onedav'), ['serve', '--port', '0'], {
      cwd: scratch,
      env: nodeAloneEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    url = await serveUrl(server, printed, 30_000);
  }, 480_000);

  afterAll(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
    }
    await rm(join(REPO, STALE), { force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the compiled program, its launcher, the docs and the licence, and no sources or tests', async () => {
    for (const file of ['package.json', 'bin/onedav.js', 'dist/cli/main.js', 'dist/cli/serve.js', 'README.md', 'LICENSE', 'config.example.json', 'docs/deploy.md']) {
      expect(entries).toContain(file);
    }
    expect(entries.filter((e) => /^(src|test|bench|\.ci|node_modules)\//.test(e) || e.endsWith('.ts') || e.startsWith('tsconfig'))).toEqual([]);
    expect(entries).not.toContain(STALE);
  });

  it('ships every non-TypeScript file of src/ next to the compiled code that reads it', async () => {
    const assets = (await filesUnder(join(REPO, 'src'))).filter((f) => !f.endsWith('.ts'));
    for (const asset of assets) expect(entries).toContain(`dist/${relative(join(REPO, 'src'), asset)}`);
  });

  it('installs only what the compiled code needs at run time', () => {
    for (const dev of ['tsx', 'typescript', 'vitest', '@types/node']) expect(existsSync(join(scratch, 'node_modules', dev))).toBe(false);
    expect(existsSync(join(scratch, 'node_modules/onedav/dist/cli/main.js'))).toBe(true);
    expect(existsSync(join(scratch, 'node_modules/onedav/src'))).toBe(false);
  });

  it('runs onedav serve from the installed package: the built-in emulator, PROPFIND and a write', async () => {
    expect(printed.text).toMatch(/Graph emulator on http:\/\/127\.0\.0\.1:\d+/);
    const listing = await fetch(`${url}/`, { method: 'PROPFIND', headers: { Depth: '1' }, signal: AbortSignal.timeout(30_000) });
    expect(listing.status).toBe(207);
    const xml = await listing.text();
    expect(xml).toContain('Welcome%20to%20onedav.txt');

    const put = await fetch(`${url}/from-the-package.txt`, { method: 'PUT', body: 'installed', signal: AbortSignal.timeout(30_000) });
    expect(put.status).toBe(201);
    const get = await fetch(`${url}/from-the-package.txt`, { signal: AbortSignal.timeout(30_000) });
    expect(await get.text()).toBe('installed');
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    server!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

/**
 * The environment without what `npm test` or vitest put into it: npm's own variables (the
 * project's prefix among them, which would make the scratch install land in this checkout) and
 * NODE_OPTIONS (a loader would hide a package that needs one). Node's folder leads PATH so the
 * launcher's `#!/usr/bin/env node` finds this node.
 */
function nodeAloneEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_registry']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || (/^npm_/i.test(key) && !keep.has(key.toLowerCase()))) continue;
    env[key] = value;
  }
  env.PATH = [dirname(process.execPath), process.env.PATH].filter(Boolean).join(delimiter);
  return env;
}

/** Runs a command to its end (bounded: killed with its children after `timeoutMs`); throws unless it exits 0. */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: nodeAloneEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs / 1000} s:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else files.push(path);
  }
  return files;
}
