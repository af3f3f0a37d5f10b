import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Sends `body` in `pieces` writes to a fresh node:http server and runs `handle` on the request there. */
export async function withRequest<T>(body: Buffer, pieces: number, handle: (req: IncomingMessage, emitted: Buffer[]) => Promise<T>): Promise<T> {
  let result!: Promise<T>;
  const server = createServer((req, res) => {
    // Every chunk the request emits, seen before any listener (as dav/http/traffic.ts counts them).
    const emitted: Buffer[] = [];
    const emit = req.emit;
    req.emit = function (this: IncomingMessage, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'data') emitted.push(args[0] as Buffer);
      return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
    } as IncomingMessage['emit'];
    result = handle(req, emitted);
    result.then(
      () => res.end('ok'),
      () => res.end('failed'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', headers: { 'content-length': String(body.length) } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      const step = Math.ceil(body.length / pieces);
      for (let at = 0; at < body.length; at += step) req.write(body.subarray(at, at + step));
      req.end();
    });
    return await result;
  } finally {
    server.close();
  }
}
