import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { hashPassword } from '../dav/access/passwords.js';
import { EXIT, type Command } from './command.js';

export const hashPasswordCommand: Command = {
  summary: 'make a scrypt hash of a WebDAV user password for the config',
  usage: `Usage: onedav hash-password

Asks for the password twice (without echo) on a terminal, or reads one line from standard
input when it is redirected (onedav hash-password < password.txt). Prints the hash to put in
"users[].password". The password is never taken as an argument: it would land in shell history.`,
  async run(argv) {
    parseArgs({ args: argv, options: {}, strict: true });
    const password = process.stdin.isTTY ? await askTwice() : await readLine();
    if (password === undefined) {
      process.stderr.write('onedav hash-password: the two passwords differ; nothing was written\n');
      return EXIT.failure;
    }
    if (password.length === 0) {
      process.stderr.write('onedav hash-password: empty password refused\n');
      return EXIT.usage;
    }
    process.stdout.write(`${await hashPassword(password)}\n`);
    return EXIT.ok;
  },
};

async function readLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, '');
}

async function askTwice(): Promise<string | undefined> {
  const first = await askHidden('Password: ');
  const second = await askHidden('Again: ');
  return first === second ? first : undefined;
}

function askHidden(prompt: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}
