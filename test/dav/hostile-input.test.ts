import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rawHttp, rawRequest } from '../helpers/raw-http.js';
import { dav, startDavStack, type DavStack } from '../helpers/stack.js';

/**
 * Hostile input, each with the exact status it gets (test/dav/bad-input.test.ts, paths.test.ts,
 * xml.test.ts and auth.test.ts hold the cases they already covered). Every request goes over a raw
 * socket, so the bytes reach the server exactly as written. After each group the server must still
 * serve, and nothing outside the drive folder `in/` may have appeared.
 */
const LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol9;</D:displayname></D:prop></D:propfind>`;
const XXE_FILE = `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&x;</D:displayname></D:prop></D:propfind>`;
const XXE_PARAMETER = `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY % x SYSTEM "http://127.0.0.1:1/evil.dtd"> %x;]><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`;
const XXE_PROPPATCH = `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/hostname">]><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:leak>&x;</Z:leak></D:prop></D:set></D:propertyupdate>`;
const XXE_LOCK = `<?xml version="1.0"?><!DOCTYPE l SYSTEM "http://127.0.0.1:1/x.dtd"><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>&x;</D:owner></D:lockinfo>`;
const PROPFIND_ALL = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';

describe('hostile input gets exact statuses and never takes the server down', () => {
  let stack: DavStack;
  let drive: string;
  let port: number;
  const status = async (method: string, target: string, headers: Record<string, string> = {}, body?: string | Buffer) => (await rawHttp(port, rawRequest(method, target, headers, body))).status;

  beforeAll(async () => {
    stack = await startDavStack({ dav: { timeouts: { headersMs: 400, bodyIdleMs: 400, checkIntervalMs: 100, drainMs: 150 } } });
    drive = stack.driveIds[0];
    port = stack.dav.port;
    await stack.emulator.drive.putFile(drive, 'in/f.txt', 'hello');
    stack.emulator.drive.mkdir(drive, 'in/dir');
    stack.emulator.drive.mkdir(drive, `in/${'p'.repeat(190)}/${'q'.repeat(190)}`);
  });
  afterAll(() => stack.close());
  afterEach(async () => {
    expect(await status('GET', '/in/f.txt')).toBe(200);
    expect(stack.emulator.drive.listPaths(drive).filter((p) => !p.startsWith('/in/'))).toEqual([]);
  });

  const cases: Array<[string, string, string, Record<string, string>, string | undefined, number]> = [
    // paths: climbing out, encoded separators, NUL, invalid UTF-8 — on every kind of method
    ['dot-dot PUT', 'PUT', '/in/../x.txt', {}, 'x', 400],
    ['encoded dot-dot MKCOL', 'MKCOL', '/in/%2e%2e/x', {}, undefined, 400],
    ['encoded dot-dot mixed case DELETE', 'DELETE', '/in/%2E%2e', {}, undefined, 400],
    ['encoded slash PROPFIND', 'PROPFIND', '/in%2ff.txt', { Depth: '0' }, undefined, 400],
    ['encoded backslash PUT', 'PUT', '/in/a%5c..%5cx.txt', {}, 'x', 400],
    ['raw backslash MKCOL', 'MKCOL', '/in\\x', {}, undefined, 400],
    ['encoded NUL PUT', 'PUT', '/in/x%00.txt', {}, 'x', 400],
    ['encoded control character', 'GET', '/in/f%0d%0a.txt', {}, undefined, 400],
    ['invalid UTF-8 (overlong slash)', 'GET', '/in/%c0%af', {}, undefined, 400],
    ['invalid UTF-8 (lone continuation)', 'PUT', '/in/%80.txt', {}, 'x', 400],
    ['invalid UTF-8 (surrogate half)', 'MKCOL', '/in/%ed%a0%80', {}, undefined, 400],
    ['malformed escape in Destination', 'COPY', '/in/f.txt', { Destination: '/in/%zz' }, undefined, 400],
    // names over OneDrive's limits
    ['name of 256 characters', 'PUT', `/in/${'n'.repeat(252)}.txt`, {}, 'x', 400],
    ['decoded path over 400 characters', 'MKCOL', `/in/${'p'.repeat(190)}/${'q'.repeat(190)}/${'r'.repeat(20)}`, {}, undefined, 400],
    ['very deep path, GET', 'GET', `/in${'/d'.repeat(1500)}`, {}, undefined, 404],
    ['very deep path, PUT', 'PUT', `/in${'/d'.repeat(1500)}/x.txt`, {}, 'x', 409],
    ['very deep path, MKCOL', 'MKCOL', `/in${'/d'.repeat(1500)}`, {}, undefined, 409],
    ['reserved name', 'PUT', '/in/CON', {}, 'x', 400],
    // Destination
    ['Destination on another host', 'MOVE', '/in/f.txt', { Destination: 'http://attacker.example/in/g.txt' }, undefined, 502],
    ['Destination on another port', 'COPY', '/in/f.txt', { Destination: 'http://127.0.0.1:1/in/g.txt' }, undefined, 502],
    ['Destination climbing out', 'COPY', '/in/f.txt', { Destination: '/in/../../g.txt' }, undefined, 400],
    ['Destination with an encoded slash', 'MOVE', '/in/f.txt', { Destination: '/in%2f..%2fg.txt' }, undefined, 400],
    ['Destination with NUL', 'COPY', '/in/f.txt', { Destination: '/in/g%00.txt' }, undefined, 400],
    ['Destination relative', 'COPY', '/in/f.txt', { Destination: 'g.txt' }, undefined, 400],
    ['Destination with a fragment', 'COPY', '/in/f.txt', { Destination: '/in/g.txt#x' }, undefined, 400],
    ['Destination without a host', 'COPY', '/in/f.txt', { Destination: 'http://' }, undefined, 400],
    ['Destination with a scheme but no slashes', 'COPY', '/in/f.txt', { Destination: 'mailto:x@example.com' }, undefined, 400],
    ['Destination on another scheme', 'COPY', '/in/f.txt', { Destination: 'ftp://127.0.0.1/in/g.txt' }, undefined, 502],
    ['Destination missing', 'MOVE', '/in/f.txt', {}, undefined, 400],
    // Depth, Overwrite, If
    ['PROPFIND Depth 2', 'PROPFIND', '/in/', { Depth: '2' }, undefined, 400],
    ['PROPFIND Depth infinity', 'PROPFIND', '/in/', { Depth: 'infinity' }, undefined, 403],
    ['MOVE a folder with Depth 0', 'MOVE', '/in/dir/', { Destination: '/in/dir2/', Depth: '0' }, undefined, 400],
    ['DELETE a folder with Depth 1', 'DELETE', '/in/dir/', { Depth: '1' }, undefined, 400],
    ['LOCK Depth banana', 'LOCK', '/in/f.txt', { Depth: 'banana' }, undefined, 400],
    ['Overwrite TF', 'COPY', '/in/f.txt', { Destination: '/in/g.txt', Overwrite: 'TF' }, undefined, 400],
    ['Overwrite empty', 'COPY', '/in/f.txt', { Destination: '/in/g.txt', Overwrite: '' }, undefined, 400],
    ['If: garbage', 'PUT', '/in/f.txt', { If: 'garbage' }, 'x', 400],
    ['If: empty list', 'DELETE', '/in/f.txt', { If: '()' }, undefined, 400],
    ['If: Not without a condition', 'DELETE', '/in/f.txt', { If: '(Not)' }, undefined, 400],
    ['If: unterminated entity tag', 'PUT', '/in/f.txt', { If: '(["abc)' }, 'x', 400],
    ['If: mixed tagged and untagged', 'DELETE', '/in/f.txt', { If: '(<urn:x>) </in/f.txt> (<urn:y>)' }, undefined, 400],
    ['If: a lock token nobody holds', 'DELETE', '/in/f.txt', { If: '(<opaquelocktoken:00000000-0000-0000-0000-000000000000>)' }, undefined, 412],
    ['Lock-Token unknown on UNLOCK', 'UNLOCK', '/in/f.txt', { 'Lock-Token': '<opaquelocktoken:nope>' }, undefined, 409],
    // Range, Content-Range
    ['Range reversed', 'GET', '/in/f.txt', { Range: 'bytes=4-1' }, undefined, 200],
    ['Range beyond the end', 'GET', '/in/f.txt', { Range: 'bytes=99-' }, undefined, 416],
    ['Range suffix of zero', 'GET', '/in/f.txt', { Range: 'bytes=-0' }, undefined, 416],
    ['Range with several parts', 'GET', '/in/f.txt', { Range: 'bytes=0-0,2-3' }, undefined, 200],
    ['Range in another unit', 'GET', '/in/f.txt', { Range: 'items=0-1' }, undefined, 200],
    ['Range with a huge number', 'GET', '/in/f.txt', { Range: 'bytes=0-99999999999999999999999' }, undefined, 206],
    ['PUT with Content-Range (RFC 7231 §4.3.4)', 'PUT', '/in/f.txt', { 'Content-Range': 'bytes 0-0/5' }, 'x', 400],
    ['PUT with a malformed Content-Range', 'PUT', '/in/f.txt', { 'Content-Range': 'garbage' }, 'x', 400],
    // lengths
    ['Content-Length 10^20', 'PUT', '/in/big.bin', { 'Content-Length': '100000000000000000000' }, undefined, 400],
    ['Content-Length negative', 'PUT', '/in/neg.bin', { 'Content-Length': '-1' }, undefined, 400],
    ['Content-Length not a number', 'PUT', '/in/nan.bin', { 'Content-Length': '12abc' }, undefined, 400],
    ['Content-Length twice, different', 'PUT', '/in/two.bin', { 'Content-Length': '1', 'content-length': '2' }, undefined, 400],
    ['Content-Length and chunked together', 'PUT', '/in/te.bin', { 'Content-Length': '3', 'Transfer-Encoding': 'chunked' }, '3\r\nabc\r\n0\r\n\r\n', 400],
    ['X-OC-Mtime past year 9999 (found by the fuzzer: 500)', 'PUT', '/in/t.txt', { 'X-OC-Mtime': '1e30' }, 'x', 400],
    ['X-OC-Mtime not a number', 'PUT', '/in/t.txt', { 'X-OC-Mtime': 'NaN' }, 'x', 400],
    ['Content-Length over OneDrive limit (10^15)', 'PUT', '/in/huge.bin', { 'Content-Length': '1000000000000000' }, undefined, 413],
    ['X-Expected-Entity-Length over the limit', 'PUT', '/in/huge2.bin', { 'Transfer-Encoding': 'chunked', 'X-Expected-Entity-Length': '1000000000000000' }, '0\r\n\r\n', 413],
    ['XML body declared over 1 MiB', 'PROPPATCH', '/in/f.txt', { 'Content-Length': String(1024 * 1024 + 1) }, undefined, 413],
    // found by the fuzzer: the 413 was lost (the connection reset) and a drain timer crashed the process
    ['chunked XML body over 1 MiB', 'PROPPATCH', '/in/f.txt', { 'Transfer-Encoding': 'chunked' }, `200000\r\n${'<'.repeat(0x200000)}\r\n0\r\n\r\n`, 413],
    ['chunked PROPFIND body over 1 MiB', 'PROPFIND', '/in/', { 'Transfer-Encoding': 'chunked', Depth: '0' }, `${'100000\r\n' + ' '.repeat(0x100000) + '\r\n'}${'100000\r\n' + ' '.repeat(0x100000) + '\r\n'}0\r\n\r\n`, 413],
    // XML bodies
    ['malformed XML', 'PROPFIND', '/in/', { Depth: '0' }, '<D:propfind xmlns:D="DAV:"><D:prop>', 400],
    ['XML that is not XML', 'LOCK', '/in/f.txt', {}, '{"lockinfo": true}', 400],
    ['billion laughs', 'PROPFIND', '/in/', { Depth: '0' }, LAUGHS, 400],
    ['external entity (file)', 'PROPFIND', '/in/', { Depth: '0' }, XXE_FILE, 400],
    ['external parameter entity', 'PROPFIND', '/in/', { Depth: '0' }, XXE_PARAMETER, 400],
    ['external entity in PROPPATCH', 'PROPPATCH', '/in/f.txt', {}, XXE_PROPPATCH, 400],
    ['external DTD in LOCK', 'LOCK', '/in/f.txt', {}, XXE_LOCK, 400],
    ['nesting 10,000 deep', 'PROPFIND', '/in/', { Depth: '0' }, `<D:propfind xmlns:D="DAV:">${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</D:propfind>`, 400],
    ['10,000 namespace declarations', 'PROPFIND', '/in/', { Depth: '0' }, `<D:propfind xmlns:D="DAV:" ${Array.from({ length: 10_000 }, (_, i) => `xmlns:n${i}="urn:${i}"`).join(' ')}><D:allprop/></D:propfind>`, 207],
    ['UTF-16 body', 'PROPFIND', '/in/', { Depth: '0' }, Buffer.from(`\ufeff${PROPFIND_ALL}`, 'utf16le').toString('latin1'), 400],
    // methods
    ['CONNECT (no proxy here)', 'CONNECT', '127.0.0.1:22', {}, undefined, 405],
    ['TRACE', 'TRACE', '/in/f.txt', {}, undefined, 405],
    ['a method Node knows and we do not', 'MKACTIVITY', '/in/f.txt', {}, undefined, 501],
  ];
  it.each(cases.map(([name, method, target, headers, body, expected]) => ({ name, method, target, headers, body, expected })))('$name → $expected', async ({ name, method, target, headers, body, expected }) => {
    const answer = await rawHttp(port, rawRequest(method, target, headers, body === undefined ? undefined : Buffer.from(body, 'latin1')));
    expect(answer.status, answer.text.slice(0, 300)).toBe(expected);
    if (/entity|DTD|laughs/.test(name)) {
      expect(answer.body).not.toMatch(/root:|lollol|localhost/);
    }
  });

  const parserCases: Array<[string, Buffer, number]> = [
    ['a NUL byte in the request line', Buffer.from('GET /in/f\u0000.txt HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'), 400],
    ['raw invalid UTF-8 bytes in the request line', Buffer.concat([Buffer.from('GET /in/'), Buffer.from([0xff, 0xfe]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]), 400],
    ['a space in the path', Buffer.from('GET /in/f .txt HTTP/1.1\r\nHost: x\r\n\r\n'), 400],
    ['a request line that is not HTTP', Buffer.from('HELLO THERE\r\n\r\n'), 400],
    ['a method nobody knows', Buffer.from('BREW /in/f.txt HTTP/1.1\r\nHost: x\r\n\r\n'), 400],
    ['HTTP/1.1 without Host', Buffer.from('GET /in/f.txt HTTP/1.1\r\n\r\n'), 400],
    ['a header without a colon', Buffer.from('GET /in/f.txt HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'), 400],
    ['a header line folded (obs-fold)', Buffer.from('GET /in/f.txt HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n'), 400],
    ['headers over 16 KiB', Buffer.from(`GET /in/f.txt HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431],
    ['a URL over 16 KiB', Buffer.from(`GET /in/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 431],
    ['a bad chunk size', Buffer.from('PUT /in/c.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'), 400],
  ];
  it.each(parserCases.map(([name, bytes, expected]) => ({ name, bytes, expected })))('$name → $expected (refused by the HTTP parser)', async ({ bytes, expected }) => {
    expect((await rawHttp(port, bytes)).status).toBe(expected);
  });

  it('drops a client that trickles its headers (slowloris) once the header timeout passes', async () => {
    const answer = await rawHttp(port, 'GET /in/f.txt HTTP/1.1\r\nHost: x\r\n', {
      timeoutMs: 10_000,
      drive: (socket) => {
        const drip = setInterval(() => (socket.destroyed ? clearInterval(drip) : socket.write('X-Drip: 1\r\n')), 50);
        socket.on('close', () => clearInterval(drip));
      },
    });
    expect(answer.closedByServer).toBe(true);
    expect(answer.status).toBe(408);
  });

  it('drops a connection that never sends a byte', async () => {
    const answer = await rawHttp(port, '', { timeoutMs: 10_000 });
    expect(answer.closedByServer).toBe(true);
  });

  it('drops an upload whose body stalls, cancels its upload session and keeps the old file', async () => {
    await stack.emulator.drive.putFile(drive, 'in/keep.bin', 'old content');
    const total = 6 * 1024 * 1024;
    const answer = await rawHttp(port, rawRequest('PUT', '/in/keep.bin', { 'Content-Length': String(total) }), {
      timeoutMs: 10_000,
      // More than the 4 MiB simple-upload limit, so an upload session is open when the body stalls.
      drive: (socket) => void socket.write(Buffer.alloc(5 * 1024 * 1024, 1)),
    });
    expect(answer.closedByServer).toBe(true);
    expect(answer.status).toBe(0);
    for (let i = 0; i < 200 && stack.emulator.drive.openUploadSessions() > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(stack.emulator.drive.openUploadSessions()).toBe(0);
    expect((await stack.emulator.drive.readFile(drive, 'in/keep.bin')).toString()).toBe('old content');
  });

  it('drops a 100-continue request whose body stalls after Continue (found by the fuzzer)', async () => {
    const answer = await rawHttp(port, rawRequest('PROPPATCH', '/in/f.txt', { 'Content-Length': '1000', Expect: '100-continue' }), {
      timeoutMs: 10_000,
      drive: (socket) => void socket.write('<D:propertyupdate'),
    });
    expect(answer.closedByServer).toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    expect(answer.status).toBe(0);
  });

  it('survives draining the rest of a refused chunked body (found by the fuzzer: a TypeError in the drain timer took the process down)', async () => {
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => crashes.push(err);
    process.on('uncaughtException', onCrash);
    try {
      const big = '<'.repeat(0x200000);
      const answer = await rawHttp(port, rawRequest('PROPPATCH', '/in/f.txt', { 'Transfer-Encoding': 'chunked' }, `200000\r\n${big}\r\n0\r\n\r\n`));
      expect(answer.status).toBe(413);
      // The drain timer (drainMs, 150 ms here) fires after the exchange is over.
      await new Promise((r) => setTimeout(r, 400));
      expect(crashes).toEqual([]);
    } finally {
      process.off('uncaughtException', onCrash);
    }
  });

  it('waits for a 100-continue body only after saying Continue', async () => {
    const answer = await rawHttp(port, rawRequest('PUT', '/in/continued.txt', { 'Content-Length': '5', Expect: '100-continue' }), {
      drive: (socket) => {
        socket.once('data', () => socket.write('hello'));
      },
    });
    expect(answer.status).toBe(201);
    expect((await stack.emulator.drive.readFile(drive, 'in/continued.txt')).toString()).toBe('hello');
  });
});

describe('the body idle timeout', () => {
  let stack: DavStack;

  beforeAll(async () => {
    // Small fragments, so that most of the body is still on its way while Graph holds one up.
    stack = await startDavStack({ dav: { timeouts: { bodyIdleMs: 300 } }, drive: { upload: { fragmentSize: 327_680 } } });
  });
  afterAll(() => stack.close());

  it("does not mistake onedav's own slowness for a stalled body: an upload held up by Graph still succeeds", async () => {
    // Two fragments wait far longer than the idle timeout; meanwhile the client's bytes queue up unread.
    stack.emulator.faults.setPlan({ rules: [{ match: { category: 'upload', method: 'PUT' }, action: { type: 'latency', ms: 1_000 }, times: 2 }] });
    const body = Buffer.alloc(16 * 327_680, 3); // over the 4 MiB simple-upload limit
    const res = await dav(stack, 'PUT', '/slow-graph.bin', { body });
    expect(stack.emulator.faults.injected.latency).toBe(2);
    expect(res.status).toBe(201);
    expect((await stack.emulator.drive.readFile(stack.driveIds[0], 'slow-graph.bin')).equals(body)).toBe(true);
  });
});
