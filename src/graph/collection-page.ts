/**
 * Parses one page of a Graph collection (`{"@odata.context": …, "value": [ … ], "@odata.nextLink": …}`,
 * https://learn.microsoft.com/en-us/graph/paging) from its bytes, each member of `value` on its own,
 * into what JSON.parse of the whole would give.
 *
 * Why not `JSON.parse(text)`: a page of 1,000 children with download URLs is ~860 KB. As one string
 * it lands in V8's large-object space, and when a minor GC runs while it is parsed (about one page
 * in seven, measured) it is promoted whole, garbage that only a full GC frees: ~12 MiB of a
 * 100,000-item listing's RSS growth (issue 16). Decoded member by member from the undici buffer
 * (external memory, given back when its young wrapper dies), no string is big.
 *
 * Anything unexpected (no top-level `value` array, or a member that does not parse) falls back to
 * parsing the whole text, so a malformed body fails exactly as JSON.parse fails.
 */
export function parseCollectionPage(body: Uint8Array): unknown {
  // As undici's text() (TextDecoder) does: a byte order mark is not part of the JSON.
  const bytes = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? body.subarray(3) : body;
  const members = valueMembers(bytes);
  if (!members) return JSON.parse(utf8(bytes, 0, bytes.length));
  try {
    const value = members.ranges.map(([start, end]) => JSON.parse(utf8(bytes, start, end)) as unknown);
    const rest = JSON.parse(`${utf8(bytes, 0, members.open + 1)}${utf8(bytes, members.close, bytes.length)}`) as Record<string, unknown>;
    if (rest === null || typeof rest !== 'object' || !Array.isArray(rest.value) || rest.value.length !== 0) throw new Error('not a collection page');
    rest.value = value;
    return rest;
  } catch {
    return JSON.parse(utf8(bytes, 0, bytes.length));
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const VALUE_KEY = Buffer.from('"value"');

/**
 * Where the top-level `value` array opens and closes, and each member's byte range within it, by
 * one scan that tracks strings and nesting. Undefined when the body is not shaped that way.
 */
function valueMembers(bytes: Uint8Array): { open: number; close: number; ranges: Array<[number, number]> } | undefined {
  let depth = 0;
  let open = -1;
  let memberStart = -1;
  let keyStart = -1;
  let afterValueKey = false;
  let afterComma = false;
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      const start = i;
      i = closingQuote(bytes, i);
      if (i < 0) return undefined;
      if (depth === 1 && open < 0) keyStart = start;
      if (open >= 0 && depth === 2 && memberStart < 0) memberStart = start;
      continue;
    }
    if (c === COLON && depth === 1 && open < 0) {
      afterValueKey = keyStart >= 0 && isValueKey(bytes, keyStart, i);
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (c === OPEN_BRACKET && depth === 1 && afterValueKey && open < 0) open = i;
      else if (open >= 0 && depth === 2 && memberStart < 0) memberStart = i;
      depth++;
      continue;
    }
    if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (open >= 0 && depth === 1) {
        if (afterComma && memberStart < 0) return undefined; // `[1,]`: let JSON.parse refuse it
        if (memberStart >= 0) ranges.push([memberStart, i]);
        return { open, close: i, ranges };
      }
      continue;
    }
    if (open >= 0 && depth === 2) {
      if (c === COMMA) {
        if (memberStart < 0) return undefined;
        ranges.push([memberStart, i]);
        memberStart = -1;
        afterComma = true;
      } else if (memberStart < 0 && !isSpace(c)) memberStart = i;
    } else if (c === COMMA && depth === 1) {
      afterValueKey = false;
      keyStart = -1;
    }
  }
  return undefined;
}

/** The quote that closes the string opened at `open` (most of a page is strings: found natively), or -1. */
function closingQuote(bytes: Uint8Array, open: number): number {
  for (let at = open + 1; ; at++) {
    at = bytes.indexOf(QUOTE, at);
    if (at < 0) return -1;
    let backslashes = 0;
    while (bytes[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

/** Whether the key spanning `keyStart` to the colon at `colon` is `"value"` (whitespace allowed before the colon). */
function isValueKey(bytes: Uint8Array, keyStart: number, colon: number): boolean {
  let end = colon;
  while (end > keyStart && isSpace(bytes[end - 1])) end--;
  if (end - keyStart !== VALUE_KEY.length) return false;
  for (let k = 0; k < VALUE_KEY.length; k++) if (bytes[keyStart + k] !== VALUE_KEY[k]) return false;
  return true;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function utf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}
