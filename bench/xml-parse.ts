/**
 * Micro-benchmark of WebDAV request-body parsing: `npx tsx bench/xml-parse.ts`.
 *
 *   --baseline REV   the git revision whose src/dav/protocol/xml.ts (or older src/dav/xml.ts) is compared with this tree's
 *                    (default: f5d7e5b, the last hand-written parser before saxes)
 *   --rounds 15      rounds per body; each round times both parsers, in alternating order
 *   --ms 40          milliseconds of CPU time per parser per round
 *
 * Prints CPU µs per body (median over rounds) for both parsers side by side, on typical PROPFIND,
 * PROPPATCH and LOCK bodies as real clients send them. Before timing, it checks that both parsers
 * return the same tree for every body. Nothing here asserts on time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { median, printTable } from './lib/report.js';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string', default: 'f5d7e5b' },
    rounds: { type: 'string', default: '15' },
    ms: { type: 'string', default: '40' },
  },
  strict: true,
});

type Parse = (text: string) => unknown;

const WIN_TIME = 'Tue, 01 Dec 2026 10:00:00 GMT';
const BODIES: Array<[string, string]> = [
  ['PROPFIND allprop', '<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'],
  [
    // rclone backend/webdav: the properties it lists with (plus owncloud's checksums)
    'PROPFIND prop list (rclone)',
    '<?xml version="1.0"?>\n<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">\n <d:prop>\n  <d:displayname />\n  <d:getlastmodified />\n  <d:getcontentlength />\n  <d:resourcetype />\n  <d:getcontenttype />\n  <oc:checksums />\n  <oc:permissions />\n </d:prop>\n</d:propfind>\n',
  ],
  [
    // the Windows WebDAV redirector's listing
    'PROPFIND prop list (Windows)',
    '<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop xmlns:Z="urn:schemas-microsoft-com:"><D:name/><D:parentname/><D:href/><D:ishidden/><D:isreadonly/><D:getcontenttype/><D:contentclass/><D:getcontentlanguage/><D:creationdate/><D:lastaccessed/><D:getlastmodified/><D:getcontentlength/><D:iscollection/><D:isstructureddocument/><D:defaultdocument/><D:displayname/><D:isroot/><D:resourcetype/><Z:Win32CreationTime/><Z:Win32LastAccessTime/><Z:Win32LastModifiedTime/><Z:Win32FileAttributes/></D:prop></D:propfind>',
  ],
  [
    'PROPPATCH Win32 times',
    `<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32CreationTime>${WIN_TIME}</Z:Win32CreationTime><Z:Win32LastAccessTime>${WIN_TIME}</Z:Win32LastAccessTime><Z:Win32LastModifiedTime>${WIN_TIME}</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>`,
  ],
  [
    'PROPPATCH 100 props (10 KB)',
    `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:t="http://example.com/neon/litmus/"><D:set><D:prop>${Array.from({ length: 100 }, (_, i) => `<t:prop${i}>value &amp; more ${i} &lt;x&gt; ${'v'.repeat(40)}</t:prop${i}>`).join('')}</D:prop></D:set></D:propertyupdate>`,
  ],
  [
    'LOCK exclusive with owner',
    '<?xml version="1.0" encoding="utf-8" ?>\n<D:lockinfo xmlns:D="DAV:">\n<D:lockscope><D:exclusive/></D:lockscope>\n<D:locktype><D:write/></D:locktype>\n<D:owner><D:href>mailto:adele@contoso.com</D:href></D:owner>\n</D:lockinfo>',
  ],
];

async function loadBaseline(rev: string): Promise<{ parse: Parse; cleanup: () => void }> {
  // Inside this checkout, so that the baseline's own imports (e.g. saxes) resolve.
  const dir = mkdtempSync(join(dirname(fileURLToPath(import.meta.url)), '.xml-baseline-'));
  // src/dav/xml.ts before the dav folder was split into sub-folders, src/dav/protocol/xml.ts after.
  const show = (path: string) => execFileSync('git', ['show', `${rev}:${path}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  let source: string;
  try {
    source = show('src/dav/protocol/xml.ts');
  } catch {
    source = show('src/dav/xml.ts');
  }
  const file = join(dir, 'xml-baseline.ts');
  writeFileSync(file, source);
  const mod = (await import(file)) as { parseXml: Parse };
  return { parse: mod.parseXml, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * CPU µs per parse over about `ms` milliseconds of this process's CPU time. CPU time, not wall
 * time: on a machine shared with other work, wall time mostly measures the other work.
 */
function time(parse: Parse, body: string, ms: number): number {
  let n = 0;
  const start = process.cpuUsage();
  let spent = 0;
  do {
    for (let i = 0; i < 50; i++) parse(body);
    n += 50;
    const used = process.cpuUsage(start);
    spent = (used.user + used.system) / 1000;
  } while (spent < ms);
  return (spent * 1000) / n;
}

const rounds = Number(values.rounds);
const ms = Number(values.ms);
const baseline = await loadBaseline(values.baseline);
const current = ((await import('../src/dav/protocol/xml.js')) as { parseXml: Parse }).parseXml;

const rows: Array<Array<string | number>> = [];
const loadBefore = loadavg()[0];
try {
  for (const [name, body] of BODIES) {
    if (!isDeepStrictEqual(baseline.parse(body), current(body))) throw new Error(`${name}: the two parsers return different trees`);
  }
  // Warm both parsers up on every body first, so that no row pays for the JIT.
  for (let pass = 0; pass < 3; pass++) {
    for (const [, body] of BODIES) {
      time(baseline.parse, body, ms);
      time(current, body, ms);
    }
  }
  for (const [name, body] of BODIES) {
    const before: number[] = [];
    const after: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        before.push(time(baseline.parse, body, ms));
        after.push(time(current, body, ms));
      } else {
        after.push(time(current, body, ms));
        before.push(time(baseline.parse, body, ms));
      }
    }
    const b = median(before);
    const a = median(after);
    rows.push([name, Buffer.byteLength(body), b.toFixed(2), a.toFixed(2), `${(a / b).toFixed(2)}×`]);
  }
} finally {
  baseline.cleanup();
}

printTable({
  title: `XML request parsing, CPU µs per body (median of ${rounds} interleaved rounds)`,
  columns: ['body', 'bytes', `${values.baseline} µs`, 'this tree µs', 'ratio'],
  rows,
  notes: [`Node ${process.version}, ${cpus().length} cores; load average ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)}`],
});
