import { describe, expect, it } from 'vitest';
import { DavPathError, encodeSegment, hrefFor, parseConfiguredRoot, parseRequestTarget } from '../../src/dav/protocol/paths.js';

describe('parseRequestTarget', () => {
  it('decodes each segment after splitting, keeps trailing-slash information', () => {
    expect(parseRequestTarget('/a%20b/c%23d/')).toEqual({ segments: ['a b', 'c#d'], trailingSlash: true });
    expect(parseRequestTarget('/')).toEqual({ segments: [], trailingSlash: false });
    expect(parseRequestTarget('//a//b')).toEqual({ segments: ['a', 'b'], trailingSlash: false });
  });

  it('accepts absolute-form targets and drops the query', () => {
    expect(parseRequestTarget('http://host:8080/x/y%2By?z=1').segments).toEqual(['x', 'y+y']);
    expect(parseRequestTarget('https://host').segments).toEqual([]);
  });

  it('keeps + and % literal once decoded (+ is not a space in paths)', () => {
    expect(parseRequestTarget('/a+b/100%25').segments).toEqual(['a+b', '100%']);
  });

  it('normalises names to NFC', () => {
    const nfd = 'e\u0301te\u0301.txt';
    const { segments } = parseRequestTarget(`/${encodeURIComponent(nfd)}`);
    expect(segments[0]).toBe('\u00e9t\u00e9.txt');
  });

  it.each([
    ['/a/../b', '".." '],
    ['/a/%2e%2e/b', 'encoded dot-dot'],
    ['/a/%2E%2E', 'upper-case encoded dot-dot'],
    ['/./a', 'single dot'],
    ['/a%2fb', 'encoded slash'],
    ['/a%2Fb', 'upper-case encoded slash'],
    ['/a%5cb', 'encoded backslash'],
    ['/a\\b', 'backslash'],
    ['/a%00b', 'NUL'],
    ['/a%0ab', 'newline'],
    ['/a/%zz', 'malformed escape'],
    ['/frag/#ment', 'fragment'],
    ['relative/path', 'no leading slash'],
  ])('refuses %s (%s)', (target) => {
    expect(() => parseRequestTarget(target)).toThrow(DavPathError);
  });
});

describe('hrefFor / encodeSegment', () => {
  it('percent-encodes everything a client could misread and round-trips through the parser', () => {
    const names = ['a b', 'c#d', '100%', 'x+y', 'q?r', 'semi;colon', "it's (1)!*", 'ünï€😀', '&amp'];
    const href = hrefFor(names, false);
    expect(href).not.toMatch(/[ #?+;'()!*&]/);
    expect(parseRequestTarget(href).segments).toEqual(names);
  });

  it('adds a trailing slash to collections, never to the root', () => {
    expect(hrefFor(['a'], true)).toBe('/a/');
    expect(hrefFor([], true)).toBe('/');
    expect(encodeSegment('a/b')).toBe('a%2Fb');
  });
});

describe('parseConfiguredRoot', () => {
  it('splits and checks configured user roots', () => {
    expect(parseConfiguredRoot('/Users/alice/')).toEqual(['Users', 'alice']);
    expect(parseConfiguredRoot('/')).toEqual([]);
    expect(() => parseConfiguredRoot('/Users/../etc')).toThrow(DavPathError);
  });
});
