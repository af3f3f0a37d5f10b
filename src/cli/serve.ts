import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../util/logger.js';
import { startOneDav } from './app.js';
import { waitForSignal } from './emulator.js';
import { EXIT, type Command } from './command.js';
import { preflight } from './preflight.js';
import { hashPassword, isPasswordHash } from '../dav/access/passwords.js';

export const serveCommand: Command = {
  summary: 'serve the configured drives over WebDAV (no config: the built-in emulator)',
  usage: `Usage: onedav serve [--config FILE] [--port N] [--verbose] [--insecure-dev]

Serves every mount of the config over WebDAV. Without --config, starts the built-in Graph
emulator and serves its demo drive on http://127.0.0.1:8080/ (anonymous, loopback only).
--insecure-dev accepts plaintext user passwords (never in production).`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, port: { type: 'string' }, verbose: { type: 'boolean', short: 'v', default: false }, 'insecure-dev': { type: 'boolean', default: false } },
      strict: true,
    });
    // Listening for SIGTERM/SIGINT from the start: a signal sent while we start, or the moment the
    // URL is printed (service managers, tests), must still end in a graceful close that flushes
    // the lock and property stores. (Without a listener Node dies at once.)
    const stopped = waitForSignal();
    let config;
    try {
      config = await loadConfig(values.config);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`onedav: ${err.message}\n`);
        return EXIT.config;
      }
      throw err;
    }
    if (values.port !== undefined) config.server.port = Number(values.port);
    const logger = createLogger({ level: values.verbose ? 'debug' : config.log.level, format: config.log.format });
    const { problems, warnings } = await preflight(config, { insecureDev: values['insecure-dev'] });
    for (const warning of warnings) logger.warn(warning);
    if (problems.length) {
      process.stderr.write(`onedav: cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
      return EXIT.config;
    }
    if (values['insecure-dev']) {
      // Development only: plaintext passwords are hashed in memory so the server verifies one way.
      for (const user of config.users) {
        if (!isPasswordHash(user.password)) user.password = await hashPassword(user.password);
      }
    }
    const app = await startOneDav(config, { logger });
    if (app.emulator) process.stdout.write(`Graph emulator on ${app.emulator.url}\n`);
    for (const mount of app.mounts) process.stdout.write(`Mounted ${mount.prefix} → ${mount.client.baseUrl}\n`);
    process.stdout.write(`WebDAV server listening on ${app.url}/\n`);
    if (config.gateway) process.stdout.write(`People sign in at ${config.gateway.publicUrl.replace(/\/+$/, '')}/.well-known/onedav/account/\n`);
    await stopped;
    await app.close();
    return EXIT.ok;
  },
};
