import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { EXIT, type Command } from './command.js';
import { preflight } from './preflight.js';

export const checkConfigCommand: Command = {
  summary: 'validate a config file and say what to fix',
  usage: `Usage: onedav check-config --config FILE [--insecure-dev]

Validates FILE against the schema, then checks password hashes, TLS files, sign-ins and
exposure. Exit code 0 when it would start, 3 when it would not.`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, 'insecure-dev': { type: 'boolean', default: false } }, strict: true });
    if (!values.config) {
      process.stderr.write('onedav check-config: --config FILE is required\n');
      return EXIT.usage;
    }
    try {
      const config = await loadConfig(values.config);
      const { problems, warnings, notes } = await preflight(config, { insecureDev: values['insecure-dev'] });
      for (const n of notes) process.stdout.write(`note: ${n}\n`);
      for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
      for (const p of problems) process.stdout.write(`problem: ${p}\n`);
      if (problems.length) return EXIT.config;
      process.stdout.write(`${values.config}: OK (${config.mounts.length} mount(s), ${config.users.length} user(s))\n`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stdout.write(`${err.message}\n`);
        return EXIT.config;
      }
      throw err;
    }
  },
};
