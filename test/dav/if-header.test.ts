import { describe, expect, it } from 'vitest';
import { DavError } from '../../src/dav/protocol/errors.js';
import { evaluateIf, parseIfHeader, sameEntityTag, submittedTokens, type ConditionState } from '../../src/dav/protocol/if-header.js';

const TOKEN = 'opaquelocktoken:1234';

describe('parseIfHeader', () => {
  it('parses untagged lists with Not, tokens and entity tags', () => {
    expect(parseIfHeader(`(<${TOKEN}> ["abc"]) (Not <DAV:no-lock>)`)).toEqual([
      { resource: undefined, conditions: [{ not: false, kind: 'token', value: TOKEN }, { not: false, kind: 'etag', value: '"abc"' }] },
      { resource: undefined, conditions: [{ not: true, kind: 'token', value: 'DAV:no-lock' }] },
    ]);
  });

  it('parses tagged lists', () => {
    const lists = parseIfHeader(`<http://h/a> (<${TOKEN}>) <http://h/b> (["x"]) (not ["y"])`);
    expect(lists.map((l) => l.resource)).toEqual(['http://h/a', 'http://h/b', 'http://h/b']);
  });

  it.each(['', '(', '()', '<http://h/a>', '(<x>) <http://h/a> (<y>)', 'garbage', '(["x")'])('refuses %j with 400', (header) => {
    expect(() => parseIfHeader(header)).toThrow(DavError);
    try {
      parseIfHeader(header);
    } catch (err) {
      expect((err as DavError).status).toBe(400);
    }
  });

  it('collects submitted tokens (not negated ones)', () => {
    expect([...submittedTokens(parseIfHeader(`(<${TOKEN}>) (Not <other>)`))]).toEqual([TOKEN]);
  });
});

describe('evaluateIf (litmus conditional PUT cases)', () => {
  const locked: ConditionState = { etag: '"e1"', lockTokens: new Set([TOKEN]) };
  const evalOn = (header: string, state = locked) => evaluateIf(parseIfHeader(header), async () => state);

  it.each([
    [`(<${TOKEN}> ["e1"])`, true],
    ['(<DAV:no-lock> ["e1"])', false],
    [`(<${TOKEN}>) (Not <DAV:no-lock>)`, true],
    [`(<${TOKEN}x>) (Not <DAV:no-lock>)`, true],
    [`(<${TOKEN}> ["e1"]) (Not <DAV:no-lock> ["e1"])`, true],
    [`(<${TOKEN}> ["e2"]) (Not <DAV:no-lock> ["e2"])`, false],
    ['(<DAV:no-lock>)', false],
    ['(Not ["e1"])', false],
    ['([W/"e1"])', true],
  ])('%s → %s', async (header, expected) => {
    expect(await evalOn(header)).toBe(expected);
  });

  it('an entity tag never matches a missing resource', async () => {
    expect(await evalOn('(["e1"])', { etag: undefined, lockTokens: new Set() })).toBe(false);
  });

  it('compares entity tags weakly', () => {
    expect(sameEntityTag('W/"a"', '"a"')).toBe(true);
    expect(sameEntityTag('"a"', '"b"')).toBe(false);
  });
});
