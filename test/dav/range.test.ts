import { describe, expect, it } from 'vitest';
import { shouldRedirect } from '../../src/dav/http/download-mode.js';
import { renderListing } from '../../src/dav/http/listing.js';
import { decideRange } from '../../src/dav/protocol/range.js';

describe('decideRange', () => {
  it.each([
    [undefined, 100, { kind: 'full' }],
    ['bytes=0-0', 100, { kind: 'partial', start: 0, end: 0 }],
    ['bytes=10-19', 100, { kind: 'partial', start: 10, end: 19 }],
    ['bytes=90-', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=95-200', 100, { kind: 'partial', start: 95, end: 99 }],
    ['bytes=-10', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-500', 100, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=200-300', 100, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=5-1', 100, { kind: 'full' }],
    ['bytes=0-1,5-6', 100, { kind: 'full' }],
    ['items=0-1', 100, { kind: 'full' }],
  ])('%s of %i bytes', (header, size, expected) => {
    expect(decideRange(header, size)).toEqual(expected);
  });
});

describe('shouldRedirect', () => {
  it('obeys fixed modes', () => {
    expect(shouldRedirect('redirect', 'cadaver/0.24 neon/0.32')).toBe(true);
    expect(shouldRedirect('proxy', 'rclone/v1.60.1')).toBe(false);
  });

  it.each([
    ['rclone/v1.60.1', true],
    ['Lavf/59.27.100', true],
    ['libmpv', true], // mpv's default --user-agent (mpv 0.35); test/clients/mpv.test.ts follows the 302
    ['VLC/3.0.18 LibVLC/3.0.18', true],
    ['Kodi/20.2 (X11; Linux x86_64)', true],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36', true],
    ['Microsoft-WebDAV-MiniRedir/10.0.19045', false],
    ['WebDAVFS/3.0.0 (03008000) Darwin/21.1.0 (x86_64)', false],
    ['davfs2/1.6.1 neon/0.32.5', false],
    ['cadaver/0.24 neon/0.32.5', false],
    ['litmus/0.13 neon/0.32.5', false],
    ['curl/7.88.1', false],
    ['Mozilla/5.0 (X11; Linux x86_64) KHTML/5.103.0 (like Gecko) Konqueror/5 KIO/5.103', false],
    [undefined, false],
  ])('auto: %s → redirect %s', (ua, expected) => {
    expect(shouldRedirect('auto', ua)).toBe(expected);
  });

  it.each([
    ['Lavf/59.27.100', false],
    ['mpv 0.35.1', false],
    ['libmpv', false],
    ['VLC/3.0.18 LibVLC/3.0.18', false],
    ['rclone/v1.60.1', true],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36', true],
  ])('auto with Basic credentials: %s → redirect %s', (ua, expected) => {
    expect(shouldRedirect('auto', ua, true)).toBe(expected);
  });
});

describe('renderListing', () => {
  it('sorts folders first, then names naturally, and escapes everything', () => {
    const html = renderListing('/a <b>/', '/', [
      { name: 'z.txt', href: '/z.txt', isCollection: false, size: 2048, modified: new Date('2024-01-02T03:04:05Z') },
      { name: 'file10', href: '/file10', isCollection: false, size: 1 },
      { name: 'file9', href: '/file9', isCollection: false, size: 1 },
      { name: '<script>alert(1)</script>', href: '/%3Cscript%3E', isCollection: true },
      { name: 'A folder', href: '/A%20folder/', isCollection: true },
    ]);
    const order = ['&lt;script&gt;', 'A folder/', 'file9', 'file10', 'z.txt'].map((s) => html.indexOf(s));
    expect(order.every((pos, i) => pos > 0 && (i === 0 || pos > order[i - 1]))).toBe(true);
    expect(html).not.toContain('<script>');
    expect(html).toContain('<title>/a &lt;b&gt;/</title>');
    expect(html).toContain('2.0 KiB');
    expect(html).toContain('2024-01-02 03:04');
  });
});
