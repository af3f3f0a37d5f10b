import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { EXIT, type Command } from './command.js';

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  emulator: async () => (await import('./emulator.js')).emulatorCommand,
  login: async () => (await import('./login.js')).loginCommand,
  discover: async () => (await import('./discover.js')).discoverCommand,
  whoami: async () => (await import('./whoami.js')).whoamiCommand,
  'hash-password': async () => (await import('./hash-password.js')).hashPasswordCommand,
  'check-config': async () => (await import('./check-config.js')).checkConfigCommand,
  users: async () => (await import('./users.js')).usersCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(await helpText());
    return name ? EXIT.ok : EXIT.usage;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`onedav: unknown command "${name}"\n\n${await helpText()}`);
    return EXIT.usage;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  return command.run(rest);
}

async function helpText(): Promise<string> {
  const lines = ['Usage: onedav <command> [options]', '', 'WebDAV server for Microsoft OneDrive, through Microsoft Graph.', '', 'Commands:'];
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(14)} ${(await load()).summary}`);
  lines.push('', 'Run "onedav <command> --help" for the options of a command.', '');
  return lines.join('\n');
}

/** Runs the CLI as a process: `main` on the process's arguments, its result as the exit code. */
export function runAsProcess(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== EXIT.ok || !process.env.ONEDAV_KEEP_ALIVE) process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`onedav: ${(err as Error).message}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}

/** True when node was started on this file (`tsx src/cli/main.ts`); bin/onedav.js calls `runAsProcess` itself. */
function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) runAsProcess();
