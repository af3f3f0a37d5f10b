/**
 * A raw TCP relay in its own process: every connection is piped to `target` byte for byte, with
 * no HTTP parsing. The cheapest thing a proxy process can be in Node, so its CPU per GiB is the
 * floor any proxying onedav is measured against (`bench/compare-transfer.ts`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export class TcpRelay {
  private constructor(
    private readonly child: ChildProcess,
    /** `http://127.0.0.1:PORT`: use it in place of the target's origin. */
    readonly origin: string,
  ) {}

  static async start(target: string): Promise<TcpRelay> {
    const child = fork(fileURLToPath(import.meta.url), [target], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the TCP relay exited early (code ${code})`)));
      child.once('message', (msg: { port: number }) => resolve(msg.port));
    });
    child.removeAllListeners('exit');
    return new TcpRelay(child, `http://127.0.0.1:${port}`);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** `url` with its origin replaced by the relay's. */
  via(url: string): string {
    const u = new URL(url);
    return `${this.origin}${u.pathname}${u.search}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill();
    await exited;
  }
}

if (process.send && process.argv[2] && import.meta.url === `file://${process.argv[1]}`) {
  const target = new URL(process.argv[2]);
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    client.pipe(upstream).on('error', () => client.destroy());
    upstream.pipe(client).on('error', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('disconnect', () => process.exit(0));
}
