import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADELE, dav, startDavStack, type DavStack } from '../helpers/stack.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { hasProgram, run, skipReason } from './tools.js';
import { urlPath } from './workload.js';

/**
 * mpv, headless, seeking into a video through onedav on two mounts of the same drive: one in
 * `redirect` download mode (mpv must follow the 302 to the pre-authenticated URL and ask it for
 * byte ranges) and one in `proxy` mode (onedav streams the ranges). The video is red for 4 s, then
 * blue for 4 s; mpv starts at 6 s and writes the frames it decoded as PNG files: they must be blue.
 * A start at 1 s gives red ones, so the colour says where the decoded frames came from.
 */
describe.skipIf(!hasProgram('mpv') || !hasProgram('ffmpeg'))(`mpv${skipReason('mpv')}${skipReason('ffmpeg')}`, () => {
  let workdir: string;
  let media: Buffer;
  let stack: DavStack;
  const log = recordingLogger('json', 'info');
  const FILE = 'Filme #1/Sommer été 映画 #2.mp4';

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'onedav-mpv-'));
    const file = join(workdir, 'clip.mp4');
    // Noise keeps the file a few MB, so a seek is a Range request, not a read of what is buffered.
    const made = await run('ffmpeg', [
      '-v', 'error', '-y',
      '-f', 'lavfi', '-i', 'color=c=red:s=320x240:r=25:d=4',
      '-f', 'lavfi', '-i', 'color=c=blue:s=320x240:r=25:d=4',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=8',
      '-filter_complex', '[0:v][1:v]concat=n=2:v=1:a=0,noise=alls=40:allf=t[v]',
      '-map', '[v]', '-map', '2:a', '-c:v', 'mpeg4', '-q:v', '4', '-g', '25', '-c:a', 'aac', '-movflags', '+faststart', file,
    ], { timeoutMs: 60_000 });
    expect(made.code, made.stderr).toBe(0);
    media = await readFile(file);
    stack = await startDavStack({
      mounts: [
        { prefix: '/redirect', user: ADELE, download: { mode: 'redirect' } },
        { prefix: '/proxy', user: ADELE, download: { mode: 'proxy' } },
      ],
      dav: { logger: log },
    });
    await stack.emulator.drive.putFile(stack.driveIds[0], FILE, media);
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await rm(workdir, { recursive: true, force: true });
  });

  /** Plays from `start` seconds, two frames, and returns the mean colour of the first one. */
  async function play(mount: string, start: number): Promise<{ red: number; green: number; blue: number }> {
    const frames = join(workdir, `frames-${mount}-${start}`);
    await mkdir(frames);
    const played = await run('mpv', [
      '--no-config', '--really-quiet', '--ao=null', '--vo=image', '--vo-image-format=png', `--vo-image-outdir=${frames}`,
      `--start=${start}`, '--frames=2', `${stack.url}/${mount}/${urlPath(FILE)}`,
    ], { env: { HOME: workdir }, timeoutMs: 60_000 });
    expect(played.code, played.stderr).toBe(0);
    const written = (await readdir(frames)).filter((f) => f.endsWith('.png')).sort();
    expect(written.length).toBeGreaterThan(0);
    const raw = join(frames, 'first.rgb');
    const decoded = await run('ffmpeg', ['-v', 'error', '-y', '-i', join(frames, written[0]), '-f', 'rawvideo', '-pix_fmt', 'rgb24', raw], { timeoutMs: 30_000 });
    expect(decoded.code, decoded.stderr).toBe(0);
    const pixels = await readFile(raw);
    const sum = [0, 0, 0];
    for (let i = 0; i < pixels.length; i += 3) for (let c = 0; c < 3; c++) sum[c] += pixels[i + c];
    const n = pixels.length / 3;
    return { red: sum[0] / n, green: sum[1] / n, blue: sum[2] / n };
  }

  it('seeks past the cut over the 302 to the download URL and decodes blue frames', async () => {
    stack.resetCounters();
    const colour = await play('redirect', 6);
    expect(colour.blue).toBeGreaterThan(150);
    expect(colour.red).toBeLessThan(90);
    const gets = log.accessLines().filter((r) => r.method === 'GET' && String(r.path).startsWith('/redirect/'));
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.every((r) => r.status === 302)).toBe(true);
    // mpv asked the pre-authenticated URL itself for byte ranges.
    expect(stack.emulator.counters.snapshot().byStatus['download: 206']).toBeGreaterThan(0);
  }, 90_000);

  it('seeks past the cut through the proxy and decodes blue frames; from 1 s they are red', async () => {
    const colour = await play('proxy', 6);
    expect(colour.blue).toBeGreaterThan(150);
    expect(colour.red).toBeLessThan(90);
    const gets = log.accessLines().filter((r) => r.method === 'GET' && String(r.path).startsWith('/proxy/'));
    expect(gets.some((r) => r.status === 206)).toBe(true);
    // The seek asked for the bytes after the cut: a range that did not start at 0 sent less than the file.
    expect(gets.some((r) => r.status === 206 && Number(r.bytesOut) < media.length / 2)).toBe(true);

    const early = await play('proxy', 1);
    expect(early.red).toBeGreaterThan(150);
    expect(early.blue).toBeLessThan(90);
  }, 90_000);

  it('serves the same bytes on both mounts', async () => {
    for (const mount of ['redirect', 'proxy']) {
      const res = await dav(stack, 'GET', `/${mount}/${urlPath(FILE)}`, { redirect: 'follow' });
      expect(Buffer.from(await res.arrayBuffer()).equals(media), mount).toBe(true);
    }
  }, 60_000);
});
