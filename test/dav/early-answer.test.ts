import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hashPassword } from '../../src/dav/access/passwords.js';

/**
 * A client that sends a PUT body without waiting for `100 Continue` (KIO, most scripts) writes all
 * of it before it reads the answer. When onedav refuses the request before reading the body (a 401
 * for the first, credential-less try), it must keep reading while the answer goes out, or the kernel resets the connection over the unread bytes and the client sees
 * "connection broken" instead of the 401 it would retry with its password (RFC 9112 §9.6: close
 * in stages, reading on after the half-close). Seen with kioclient5 copying a 1.2 MB file in.
 */
const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

/**
 * In a process of its own (as a real client is: in ours, its writes and the server's reads would
 * take turns on one event loop), writes the head and the whole body, then reads: the status line,
 * or the socket error.
 */
const CLIENT = `
const { connect } = require('node:net');
const [port, path, size, authorization] = process.argv.slice(1);
const socket = connect({ port: Number(port), host: '127.0.0.1' });
let received = '';
let error = '';
setTimeout(() => socket.destroy(), 20000).unref();
socket.on('data', (chunk) => (received += chunk.toString('latin1')));
socket.on('error', (err) => (error = err.code));
socket.on('close', () => console.log(JSON.stringify({ status: received.split('\\r\\n')[0], error })));
socket.on('connect', () => {
  const auth = authorization ? 'Authorization: ' + authorization + '\\r\\n' : '';
  socket.write('PUT ' + path + ' HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Length: ' + size + '\\r\\n' + auth + '\\r\\n');
  socket.write(Buffer.alloc(Number(size), 0x61));
  socket.end();
});
`;

async function putWholeBody(port: number, path: string, size: number, authorization = ''): Promise<{ status: string; error?: string }> {
  const { stdout } = await execFileAsync(process.execPath, ['-e', CLIENT, String(port), path, String(size), authorization], { timeout: 30_000 });
  return JSON.parse(stdout) as { status: string; error?: string };
}

describe('an answer given before the body was read', () => {
  let stack: DavStack;
  let port: number;

  beforeAll(async () => {
    stack = await startDavStack({ dav: { users: [{ name: 'kde', password: await hashPassword('pw', { N: 1 << 12, r: 8, p: 1 }) }], anonymous: { enabled: false } } });
    port = Number(new URL(stack.url).port);
  });
  afterAll(() => stack.close());

  it.each([1.2, 4])('reaches a client that sends a %s MiB body without credentials (401)', async (mib) => {
    for (let i = 0; i < 5; i++) {
      const answer = await putWholeBody(port, `/unauthenticated-${i}.bin`, Math.round(mib * MiB));
      expect(answer.status, `try ${i}: ${answer.error ?? ''}`).toBe('HTTP/1.1 401 Unauthorized');
    }
    expect(stack.emulator.drive.listPaths(stack.driveIds[0])).toEqual([]);
  }, 60_000);
});
