import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dav/access/passwords.js';
import { DRIVE_KINDS, mountOf } from '../helpers/drive-kinds.js';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { hasProgram, run, skipReason } from './tools.js';

/**
 * ffprobe reading a small MP4 through onedav. The file is written with its index (moov) at the
 * end, so ffprobe must seek with Range requests. In redirect mode it must follow the 302s to the
 * download URL (the evidence for `auto` redirecting `Lavf/` clients); in proxy mode onedav streams.
 * Both modes run on each kind of drive (business, SharePoint library, 21Vianet).
 */
describe.skipIf(!hasProgram('ffprobe') || !hasProgram('ffmpeg'))(`ffprobe${skipReason('ffprobe', 'ffmpeg')}`, () => {
  let workdir: string;
  let media: Buffer;

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'onedav-ffprobe-'));
    const file = join(workdir, 'clip.mp4');
    const made = await run('ffmpeg', [
      '-v', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc=duration=2:size=160x120:rate=10',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2',
      '-c:v', 'mpeg4', '-c:a', 'aac', '-shortest', file,
    ], { timeoutMs: 60_000 });
    expect(made.code, made.stderr).toBe(0);
    media = await readFile(file);
  }, 90_000);
  afterAll(() => rm(workdir, { recursive: true, force: true }));

  describe.each(DRIVE_KINDS)('on a $name drive', (kind) => {
    describe.each(['redirect', 'proxy'] as const)('in %s mode', (mode) => {
      let stack: DavStack;
      const log = recordingLogger('json', 'info'); // its access lines show which GETs were redirected

      beforeAll(async () => {
        stack = await startDavStack({ mounts: [mountOf(kind)], dav: { download: { mode }, logger: log } });
        expect((await dav(stack, 'PUT', '/Media%20Files/', {})).status).toBe(405);
        expect((await dav(stack, 'MKCOL', '/Media%20Files/')).status).toBe(201);
        expect((await dav(stack, 'PUT', '/Media%20Files/clip%20%231.mp4', { body: media })).status).toBe(201);
      });
      afterAll(() => stack.close());

      it('reads the streams and the duration', async () => {
        const probe = await run('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', `${stack.url}/Media%20Files/clip%20%231.mp4`], { timeoutMs: 60_000 });
        expect(probe.code, probe.stderr).toBe(0);
        const info = JSON.parse(probe.stdout) as { format: { duration: string; size: string }; streams: Array<{ codec_type: string; codec_name: string }> };
        expect(Number(info.format.size)).toBe(media.length);
        expect(Number(info.format.duration)).toBeGreaterThan(1.9);
        expect(Number(info.format.duration)).toBeLessThan(2.2);
        expect(info.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:mpeg4']);
        const gets = log.accessLines().filter((r) => r.method === 'GET');
        expect(gets.length).toBeGreaterThan(0);
        if (mode === 'redirect') expect(gets.every((r) => r.status === 302)).toBe(true);
        else expect(gets.some((r) => r.status === 206)).toBe(true);
      }, 90_000);
    });
  });
  describe('in auto mode behind Basic auth', () => {
    let stack: DavStack;
    const authorization = `Basic ${Buffer.from('viewer:film-night').toString('base64')}`;

    beforeAll(async () => {
      const users = [{ name: 'viewer', password: await hashPassword('film-night', { N: 1024, r: 8, p: 1 }) }];
      stack = await startDavStack({ dav: { download: { mode: 'auto' }, anonymous: { enabled: false, readOnly: true }, users } });
      expect((await dav(stack, 'PUT', '/clip.mp4', { body: media, headers: { authorization } })).status).toBe(201);
    });
    afterAll(() => stack.close());

    // ffprobe seeks by re-opening the original URL and forgets the credentials after a 302, so auto
    // mode must stream to it when the request was authenticated.
    it('streams instead of redirecting, and ffprobe reads the whole file', async () => {
      const url = stack.url.replace('http://', 'http://viewer:film-night@');
      const probe = await run('ffprobe', ['-v', 'warning', '-show_format', '-of', 'json', `${url}/clip.mp4`], { timeoutMs: 60_000 });
      expect(probe.code, probe.stderr).toBe(0);
      expect(probe.stderr).not.toContain('partial file');
      expect(Number((JSON.parse(probe.stdout) as { format: { size: string } }).format.size)).toBe(media.length);
      const asFfprobe = await fetch(`${stack.url}/clip.mp4`, { headers: { 'user-agent': 'Lavf/59.27.100', authorization, range: 'bytes=0-9' }, redirect: 'manual' });
      expect(asFfprobe.status).toBe(206);
      expect(Buffer.from(await asFfprobe.arrayBuffer())).toEqual(media.subarray(0, 10));
    }, 90_000);
  });
});
