import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * An HTTPS proxy on loopback that answers for graph.microsoft.com itself and hands every request to
 * the emulator: rclone's own onedrive backend has its Graph host built in (one per region, no
 * override), so it reaches the emulator as `HTTPS_PROXY=<this>` with `--ca-cert <cert>`. Only
 * CONNECTs to graph.microsoft.com:443 are accepted; the emulator's download and upload URLs are
 * loopback URLs, which Go never sends through a proxy.
 *
 * rclone 1.60 (Debian's) sends its Authorization header with upload fragments, which Microsoft
 * documents may be refused with 401 and the emulator always refuses; rclone fixed that in 1.66
 * (rclone/rclone dedad9f07, citing https://learn.microsoft.com/graph/api/driveitem-createuploadsession
 * "Don't include it when you issue the PUT call"). So upload URLs in Graph's answers are pointed at
 * a loopback forwarder that drops the header, and rclone behaves as its current release does.
 */
export class GraphRelay {
  private constructor(
    readonly proxyUrl: string,
    /** The self-signed certificate rclone must trust (`--ca-cert`). */
    readonly certPath: string,
    private readonly dir: string,
    private readonly close: () => Promise<void>,
  ) {}

  static async start(emulatorUrl: string): Promise<GraphRelay> {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-bench-relay-'));
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', keyPath, '-out', certPath,
      '-subj', '/CN=graph.microsoft.com', '-addext', 'subjectAltName=DNS:graph.microsoft.com',
    ], { stdio: 'ignore' });
    const target = new URL(emulatorUrl);
    const pass = (req: IncomingMessage, res: ServerResponse, headers: IncomingMessage['headers'], rewrite?: (text: string) => string) => {
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...headers, host: target.host } }, (answer) => {
        const json = rewrite && /json/.test(String(answer.headers['content-type'] ?? ''));
        if (!json) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.from(rewrite(Buffer.concat(chunks).toString('utf8')));
          const { 'content-length': _dropped, 'transfer-encoding': _chunked, ...rest } = answer.headers;
          res.writeHead(answer.statusCode ?? 502, { ...rest, 'content-length': body.length });
          res.end(body);
        });
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    };
    const uploads = createHttpServer((req, res) => {
      const { authorization: _dropped, ...headers } = req.headers;
      pass(req, res, headers);
    });
    await new Promise<void>((resolve) => uploads.listen(0, '127.0.0.1', resolve));
    const uploadBase = `http://127.0.0.1:${(uploads.address() as AddressInfo).port}/up/`;
    const emulatorUploads = `${emulatorUrl.replace(/\/$/, '')}/up/`;
    const forward = (req: IncomingMessage, res: ServerResponse) => pass(req, res, req.headers, (text) => text.split(emulatorUploads).join(uploadBase));
    const tls = createHttpsServer({ key: await readFile(keyPath), cert: await readFile(certPath) }, forward);
    const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: IncomingMessage, socket: Socket) => {
      if (req.url !== 'graph.microsoft.com:443') {
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      tls.emit('connection', socket);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    const close = async () => {
      for (const server of [proxy, tls, uploads]) server.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
      await new Promise((resolve) => uploads.close(resolve));
    };
    return new GraphRelay(`http://127.0.0.1:${port}`, certPath, dir, close);
  }

  async stop(): Promise<void> {
    await this.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
