import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { startEmulator } from '../emulator/server.js';
import { waitForSignal } from './emulator.js';
import type { Command } from './main.js';

export const serveCommand: Command = {
  summary: 'serve the configured drives over WebDAV (no config: the built-in emulator)',
  usage: `Usage: onedav serve [--config FILE]

Without --config, starts the built-in Graph emulator and serves its demo drive on 127.0.0.1.`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
    const config = await loadConfig(values.config);
    const emulator = config.emulator.enabled ? await startEmulator({ port: config.emulator.port, dataDir: config.emulator.dataDir }) : undefined;
    if (emulator) process.stdout.write(`Graph emulator on ${emulator.url}\n`);
    process.stdout.write('WebDAV layer not wired yet.\n');
    await waitForSignal();
    await emulator?.close();
    return 0;
  },
};
