import { describe, expect, it } from 'vitest';
import { assertValidPath, nameProblem, pathProblem } from '../../src/drive/names.js';

describe('OneDrive name rules', () => {
  it('accepts ordinary and Unicode names', () => {
    for (const name of ['a.txt', 'Résumé 2024.docx', '日本語', '#hash', '100%', 'a+b', '.hidden', '._AppleDouble', 'con.txt', 'x'.repeat(255)]) {
      expect(nameProblem(name)).toBeUndefined();
    }
  });

  it('refuses the characters, spaces, reserved names and prefixes OneDrive refuses, saying why', () => {
    expect(nameProblem('a:b')).toMatch(/":"/);
    for (const c of ['"', '*', '<', '>', '?', '\\', '|', '\u0001']) expect(nameProblem(`a${c}b`)).toMatch(/character/);
    expect(nameProblem(' lead')).toMatch(/space/);
    expect(nameProblem('trail ')).toMatch(/space/);
    for (const r of ['CON', 'prn', 'Aux', 'nul', 'COM1', 'lpt9', 'com0', '.lock', 'desktop.ini']) expect(nameProblem(r)).toMatch(/reserved/);
    expect(nameProblem('my_vti_file')).toMatch(/_vti_/);
    expect(nameProblem('~$doc.docx')).toMatch(/~\$/);
    expect(nameProblem('x'.repeat(256))).toMatch(/255/);
    expect(nameProblem('')).toMatch(/empty/);
    expect(nameProblem('forms')).toBeUndefined();
    expect(nameProblem('forms', { atLibraryRoot: true })).toMatch(/forms/);
  });

  it('checks the decoded path length and forms only at a library root', () => {
    const deep = `/${Array.from({ length: 40 }, () => 'abcdefghij').join('/')}`;
    expect(pathProblem(deep)).toMatch(/400/);
    expect(pathProblem('/Forms', { documentLibrary: true })).toMatch(/forms/);
    expect(pathProblem('/a/Forms', { documentLibrary: true })).toBeUndefined();
    expect(() => assertValidPath('/a/b?.txt')).toThrow(expect.objectContaining({ kind: 'invalidName' }));
  });
});
