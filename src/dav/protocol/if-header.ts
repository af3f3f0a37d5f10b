import { DavError } from './errors.js';

/**
 * The WebDAV `If` header (RFC 4918 §10.4):
 *   If = 1*No-tag-list | 1*Tagged-list;  List = "(" 1*(["Not"] (<state-token> | [etag])) ")"
 * The header is true when any list (applied to its resource) is true; a list is true when all its
 * conditions are. Every state token in the header counts as "submitted" for lock checks, whether
 * or not its list matched (a failed condition alone makes the header false → 412).
 */
export interface IfCondition {
  not: boolean;
  kind: 'token' | 'etag';
  /** Token URI without <>, or the entity tag as sent (with quotes, maybe W/). */
  value: string;
}

export interface IfList {
  /** The tagged resource (raw URI as sent), or undefined for the request URI. */
  resource?: string;
  conditions: IfCondition[];
}

export function parseIfHeader(header: string): IfList[] {
  const lists: IfList[] = [];
  let pos = 0;
  let resource: string | undefined;
  let tagged: boolean | undefined;
  const fail = (why: string): never => {
    throw new DavError(400, `Malformed If header: ${why}.`);
  };
  const skip = () => {
    while (pos < header.length && /[ \t\r\n]/.test(header[pos])) pos++;
  };
  for (;;) {
    skip();
    if (pos >= header.length) break;
    if (header[pos] === '<') {
      const end = header.indexOf('>', pos);
      if (end === -1) fail('unterminated resource tag');
      if (tagged === false) fail('tagged and untagged lists are mixed');
      tagged = true;
      resource = header.slice(pos + 1, end);
      pos = end + 1;
      skip();
      if (header[pos] !== '(') fail('a resource tag must be followed by a list');
      continue;
    }
    if (header[pos] !== '(') fail(`unexpected "${header[pos]}"`);
    if (tagged === undefined) tagged = false;
    pos++;
    const conditions: IfCondition[] = [];
    for (;;) {
      skip();
      if (pos >= header.length) fail('unterminated list');
      if (header[pos] === ')') {
        pos++;
        break;
      }
      let not = false;
      if (header.slice(pos, pos + 3).toLowerCase() === 'not') {
        not = true;
        pos += 3;
        skip();
      }
      if (header[pos] === '<') {
        const end = header.indexOf('>', pos);
        if (end === -1) fail('unterminated state token');
        conditions.push({ not, kind: 'token', value: header.slice(pos + 1, end).trim() });
        pos = end + 1;
      } else if (header[pos] === '[') {
        const end = header.indexOf(']', pos);
        if (end === -1) fail('unterminated entity tag');
        conditions.push({ not, kind: 'etag', value: header.slice(pos + 1, end).trim() });
        pos = end + 1;
      } else {
        fail('a condition must be a <state-token> or an [entity-tag]');
      }
    }
    if (conditions.length === 0) fail('empty list');
    lists.push({ resource: tagged ? resource : undefined, conditions });
  }
  if (lists.length === 0) fail('no lists');
  return lists;
}

/** Every lock token that appears in the header (submitted tokens, RFC 4918 §10.4.1). */
export function submittedTokens(lists: readonly IfList[]): Set<string> {
  const tokens = new Set<string>();
  for (const list of lists) for (const c of list.conditions) if (c.kind === 'token' && !c.not) tokens.add(c.value);
  return tokens;
}

/** The state of a resource that conditions are evaluated against. */
export interface ConditionState {
  /** Strong entity tag with quotes, undefined when the resource does not exist. */
  etag?: string;
  /** Tokens of locks that cover the resource. */
  lockTokens: ReadonlySet<string>;
}

/** True when `lists` hold: at least one list whose conditions are all true for its resource. */
export async function evaluateIf(lists: readonly IfList[], stateOf: (resource: string | undefined) => Promise<ConditionState>): Promise<boolean> {
  for (const list of lists) {
    const state = await stateOf(list.resource);
    if (list.conditions.every((c) => conditionHolds(c, state))) return true;
  }
  return false;
}

function conditionHolds(c: IfCondition, state: ConditionState): boolean {
  const matches = c.kind === 'token' ? state.lockTokens.has(c.value) : state.etag !== undefined && sameEntityTag(c.value, state.etag);
  return c.not ? !matches : matches;
}

/** Weak comparison (RFC 9110 §8.8.3.2): `W/"x"` and `"x"` match. */
export function sameEntityTag(a: string, b: string): boolean {
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return strip(a) === strip(b);
}
