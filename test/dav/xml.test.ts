import { describe, expect, it } from 'vitest';
import { childElements, parseXml, serializeElement, textContent, XmlError } from '../../src/dav/protocol/xml.js';

describe('parseXml', () => {
  it('resolves default and prefixed namespaces, attributes and entities', () => {
    const root = parseXml(`<?xml version="1.0" encoding="utf-8"?>
      <!-- comment -->
      <D:propfind xmlns:D="DAV:" xmlns="http://example.com/x"><D:prop><foo a="1&amp;2" D:b='q'/><bar>&lt;&#65536;&#x41;<![CDATA[<raw>]]></bar></D:prop></D:propfind>`);
    expect(root).toMatchObject({ ns: 'DAV:', local: 'propfind' });
    const [prop] = childElements(root);
    const [foo, bar] = childElements(prop);
    expect(foo).toMatchObject({ ns: 'http://example.com/x', local: 'foo' });
    expect(foo.attrs).toEqual([
      { ns: '', local: 'a', value: '1&2' },
      { ns: 'DAV:', local: 'b', value: 'q' },
    ]);
    expect(textContent(bar)).toBe('<\u{10000}A<raw>');
  });

  it('lets xmlns="" take an element out of the default namespace', () => {
    const root = parseXml('<propertyupdate xmlns="DAV:"><nonamespace xmlns="">v</nonamespace></propertyupdate>');
    expect(childElements(root)[0]).toMatchObject({ ns: '', local: 'nonamespace' });
  });

  it.each([
    ['<foo>', 'unclosed'],
    ['<a></b>', 'mismatched'],
    ['<D:a xmlns:D="DAV:"><bar:foo xmlns:bar=""/></D:a>', 'empty prefixed namespace (litmus propfind_invalid2)'],
    ['<x:a/>', 'undeclared prefix'],
    ['<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', 'DTD'],
    ['<a>&unknown;</a>', 'unknown entity'],
    ['<a b="1" b="2"/>', 'duplicate attribute'],
    ['<a/><b/>', 'two roots'],
    ['text<a/>', 'text outside root'],
    ['', 'empty'],
    ['<a>&#0;</a>', 'NUL reference'],
    ['<?xml version="1.1"?><D:a xmlns:D="DAV:"><D:foo xmlns:bar=""/></D:a>', 'a prefix undeclared as XML 1.1 allows'],
    ['<a>\u0001</a>', 'raw control character'],
    ['<a>x ]]> y</a>', '"]]>" in text'],
    ['<a><!-- a -- b --></a>', '"--" in a comment'],
    ['<a><?xml version="1.0"?></a>', 'XML declaration inside the document'],
  ])('refuses %s (%s)', (xml) => {
    expect(() => parseXml(xml)).toThrow(XmlError);
  });

  it('says what is wrong and where', () => {
    expect(() => parseXml('<D:propfind xmlns:D="DAV:">\n<D:prop>')).toThrow('Unclosed tag: D:prop (line 2, column 8).');
    expect(() => parseXml('<a>&lol9;</a>')).toThrow(/^Unknown entity \(only &amp; &lt; &gt; &quot; &apos; and character references are accepted\) \(line 1, column 9\)\.$/);
  });

  it('parses a good body correctly after refusing a bad one midway', () => {
    expect(() => parseXml('<D:propfind xmlns:D="DAV:"><D:prop><x:y/>')).toThrow(XmlError);
    expect(parseXml('<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>')).toEqual({
      type: 'element',
      ns: 'DAV:',
      local: 'propfind',
      attrs: [],
      children: [{ type: 'element', ns: 'DAV:', local: 'allprop', attrs: [], children: [] }],
    });
  });

  it('normalises line ends as XML 1.0 §2.11 requires, keeping an escaped CR', () => {
    expect(textContent(parseXml('<a>x\r\ny\rz&#13;</a>'))).toBe('x\ny\nz\r');
  });

  it('refuses absurd nesting instead of recursing forever', () => {
    expect(() => parseXml('<a>'.repeat(200) + '</a>'.repeat(200))).toThrow(XmlError);
  });
});

describe('serializeElement', () => {
  it('declares every namespace it uses, so the output stands alone', () => {
    const root = parseXml("<t:valnspace xmlns:t='http://example.com/neon/litmus/'><foo xmlns='http://bar' x='1'/>text &amp; more</t:valnspace>");
    const out = serializeElement(root, new Map());
    expect(out).toBe('<ns0:valnspace xmlns:ns0="http://example.com/neon/litmus/"><ns1:foo xmlns:ns1="http://bar" x="1"/>text &amp; more</ns0:valnspace>');
    // …and parses back to the same names.
    const again = parseXml(out);
    expect(again).toMatchObject({ ns: 'http://example.com/neon/litmus/', local: 'valnspace' });
    expect(childElements(again)[0]).toMatchObject({ ns: 'http://bar', local: 'foo' });
  });

  it('reuses prefixes the caller declared and writes no-namespace elements unprefixed', () => {
    const root = parseXml('<D:owner xmlns:D="DAV:"><D:href>mailto:x</D:href><plain/></D:owner>');
    expect(serializeElement(root, new Map([['DAV:', 'D']]))).toBe('<D:owner><D:href>mailto:x</D:href><plain/></D:owner>');
  });
});
