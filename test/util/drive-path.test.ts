import { describe, expect, it } from 'vitest';
import { baseName, childPath, EXACT_NAMES, FOLDED_NAMES, isAncestor, isSameOrBelow, joinPath, nameFolding, parentPath, rebase, splitPath } from '../../src/util/drive-path.js';

describe('drive paths', () => {
  it('split, join, parent, base and child', () => {
    expect(splitPath('/a/b c/d')).toEqual(['a', 'b c', 'd']);
    expect(splitPath('/')).toEqual([]);
    expect(joinPath([])).toBe('/');
    expect(joinPath(['a', 'b'])).toBe('/a/b');
    expect(parentPath('/a/b/c')).toBe('/a/b');
    expect(parentPath('/a')).toBe('/');
    expect(parentPath('/')).toBe('/');
    expect(baseName('/a/b/c')).toBe('c');
    expect(baseName('/')).toBe('');
    expect(childPath('/', 'x')).toBe('/x');
    expect(childPath('/a', 'x')).toBe('/a/x');
  });

  it('knows ancestors by whole names', () => {
    expect(isAncestor('/a', '/a/b')).toBe(true);
    expect(isAncestor('/a', '/ab')).toBe(false);
    expect(isAncestor('/a', '/a')).toBe(false);
    expect(isAncestor('/', '/x')).toBe(true);
    expect(isAncestor('/', '/')).toBe(false);
    expect(isSameOrBelow('/a', '/a')).toBe(true);
    expect(isSameOrBelow('/a/b', '/a')).toBe(true);
    expect(isSameOrBelow('/ab', '/a')).toBe(false);
    expect(isSameOrBelow('/x', '/')).toBe(true);
  });

  it('rebases paths between roots', () => {
    expect(rebase('/a/b/c', '/a', '/x')).toBe('/x/b/c');
    expect(rebase('/a', '/a', '/x')).toBe('/x');
    expect(rebase('/b', '/', '/x')).toBe('/x/b');
    expect(rebase('/a/b', '/a', '/')).toBe('/b');
  });

  it('folds names only for a case-insensitive drive', () => {
    expect(nameFolding(false)).toBe(EXACT_NAMES);
    expect(nameFolding(true)).toBe(FOLDED_NAMES);
    expect(EXACT_NAMES.pathKey('/A/b.TXT')).toBe('/A/b.TXT');
    expect(EXACT_NAMES.sameName('A', 'a')).toBe(false);
    expect(FOLDED_NAMES.pathKey('/A/b.TXT')).toBe('/a/b.txt');
    expect(FOLDED_NAMES.nameKey('Ä.txt')).toBe(FOLDED_NAMES.nameKey('ä.TXT'));
    expect(FOLDED_NAMES.sameName('Report.docx', 'report.DOCX')).toBe(true);
  });
});
