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
  const env = {
    ...process.env,
    RCLONE_CONFIG_BENCHDAV_TYPE: 'webdav',
    RCLONE_CONFIG_BENCHDAV_URL: davUrl,
    RCLONE_CONFIG_BENCHDAV_VENDOR: 'other',
  };
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
