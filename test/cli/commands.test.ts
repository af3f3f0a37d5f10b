import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/dav/access/passwords.js';
import { sourceCli } from '../helpers/cli.js';


interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process (bounded: 30 s). */
function onedav(args: string[], input?: string, untilStdout?: RegExp): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, sourceCli(...args), { stdio: ['pipe', 'pipe', 'pipe'], cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`onedav ${args.join(' ')} did not finish:\n${stdout}\n${stderr}`));
    }, 30_000);
    child.stdout.on('data', (c) => {
      stdout += c;
      if (untilStdout?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

async function configFile(content: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'onedav-cli-'));
  const path = join(dir, 'config.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('onedav CLI', () => {
  it('lists every command in --help and exits 0', async () => {
    const run = await onedav(['--help']);
    expect(run.code).toBe(0);
    for (const name of ['serve', 'login', 'discover', 'whoami', 'hash-password', 'check-config', 'emulator']) {
      expect(run.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    }
  });

  it('gives per-command help and refuses unknown commands with exit 2', async () => {
    const help = await onedav(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: onedav serve');
    const unknown = await onedav(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });

  it('hash-password reads a piped password and prints a hash that verifies', async () => {
    const run = await onedav(['hash-password'], 'correct horse\n');
    expect(run.code).toBe(0);
    const hash = run.stdout.trim();
    expect(hash).toMatch(/^scrypt\$\d+\$\d+\$\d+\$/);
    expect(hash).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('wrong', hash)).toBe(false);
  });

  it('serve with a broken config names each field and the fix, exit 3', async () => {
    const path = await configFile({
      server: { port: 'eighty' },
      upload: { fragmentSize: 1_000_000 },
      download: { mode: 'teleport' },
      mounts: [{ path: 'team/', account: 'work' }],
    });
    const run = await onedav(['serve', '--config', path]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/server\.port: .*number/i);
    expect(run.stderr).toMatch(/upload\.fragmentSize: must be a multiple of 327680/);
    expect(run.stderr).toMatch(/download\.mode: .*"redirect"/);
    expect(run.stderr).toMatch(/mounts\.0\.path: must start with \//);
  });

  it('serve reports a file that is not JSON and one that is missing', async () => {
    const bad = await onedav(['serve', '--config', await configFile('{ "server": ')]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/is not valid JSON/);
    const missing = await onedav(['serve', '--config', '/nonexistent/onedav.json']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/cannot read \/nonexistent\/onedav\.json/);
  });

  it('serve refuses plaintext user passwords unless --insecure-dev', async () => {
    const path = await configFile({
      emulator: { enabled: true },
      mounts: [{ path: '/', account: 'emulator' }],
      users: [{ name: 'alice', password: 'plaintext' }],
      dataDir: await mkdtemp(join(tmpdir(), 'onedav-cli-data-')),
      server: { port: 0 },
    });
    const refused = await onedav(['serve', '--config', path]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('users.0.password (user "alice") is not a scrypt hash: run "onedav hash-password"');
    expect(refused.stderr).not.toContain('plaintext');

    const accepted = await onedav(['serve', '--config', path, '--insecure-dev'], undefined, /WebDAV server listening on/);
    expect(accepted.stdout).toMatch(/WebDAV server listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(accepted.code).toBe(0);
    // Standard error is a pipe here, so the default log format (auto) writes JSON lines.
    const logLines = accepted.stderr.split('\n').filter(Boolean);
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) expect(JSON.parse(line)).toMatchObject({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) });
  });

  it('check-config lists problems and warnings, and passes a good file', async () => {
    const bad = await configFile({ server: { host: '0.0.0.0' }, anonymous: { enabled: true, readOnly: false }, users: [{ name: 'bob', password: 'x' }], accounts: { work: { clientId: 'abc' } }, mounts: [{ path: '/', account: 'work' }], dataDir: await mkdtemp(join(tmpdir(), 'onedav-cc-')) });
    const run = await onedav(['check-config', '--config', bad]);
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('problem: users.0.password (user "bob") is not a scrypt hash');
    expect(run.stdout).toContain('problem: account "work" has not signed in yet: run "onedav login --account work');
    expect(run.stdout).toContain('warning: server.host is 0.0.0.0 without TLS');
    expect(run.stdout).toContain('warning: anonymous access is on and server.host is 0.0.0.0');

    const good = await configFile({ emulator: { enabled: true }, mounts: [{ path: '/', account: 'emulator' }], anonymous: { enabled: true } });
    const ok = await onedav(['check-config', '--config', good]);
    expect(ok.stdout).toContain('OK (1 mount(s), 0 user(s))');
    expect(ok.code).toBe(0);
  });

  it('check-config names a mount whose download mode is not one it knows', async () => {
    const bad = await configFile({ emulator: { enabled: true }, anonymous: { enabled: true }, mounts: [{ path: '/', account: 'emulator' }, { path: '/media', account: 'emulator', download: { mode: 'stream' } }] });
    const run = await onedav(['check-config', '--config', bad]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/mounts\.1\.download\.mode: Invalid option: expected one of "redirect"\|"proxy"\|"auto"/);

    const good = await configFile({ emulator: { enabled: true }, anonymous: { enabled: true }, mounts: [{ path: '/', account: 'emulator' }, { path: '/media', account: 'emulator', download: { mode: 'proxy' } }] });
    const ok = await onedav(['check-config', '--config', good]);
    expect(ok.stdout).toContain('OK (2 mount(s), 0 user(s))');
    expect(ok.code).toBe(0);
  });
});
