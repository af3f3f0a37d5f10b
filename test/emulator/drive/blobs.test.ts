import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore } from '../../../src/emulator/drive/blobs.js';
import { quickXorHash } from '../../../src/graph/quickxorhash.js';
import { bytes } from './helpers.js';

let dir: string;
let blobs: BlobStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onedav-blobs-'));
  blobs = await BlobStore.open(dir);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex').toUpperCase();

describe('BlobStore hashes', () => {
  it('computes only the hashes the drive reports: quickXorHash alone for business drives and libraries', async () => {
    const content = bytes(1_000_003, 5);
    const blob = await blobs.writeStream(Readable.from([content]), Number.MAX_SAFE_INTEGER, () => new Error('over'), { sha1Hash: false });
    expect(blob).toEqual({ id: blob.id, size: content.length, quickXorHash: quickXorHash(content) });
  });

  it('adds sha1Hash where the drive reports it (personal), and never sha256Hash (Graph does not support it)', async () => {
    const content = bytes(700_001, 9);
    const temp = blobs.tempPath();
    await writeFile(temp, content);
    const blob = await blobs.adopt(temp, { sha1Hash: true });
    expect(blob).toEqual({ id: blob.id, size: content.length, quickXorHash: quickXorHash(content), sha1Hash: sha1(content) });
  });
});
