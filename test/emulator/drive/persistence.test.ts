import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quickXorHash } from '../../../src/graph/quickxorhash.js';
import { ADELE, bytes, call, expectStatus, startDrive, tokenFor } from './helpers.js';

const FRAG = 327_680;
const DRIVE = 'b!contoso-adele';
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('persistence', () => {
  it('keeps items, content, tags, download URLs, upload sessions and delta tokens across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'onedav-drive-persist-'));
    dirs.push(dataDir);
    const content = bytes(FRAG * 2 + 10, 4);

    const first = await startDrive({ dataDir });
    const token = tokenFor(first, ADELE);
    const file = await expectStatus(call(first, 'PUT', '/me/drive/root:/Keep/a.txt:/content', { token, body: 'kept' }), 201);
    await expectStatus(call(first, 'DELETE', '/me/drive/root:/Keep', { token }), 204);
    const again = await expectStatus(call(first, 'PUT', '/me/drive/root:/Keep/b.txt:/content', { token, body: 'bee' }), 201);
    const delta = await expectStatus(call(first, 'GET', '/me/drive/root/delta?token=latest', { token }), 200);
    const session = await expectStatus(call(first, 'POST', '/me/drive/root:/Keep/big.bin:/createUploadSession', { token, body: {} }), 200);
    const part = await fetch(session.uploadUrl, { method: 'PUT', headers: { 'content-range': `bytes 0-${FRAG - 1}/${content.length}` }, body: content.subarray(0, FRAG) as unknown as BodyInit });
    expect(part.status).toBe(202);
    first.drive.setQuota(DRIVE, 10 * 1024 ** 3);
    await first.close();
    expect(file.id).toBeTruthy();

    const second = await startDrive({ dataDir });
    // A restart picks a new port; the signed paths themselves stay valid.
    const rebase = (url: string): string => `${second.url}${new URL(url).pathname}`;
    try {
      const token2 = tokenFor(second, ADELE);
      const b = await expectStatus(call(second, 'GET', '/me/drive/root:/Keep/b.txt', { token: token2 }), 200);
      expect(b).toMatchObject({ id: again.id, eTag: again.eTag, cTag: again.cTag, size: 3 });
      expect(await fetch(rebase(again['@microsoft.graph.downloadUrl'])).then((r) => r.text())).toBe('bee');
      await expectStatus(call(second, 'GET', `/me/drive/items/${file.id}`, { token: token2 }), 404);
      const status = await expectStatus(fetch(rebase(session.uploadUrl)), 200);
      expect(status.nextExpectedRanges).toEqual([`${FRAG}-${content.length - 1}`]);
      const rest = await fetch(rebase(session.uploadUrl), {
        method: 'PUT',
        headers: { 'content-range': `bytes ${FRAG}-${content.length - 1}/${content.length}` },
        body: content.subarray(FRAG) as unknown as BodyInit,
      });
      expect(rest.status).toBe(201);
      expect((await rest.json()).file.hashes.quickXorHash).toBe(quickXorHash(content));
      const changes = await expectStatus(call(second, 'GET', rebase(delta['@odata.deltaLink']) + new URL(delta['@odata.deltaLink']).search, { token: token2 }), 200);
      expect(changes.value.map((i: any) => i.name)).toContain('big.bin');
      expect(changes.value.map((i: any) => i.name)).not.toContain('b.txt');
      const drive = await expectStatus(call(second, 'GET', '/me/drive', { token: token2 }), 200);
      expect(drive.quota.total).toBe(10 * 1024 ** 3);
      expect(drive.quota.used).toBe(3 + content.length + 4); // live files + the recycle bin
      expect(second.drive.listPaths(DRIVE)).toEqual(['/Keep/', '/Keep/b.txt', '/Keep/big.bin']);
    } finally {
      await second.close();
    }
    // No stray blobs: the deleted file's blob went with it; two live files, two blobs.
    const blobs = (await readdir(join(dataDir, 'drive', 'blobs'))).filter((n) => n !== 'tmp');
    expect(blobs).toHaveLength(2);
  });

  it('removes its temporary storage on close when it has no dataDir', async () => {
    const emu = await startDrive();
    const dir = emu.drive.storageDir;
    await emu.drive.putFile(DRIVE, 'x.bin', bytes(1000));
    expect(existsSync(dir)).toBe(true);
    await emu.close();
    expect(existsSync(dir)).toBe(false);
  });
});
