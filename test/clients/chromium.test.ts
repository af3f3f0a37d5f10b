import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADLESS_CHROMIUM } from '../helpers/browser.js';
import { MEGAN, startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram, run, skipReason } from './tools.js';

/**
 * The folder listing as a person sees it: headless Chromium (Debian's `chromium`) loads the page
 * from onedav, `--dump-dom` gives the DOM it built, `--screenshot` what it drew. The screenshot is
 * kept in test-artifacts/ (git-ignored) for a human to look at.
 */
const ARTIFACTS = resolve('test-artifacts');
const MODIFIED = new Date('2025-03-14T15:09:26Z');

interface Row {
  kind: string;
  href: string;
  name: string;
  size: string;
  bytes?: number;
  datetime?: string;
  date: string;
}

function decode(html: string): string {
  return html.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);
}

function rowsOf(dom: string): Row[] {
  const rows: Row[] = [];
  const tr = /<tr class="(dir|file|up)">([\s\S]*?)<\/tr>/g;
  for (let m = tr.exec(dom); m; m = tr.exec(dom)) {
    const cells = m[2];
    const link = /<a href="([^"]*)"[^>]*>([^<]*)<\/a>/.exec(cells)!;
    const size = /<td class="n"(?: title="(\d+) bytes")?>([^<]*)<\/td>/.exec(cells)!;
    const time = /<time datetime="([^"]*)">([^<]*)<\/time>/.exec(cells);
    rows.push({ kind: m[1], href: decode(link[1]), name: decode(link[2]), size: size[2], bytes: size[1] ? Number(size[1]) : undefined, datetime: time?.[1], date: time?.[2] ?? '' });
  }
  return rows;
}

describe.skipIf(!hasProgram('chromium'))(`the HTML listing in headless Chromium${skipReason('chromium')}`, () => {
  let stack: DavStack;
  let profile: string;
  const files: Record<string, Buffer> = {
    'a.txt': Buffer.from('hello'),
    "b & c 'q'.txt": Buffer.from('ampersand'),
    'file2.txt': randomBytes(2),
    'file10.txt': randomBytes(10),
    'Report 2024.pdf': randomBytes(1_500_000),
    'ünïcödé.md': Buffer.from('# héllo'),
    'big.iso': randomBytes(5 * 1024 * 1024 + 17),
  };
  const folders = ['Zeta', 'documents', 'Photos'];

  const chromium = (url: string, ...mode: string[]) =>
    run(
      'chromium',
      [
        ...HEADLESS_CHROMIUM,
        `--user-data-dir=${profile}`,
        '--window-size=1200,800',
        ...mode,
        url,
      ],
      { timeoutMs: 60_000 },
    );

  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'onedav-chromium-'));
    stack = await startDavStack({ mounts: [{ prefix: '/' }, { prefix: '/team', user: MEGAN }] });
    const drive = stack.driveIds[0];
    for (const [name, content] of Object.entries(files)) await stack.emulator.drive.putFile(drive, `/${name}`, content, { modified: MODIFIED });
    for (const folder of folders) await stack.emulator.drive.putFile(drive, `/${folder}/inside.txt`, folder, { modified: MODIFIED });
  });

  afterAll(async () => {
    await stack?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows folders first, then files, each sorted as people sort, with sizes and dates', async () => {
    const { stdout, code } = await chromium(`${stack.url}/`, '--dump-dom');
    expect(code).toBe(0);
    expect(stdout).toContain('<title>/</title>');
    const rows = rowsOf(stdout);
    expect(rows.map((r) => r.name)).toEqual([
      'documents/',
      'Photos/',
      'team/', // the other mount, as a folder
      'Zeta/',
      'a.txt',
      "b & c 'q'.txt",
      'big.iso',
      'file2.txt',
      'file10.txt',
      'Report 2024.pdf',
      'ünïcödé.md',
    ]);
    for (const row of rows.filter((r) => r.kind === 'file')) {
      const content = files[row.name];
      expect(row.bytes, row.name).toBe(content.length);
      expect(row.size).toMatch(/^\d+(\.\d)? (B|KiB|MiB)$/);
      expect(row.date).toBe('2025-03-14 15:09');
      expect(Date.parse(row.datetime!)).toBe(MODIFIED.getTime());
    }
    expect(rows.find((r) => r.name === 'big.iso')!.size).toBe('5.0 MiB');
    expect(rows.find((r) => r.name === 'Report 2024.pdf')!.size).toBe('1.4 MiB');
    for (const row of rows.filter((r) => r.kind === 'dir')) expect(row.size).toBe('');
    expect(stdout).toMatch(/<footer>4 folders, 7 files \([\d.]+ MiB\)<\/footer>/);
    // Links are paths on this server, never pre-authenticated download URLs.
    for (const row of rows) expect(row.href.startsWith('/')).toBe(true);
    expect(stdout).not.toContain('/dl/');
  });

  it('links download the bytes, and folder links open their listing with a way back', async () => {
    const rows = rowsOf((await chromium(`${stack.url}/`, '--dump-dom')).stdout);
    for (const name of ['Report 2024.pdf', "b & c 'q'.txt", 'ünïcödé.md']) {
      const href = rows.find((r) => r.name === name)!.href;
      const res = await fetch(new URL(href, stack.url));
      expect(res.status, name).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(files[name]), name).toBe(true);
    }
    const photos = rows.find((r) => r.name === 'Photos/')!.href;
    const inner = await chromium(new URL(photos, stack.url).href, '--dump-dom');
    const innerRows = rowsOf(inner.stdout);
    expect(innerRows.map((r) => [r.kind, r.name])).toEqual([
      ['up', '../'],
      ['file', 'inside.txt'],
    ]);
    expect(innerRows[0].href).toBe('/');
    expect(inner.stdout).toMatch(/<h1><a href="\/">onedav<\/a><span class="sep">\/<\/span>Photos<\/h1>/);
  });

  it('draws the page (screenshot kept in test-artifacts/listing.png)', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'listing.png');
    await rm(file, { force: true });
    const { code, stderr } = await chromium(`${stack.url}/`, `--screenshot=${file}`);
    expect(code, stderr).toBe(0);
    const png = await readFile(file);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(png.readUInt32BE(16)).toBe(1200); // IHDR width
    expect((await stat(file)).size).toBeGreaterThan(10_000); // more than a blank page
  });
});
