import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasProgram } from '../clients/tools.js';
import { freePort } from './ports.js';

/** Whether a real haproxy is installed (.ci/run installs Debian's). */
export const HAS_HAPROXY = hasProgram('haproxy');

/** A request the replica may have carried out before dying is sent again only if doing it twice is harmless (docs/deploy.md). */
export const BALANCER_RETRY_RULE = '  http-request disable-l7-retry if !{ method GET HEAD OPTIONS PROPFIND }';

export interface RunningBalancer {
  url: string;
  stop(): Promise<void>;
}

/**
 * A real haproxy on 127.0.0.1 in front of `backends` (http://127.0.0.1:PORT), round robin per
 * request: in HTTP mode haproxy balances every request on its own, so one client's keep-alive
 * connection reaches each replica in turn (no stickiness: every request may land on another
 * replica). A replica that stops answering /.well-known/onedav/healthz is taken out within about
 * a second; a request whose connection to a dead replica fails is sent to another one
 * (`retry-on conn-failure`, `option redispatch`), as an operator's config would (docs/deploy.md).
 * A request that reached a replica which then died without answering (`empty-response`) is sent
 * again only when it is safe (GET, HEAD, OPTIONS, PROPFIND): haproxy 2.6 resends any method, and
 * the fleet soak's UNLOCK, carried out by the replica it killed, came back 409 from the next one
 * with no retry the client could see.
 */
export async function startBalancer(backends: string[]): Promise<RunningBalancer> {
  const dir = await mkdtemp(join(tmpdir(), 'onedav-haproxy-'));
  const port = await freePort();
  const config = [
    'global',
    '  maxconn 512',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  option redispatch',
    '  retries 3',
    '  retry-on conn-failure empty-response',
    'frontend webdav',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    BALANCER_RETRY_RULE,
    '  option httpchk GET /.well-known/onedav/healthz',
    '  default-server inter 300ms fall 2 rise 1',
    ...backends.map((b, i) => `  server r${i} ${new URL(b).host} check`),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  // Ready when it accepts a request (any answer, even 503 before the first health checks).
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${output}`);
    const answered = await fetch(`${url}/.well-known/onedav/healthz`).then(
      () => true,
      () => false,
    );
    if (answered) break;
    if (i > 100) throw new Error(`haproxy did not listen within 10 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
