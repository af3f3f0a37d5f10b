import { spawn, spawnSync } from 'node:child_process';
import { now } from './report.js';

/** Whether the rclone binary is on PATH (Debian: apt-get install rclone). */
export function hasRclone(): boolean {
  return spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0;
}

export interface RcloneRun {
  ms: number;
  /** Files rclone reported as copied (new or replaced). */
  copied: number;
  stderr: string;
}

/**
 * Runs the real rclone against onedav as the remote `benchdav:` (webdav, vendor other, defined in
 * the environment so no rclone.conf is read or written). Throws on a non-zero exit.
 */
export async function rclone(args: string[], davUrl: string, timeoutMs = 600_000): Promise<RcloneRun> {
  return runRclone(args, { RCLONE_CONFIG_BENCHDAV_TYPE: 'webdav', RCLONE_CONFIG_BENCHDAV_URL: davUrl, RCLONE_CONFIG_BENCHDAV_VENDOR: 'other' }, timeoutMs);
}

export interface OneDriveRemote {
  /** An HTTPS proxy that answers for graph.microsoft.com (graph-relay.ts) and the certificate it shows. */
  proxyUrl: string;
  certPath: string;
  accessToken: string;
  driveId: string;
  driveType: 'personal' | 'business' | 'documentLibrary';
}

/**
 * Runs the real rclone with its own onedrive backend as the remote `benchod:`, its Graph requests
 * relayed to the emulator. The token is handed over ready-made (valid for the run), so rclone
 * never signs in or refreshes.
 */
export async function rcloneOneDrive(args: string[], remote: OneDriveRemote, timeoutMs = 600_000): Promise<RcloneRun> {
  const token = JSON.stringify({ access_token: remote.accessToken, token_type: 'Bearer', refresh_token: 'unused', expiry: new Date(Date.now() + 50 * 60_000).toISOString() });
  return runRclone([...args, '--ca-cert', remote.certPath], {
    RCLONE_CONFIG_BENCHOD_TYPE: 'onedrive',
    RCLONE_CONFIG_BENCHOD_TOKEN: token,
    RCLONE_CONFIG_BENCHOD_DRIVE_ID: remote.driveId,
    RCLONE_CONFIG_BENCHOD_DRIVE_TYPE: remote.driveType,
    HTTPS_PROXY: remote.proxyUrl,
    https_proxy: remote.proxyUrl,
    HTTP_PROXY: '',
    http_proxy: '',
    NO_PROXY: '',
    no_proxy: '',
  }, timeoutMs);
}

async function runRclone(args: string[], remoteEnv: Record<string, string>, timeoutMs: number): Promise<RcloneRun> {
  const env = { ...process.env, ...remoteEnv };
  const start = now();
  const child = spawn('rclone', [...args, '--config', '/dev/null'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`rclone ${args.join(' ')} exited with ${code}:\n${stderr.slice(-3000)}`);
  const copied = stderr.split('\n').filter((line) => /: Copied \((new|replaced existing)\)/.test(line)).length;
  return { ms: now() - start, copied, stderr };
}

/** `rclone serve webdav DIR` on a free loopback port; resolves once it listens. */
export async function rcloneServe(dir: string, extraArgs: string[] = []): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn('rclone', ['serve', 'webdav', dir, '--addr', '127.0.0.1:0', '--config', '/dev/null', ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rclone serve webdav did not start:\n${stderr}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`rclone serve webdav exited with ${code}:\n${stderr}`)));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /WebDav Server started on (http:\/\/[^\s/]+)/i.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
