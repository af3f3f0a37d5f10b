import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDavServer, type RunningDavServer } from '../../src/dav/server.js';
import type { DriveCapabilities, DriveEntry, Quota, ReadBody, RemoteDrive, WriteOptions } from '../../src/drive/types.js';
import { DriveError } from '../../src/drive/index.js';
import { hasProgram } from '../clients/tools.js';

/**
 * A drive that holds PUT bodies unread until told to go on: what the server does meanwhile shows
 * whether it buffers request bodies (it must not: the drive pulls at its own pace).
 */
class HoldingDrive implements RemoteDrive {
  readonly capabilities: DriveCapabilities = { caseInsensitive: true, serverSideCopy: true, downloadUrl: false, quota: true, changePolling: false };
  private release!: () => void;
  readonly released = new Promise<void>((r) => (this.release = r));
  body: IncomingMessage | undefined;
  bodyArrived!: Promise<void>;
  private arrived!: () => void;
  received = 0;

  constructor() {
    this.bodyArrived = new Promise((r) => (this.arrived = r));
  }

  go(): void {
    this.release();
  }

  private entry(path: string, isFolder: boolean, size = 0): DriveEntry {
    return { id: path, path, name: path.split('/').pop() ?? '', isFolder, size, created: new Date(0), modified: new Date(0), etag: `"${path}"`, version: path };
  }

  async stat(path: string): Promise<DriveEntry> {
    if (path === '/') return this.entry('/', true);
    throw new DriveError('notFound', 'nothing here');
  }
  async list(): Promise<DriveEntry[]> {
    return [];
  }
  async write(path: string, body: Readable, _options?: WriteOptions): Promise<DriveEntry> {
    this.body = body as IncomingMessage;
    this.arrived();
    await this.released;
    for await (const chunk of body) this.received += (chunk as Buffer).length;
    return this.entry(path, false, this.received);
  }
  read(): Promise<ReadBody> {
    throw new Error('unused');
  }
  mkdir(): Promise<DriveEntry> {
    throw new Error('unused');
  }
  move(): Promise<DriveEntry> {
    throw new Error('unused');
  }
  copy(): Promise<DriveEntry> {
    throw new Error('unused');
  }
  remove(): Promise<void> {
    throw new Error('unused');
  }
  setModified(): Promise<DriveEntry> {
    throw new Error('unused');
  }
  async quota(): Promise<Quota> {
    return { total: 0, used: 0, remaining: 0 };
  }
}

describe('PUT backpressure', () => {
  let drive: HoldingDrive;
  let server: RunningDavServer;

  beforeAll(async () => {
    drive = new HoldingDrive();
    server = await startDavServer({ mounts: [{ prefix: '/', drive }], anonymous: { enabled: true, readOnly: false } });
  });
  afterAll(() => server.close());

  it('reads no more of the body than the drive consumes', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const url = new URL(server.url);
    let status = 0;
    const done = new Promise<void>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: '/big.bin', headers: { 'Content-Length': String(total) } }, (res) => {
        status = res.statusCode!;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          const more = req.write(chunk);
          if (sent >= total) return req.end();
          if (!more) return req.once('drain', pump);
        }
      };
      pump();
    });

    await drive.bodyArrived;
    // Wait until the server stops reading (bounded polling), while the drive holds the body.
    let last = -1;
    let stable = 0;
    for (let i = 0; i < 400 && stable < 10; i++) {
      const now = drive.body!.socket.bytesRead;
      stable = now === last ? stable + 1 : 0;
      last = now;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(stable).toBe(10);
    expect(last).toBeLessThan(4 * 1024 * 1024); // socket buffers, not 64 MiB in memory

    drive.go();
    await done;
    expect(status).toBe(201);
    expect(drive.received).toBe(total);
  }, 60_000);
});

describe.skipIf(!hasProgram('openssl'))('TLS', () => {
  let dir: string;
  let server: RunningDavServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onedav-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    server = await startDavServer({ mounts: [{ prefix: '/', drive: new HoldingDrive() }], anonymous: { enabled: true, readOnly: false }, tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } });
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the configured certificate', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    const res = await fetch(`${server.url}/`, { method: 'OPTIONS', dispatcher } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get('dav')).toBe('1, 2, 3');
    expect(res.headers.get('ms-author-via')).toBe('DAV');
    await dispatcher.close();
  });
});
