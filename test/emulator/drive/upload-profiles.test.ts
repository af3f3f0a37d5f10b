import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENRICHMENT_TRAILER } from '../../../src/emulator/drive/enrichment.js';
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { quickXorHash } from '../../../src/graph/quickxorhash.js';
import { ADELE, ALEX, bytes, call, expectStatus, json, startDrive, tokenFor } from './helpers.js';

/**
 * Upload behaviours that differ by drive type (src/emulator/drive/profile.ts): SharePoint-backed
 * drives rewrite Office documents and some images on commit and allow one open upload session per
 * file; personal OneDrive does neither. Commit refusals keep the session; a status fault on the
 * upload URL leaves the session alone.
 */
const FRAG = 327_680;
const BUSINESS = 'b!contoso-adele';
const PERSONAL = '1a2b3c4d5e6f7a80';
const TEAM_SITE = 'contoso.sharepoint.com,2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d,3b4c5d6e-7f8a-4b9c-8d0e-2f3a4b5c6d7e';
const LIBRARY = 'b!contoso-team-documents';

let emu: RunningEmulator;
let adele: string;
let alex: string;

beforeAll(async () => {
  emu = await startDrive();
  adele = tokenFor(emu, ADELE);
  alex = tokenFor(emu, ALEX);
});
afterAll(async () => emu.close());
afterEach(() => emu.faults.setPlan(null));

const drives = {
  business: { base: '/me/drive', token: () => adele, id: BUSINESS },
  documentLibrary: { base: `/sites/${TEAM_SITE}/drive`, token: () => adele, id: LIBRARY },
  personal: { base: '/me/drive', token: () => alex, id: PERSONAL },
};

async function createSession(drive: (typeof drives)['business'], path: string, item: Record<string, unknown> = {}): Promise<Response> {
  return call(emu, 'POST', `${drive.base}/root:/${path}:/createUploadSession`, { token: drive.token(), body: { item } });
}

function putRange(url: string, data: Buffer, start: number, total: number): Promise<Response> {
  return fetch(url, { method: 'PUT', headers: { 'content-range': `bytes ${start}-${start + data.length - 1}/${total}` }, body: data as unknown as BodyInit });
}

describe('SharePoint rewrites some uploaded files on commit', () => {
  const sent = bytes(FRAG + 500, 3);
  const rewritten = Buffer.concat([sent, ENRICHMENT_TRAILER]);

  for (const kind of ['business', 'documentLibrary'] as const) {
    it(`${kind}: a .docx (simple upload) and a .JPG (session) are stored with the service's bytes added; a .bin as sent`, async () => {
      const drive = drives[kind];
      const simple = await expectStatus(call(emu, 'PUT', `${drive.base}/root:/report-${kind}.docx:/content`, { token: drive.token(), body: sent }), 201);
      expect(simple).toMatchObject({ size: rewritten.length, file: { hashes: { quickXorHash: quickXorHash(rewritten) } } });
      expect((await emu.drive.readFile(drive.id, `report-${kind}.docx`)).equals(rewritten)).toBe(true);

      const session = await expectStatus(createSession(drive, `photo-${kind}.JPG`), 200);
      const done = await putRange(session.uploadUrl, sent, 0, sent.length);
      expect(done.status).toBe(201);
      expect(await json(done)).toMatchObject({ size: rewritten.length, file: { hashes: { quickXorHash: quickXorHash(rewritten) } } });

      const plain = await expectStatus(call(emu, 'PUT', `${drive.base}/root:/data-${kind}.bin:/content`, { token: drive.token(), body: sent }), 201);
      expect(plain.file.hashes.quickXorHash).toBe(quickXorHash(sent));
    });
  }

  it('personal: a .docx is stored exactly as sent', async () => {
    const drive = drives.personal;
    const simple = await expectStatus(call(emu, 'PUT', `${drive.base}/root:/report.docx:/content`, { token: drive.token(), body: sent }), 201);
    expect(simple).toMatchObject({ size: sent.length, file: { hashes: { quickXorHash: quickXorHash(sent) } } });
  });
});

describe('the hashes each drive type reports', () => {
  const sent = bytes(FRAG + 77, 8);
  const sha1 = createHash('sha1').update(sent).digest('hex').toUpperCase();

  for (const [kind, expected] of [
    ['personal', { quickXorHash: quickXorHash(sent), sha1Hash: sha1 }],
    ['business', { quickXorHash: quickXorHash(sent) }],
    ['documentLibrary', { quickXorHash: quickXorHash(sent) }],
  ] as const) {
    it(`${kind}: an upload session's file carries ${Object.keys(expected).join(' and ')}, also when listed`, async () => {
      const drive = drives[kind];
      const session = await expectStatus(createSession(drive, `Hashes/${kind}.bin`), 200);
      const done = await putRange(session.uploadUrl, sent, 0, sent.length);
      expect(done.status).toBe(201);
      expect((await json(done)).file.hashes).toEqual(expected);
      const listed = await expectStatus(call(emu, 'GET', `${drive.base}/root:/Hashes:/children`, { token: drive.token() }), 200);
      expect(listed.value.find((i: any) => i.name === `${kind}.bin`).file.hashes).toEqual(expected);
    });
  }
});

describe('one open upload session per file', () => {
  it('business and libraries refuse a second session for the same file (409, even with replace) until the first is cancelled', async () => {
    for (const kind of ['business', 'documentLibrary'] as const) {
      const drive = drives[kind];
      const first = await expectStatus(createSession(drive, 'Once/big.bin'), 200);
      const second = await expectStatus(createSession(drive, 'once/BIG.bin', { '@microsoft.graph.conflictBehavior': 'replace' }), 409);
      expect(second.error).toMatchObject({ code: 'nameAlreadyExists', message: 'An upload session already exists for this file' });
      await expectStatus(createSession(drive, 'Once/other.bin'), 200); // another file is fine
      expect((await fetch(first.uploadUrl, { method: 'DELETE' })).status).toBe(204);
      await expectStatus(createSession(drive, 'Once/big.bin'), 200);
    }
  });

  it('personal OneDrive hands out a new session every time', async () => {
    await expectStatus(createSession(drives.personal, 'Once/big.bin'), 200);
    await expectStatus(createSession(drives.personal, 'Once/big.bin'), 200);
  });
});

describe('a refused commit keeps the session until it expires', () => {
  it('quota exceeded at the last fragment: 507, the old file stays, the session is still there with all bytes', async () => {
    const megan = tokenFor(emu, 'megan@contoso.onmicrosoft.com');
    const drive = 'b!contoso-megan';
    await emu.drive.putFile(drive, 'kept.bin', 'old content');
    const session = await expectStatus(call(emu, 'POST', '/me/drive/root:/kept.bin:/createUploadSession', { token: megan, body: {} }), 200);
    const content = bytes(3 * FRAG, 5);
    expect((await putRange(session.uploadUrl, content.subarray(0, 2 * FRAG), 0, content.length)).status).toBe(202);
    emu.drive.setQuota(drive, 2 * FRAG);
    const last = await putRange(session.uploadUrl, content.subarray(2 * FRAG), 2 * FRAG, content.length);
    expect(last.status).toBe(507);
    expect((await json(last)).error.code).toBe('quotaLimitReached');
    expect((await emu.drive.readFile(drive, 'kept.bin')).toString()).toBe('old content');
    expect((await expectStatus(fetch(session.uploadUrl), 200)).nextExpectedRanges).toEqual([]);
    expect((await fetch(session.uploadUrl, { method: 'DELETE' })).status).toBe(204);
  });
});

describe('a status fault on the upload URL', () => {
  it('answers a Graph-shaped 404 and leaves the live session untouched', async () => {
    const session = await expectStatus(createSession(drives.business, 'fault404.bin'), 200);
    emu.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'status', status: 404 }, times: 1 }] });
    const content = bytes(FRAG + 1, 8);
    const refused = await putRange(session.uploadUrl, content, 0, content.length);
    expect(refused.status).toBe(404);
    expect((await json(refused)).error.code).toBe('itemNotFound');
    expect((await expectStatus(fetch(session.uploadUrl), 200)).nextExpectedRanges).toEqual(['0-']);
    expect((await putRange(session.uploadUrl, content, 0, content.length)).status).toBe(201);
  });
});
