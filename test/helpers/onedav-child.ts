/**
 * `onedav serve` in a child process for tests that measure the server's own memory: the parent
 * sends the config (JSON, as a config file would hold it) as the first IPC message; the child
 * starts the server with `startOneDav` and answers `{ ready: true, url }`. `{ op: 'stop' }` closes
 * it and exits; `{ op: 'gc', id }` runs a full garbage collection (with --expose-gc) and answers
 * `{ id, done: true }`. Test-only: run through `fork(…, { execArgv: ['--import', 'tsx', '--expose-gc'] })`.
 */
import { startOneDav, type RunningOneDav } from '../../src/cli/app.js';
import { parseConfig } from '../../src/config.js';

let running: RunningOneDav | undefined;

process.once('message', (message: { config: unknown }) => {
  void (async () => {
    try {
      running = await startOneDav(parseConfig(message.config, {}));
      process.send!({ ready: true, url: running.url });
    } catch (err) {
      process.send!({ ready: false, error: (err as Error).stack ?? String(err) });
      process.exit(1);
    }
  })();
  process.on('message', (next: { op?: string; id?: number }) => {
    if (next.op === 'memory') process.send!({ id: next.id, memory: process.memoryUsage() });
    if (next.op === 'gc') {
      // A full collection, so a baseline is not inflated by garbage of earlier requests.
      (globalThis as { gc?: () => void }).gc?.();
      process.send!({ id: next.id, done: true });
    }
    if (next.op !== 'stop') return;
    void (async () => {
      await running?.close().catch(() => undefined);
      process.exit(0);
    })();
  });
});

// Without a parent there is nobody to serve: leave rather than linger.
process.on('disconnect', () => process.exit(0));
