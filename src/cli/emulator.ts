import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator/server.js';
import type { Command } from './command.js';

export const emulatorCommand: Command = {
  summary: 'run the built-in Microsoft Graph emulator on its own',
  usage: `Usage: onedav emulator [--host 127.0.0.1] [--port 0] [--data DIR] [--admin]

Runs the identity and drive emulator on loopback. With --data DIR the drives and tokens
survive restarts. --admin enables the /_emulator/ control endpoint (faults, counters).`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '0' },
        data: { type: 'string' },
        admin: { type: 'boolean', default: false },
      },
      strict: true,
    });
    const stopped = waitForSignal(); // before the URL is printed: see serve.ts
    const emulator = await startEmulator({ host: values.host, port: Number(values.port), dataDir: values.data, admin: values.admin });
    process.stdout.write(`Graph emulator listening on ${emulator.url} (Graph at ${emulator.url}/v1.0)\n`);
    await stopped;
    await emulator.close();
    return 0;
  },
};

export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
