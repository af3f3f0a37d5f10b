import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { sourceCli } from '../helpers/cli.js';

/**
 * `onedav serve` warns in its log, at start, when Basic-auth passwords would cross the network in
 * clear text: plain HTTP bound beyond loopback. Bound to loopback, or with TLS, it does not.
 */

function serveOutput(configPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, sourceCli('serve', '--config', configPath), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/WebDAV server listening on/.test(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
}

describe('onedav serve and plain-HTTP Basic auth', () => {
  let dir: string;
  let hash: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onedav-exposure-'));
    hash = await hashPassword('a-password', { N: 1 << 10, r: 8, p: 1 });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function config(name: string, host: string): Promise<string> {
    const path = join(dir, `${name}.json`);
    await writeFile(
      path,
      JSON.stringify({
        server: { host, port: 0 },
        emulator: { enabled: true },
        mounts: [{ path: '/', account: 'emulator' }],
        users: [{ name: 'alice', password: hash }],
        dataDir: join(dir, name),
      }),
    );
    return path;
  }

  it('warns at start when bound beyond loopback without TLS', async () => {
    const output = await serveOutput(await config('exposed', '0.0.0.0'));
    // Standard error is a pipe, so the log is JSON (log.format auto).
    expect(output).toMatch(/"level":"warn".*server\.host is 0\.0\.0\.0 without TLS: Basic-auth passwords cross the network in clear text/);
    expect(output).not.toContain('a-password');
  });

  it('stays quiet about it on loopback', async () => {
    const output = await serveOutput(await config('loopback', '127.0.0.1'));
    expect(output).toContain('WebDAV server listening on');
    expect(output).not.toMatch(/without TLS/);
  });
});

describe('onedav serve and SIGTERM', () => {
  it('closes gracefully (exit 0) even when the signal comes while it is still starting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-sigterm-'));
    try {
      const path = join(dir, 'config.json');
      // A plaintext password (with --insecure-dev) makes the start slow enough to be signalled mid-way.
      await writeFile(path, JSON.stringify({ server: { port: 0 }, emulator: { enabled: true }, mounts: [{ path: '/', account: 'emulator' }], users: [{ name: 'alice', password: 'plain' }], dataDir: join(dir, 'data') }));
      const result = await new Promise<{ code: number | null; signal: string | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, sourceCli('serve', '--config', path, '--insecure-dev'), { stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        let signalled = false;
        child.stderr.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          // The first log line (the --insecure-dev warning) comes before the server is up.
          if (!signalled) {
            signalled = true;
            child.kill('SIGTERM');
          }
        });
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('exit', (code, signal) => resolve({ code, signal, output }));
      });
      expect(result.signal, result.output).toBeNull();
      expect(result.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
