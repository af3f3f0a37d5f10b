import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { basic, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * A client that sends a PUT body without waiting for `100 Continue` (KIO, most scripts) writes all
 * of it before it reads the answer. When onedav refuses the request before reading the body (a 401
 * for the first, credential-less try), the client must still get to read that 401 and retry with
 * its password. Clients built on Qt (KIO: Dolphin, kioclient5) treat any close while they send,
 * even a half-close, as "connection broken": seen with kioclient5 copying a 1.2 MB file in.
 */
const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

/**
 * In a process of its own (in ours, its writes and the server's reads would take turns on one
 * event loop), as KIO does: the head, a pause in which the server answers, the whole body, the
 * answer; then the same PUT with credentials on the same connection.
 */
const CLIENT = `
const { connect } = require('node:net');
const [port, path, size, authorization] = process.argv.slice(1);
const body = Buffer.alloc(Number(size), 0x61);
const head = (auth) => 'PUT ' + path + ' HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Length: ' + size + '\\r\\n' + auth + '\\r\\n';
const socket = connect({ port: Number(port), host: '127.0.0.1' });
let received = '';
let closedWhileSending = false;
let error = '';
const statuses = () => [...received.matchAll(/HTTP\\/1\\.1 (\\d{3})/g)].map((m) => Number(m[1]));
const report = () => { console.log(JSON.stringify({ statuses: statuses(), closedWhileSending, error })); process.exit(0); };
setTimeout(report, 20000);
let bodySent = false;
let retried = false;
const retry = () => {
  if (retried || !bodySent || statuses().length !== 1) return;
  retried = true;
  socket.write(head('Authorization: ' + authorization + '\\r\\n'));
  socket.write(body);
};
socket.on('data', (chunk) => {
  received += chunk.toString('latin1');
  retry();
  if (statuses().length === 2) report();
});
socket.on('end', () => { closedWhileSending = true; });
socket.on('error', (err) => { error = err.code; report(); });
socket.on('close', report);
socket.on('connect', () => {
  socket.write(head(''));
  setTimeout(() => {
    if (closedWhileSending) return report();
    socket.write(body, () => {
      bodySent = true;
      retry();
    });
  }, 300);
});
`;

async function putAsKio(port: number, path: string, size: number, authorization: string): Promise<{ statuses: number[]; closedWhileSending: boolean; error: string }> {
  const { stdout } = await execFileAsync(process.execPath, ['-e', CLIENT, String(port), path, String(size), authorization], { timeout: 30_000 });
  return JSON.parse(stdout) as { statuses: number[]; closedWhileSending: boolean; error: string };
}

describe('an answer given before the body was read', () => {
  let stack: DavStack;
  let port: number;

  beforeAll(async () => {
    stack = await startDavStack({ dav: { users: [{ name: 'kde', password: await hashPassword('pw', { N: 1 << 12, r: 8, p: 1 }) }], anonymous: { enabled: false } } });
    port = Number(new URL(stack.url).port);
  });
  afterAll(() => stack.close());

  it.each([1.2, 4])('keeps the connection for a %s MiB body sent without credentials: the client reads the 401 and retries on it', async (mib) => {
    const size = Math.round(mib * MiB);
    const answer = await putAsKio(port, `/first ${mib}.bin`.replace(' ', '%20'), size, basic('kde', 'pw'));
    expect(answer).toEqual({ statuses: [401, 201], closedWhileSending: false, error: '' });
    expect((await stack.emulator.drive.readFile(stack.driveIds[0], `first ${mib}.bin`)).equals(Buffer.alloc(size, 0x61))).toBe(true);
  }, 60_000);
});
