import { describe, expect, it } from 'vitest';
import { childOfItemByName, driveBasePath, encodeSegment, itemById, itemByPath, pathFromParentReference } from '../../src/graph/paths.js';

describe('graph path encoding', () => {
  it('addresses the root and nested paths with the root:/…: syntax', () => {
    expect(itemByPath('/')).toBe('/root');
    expect(itemByPath('/a/b c.txt')).toBe('/root:/a/b%20c.txt:');
  });

  it('percent-encodes characters that are URL syntax', () => {
    expect(encodeSegment('a#b')).toBe('a%23b');
    expect(encodeSegment('100%')).toBe('100%25');
    expect(encodeSegment('a+b')).toBe('a%2Bb');
    expect(encodeSegment('why?')).toBe('why%3F');
    expect(encodeSegment("it's (1)")).toBe('it%27s%20%281%29');
    expect(encodeSegment('a:b')).toBe('a%3Ab');
  });

  it('encodes Unicode as UTF-8 and round-trips every segment', () => {
    expect(encodeSegment('é')).toBe('%C3%A9');
    for (const name of ['日本語.txt', 'emoji 😀', 'a&b=c', 'x;y,z', 'tab\tname', '~$lock']) {
      expect(decodeURIComponent(encodeSegment(name))).toBe(name);
      expect(encodeSegment(name)).not.toMatch(/[ #?&+:;,=\t]/);
    }
  });

  it("names a child under a folder id as an OData key, quotes doubled (children('{name}'))", () => {
    expect(childOfItemByName('01ABC', 'a b.txt')).toBe("/items/01ABC/children('a%20b.txt')");
    expect(childOfItemByName('01ABC', "it's (1)#.txt")).toBe("/items/01ABC/children('it%27%27s%20%281%29%23.txt')");
  });

  it('knows the drive bases', () => {
    expect(driveBasePath({ type: 'me' })).toBe('/me/drive');
    expect(driveBasePath({ type: 'id', id: 'b!abc' })).toBe('/drives/b!abc');
    expect(driveBasePath({ type: 'user', user: 'adele@contoso.onmicrosoft.com' })).toBe('/users/adele%40contoso.onmicrosoft.com/drive');
    expect(driveBasePath({ type: 'site', site: 'contoso.sharepoint.com,1,2' })).toBe('/sites/contoso.sharepoint.com%2C1%2C2/drive');
    expect(driveBasePath({ type: 'site', site: 'contoso.sharepoint.com:/sites/team' })).toBe('/sites/contoso.sharepoint.com:/sites/team:/drive');
    expect(itemById('01AB!12')).toBe('/items/01AB!12');
  });

  it('derives drive paths from parentReference.path', () => {
    expect(pathFromParentReference('/drive/root:', 'a')).toBe('/a');
    expect(pathFromParentReference('/drives/b!x/root:/Docs%20Folder', 'f.txt')).toBe('/Docs Folder/f.txt');
    expect(pathFromParentReference(undefined, 'a')).toBeUndefined();
    expect(pathFromParentReference('/drive/items/123', 'a')).toBeUndefined();
  });
});
