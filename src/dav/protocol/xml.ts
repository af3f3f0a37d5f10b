import { SaxesParser, type SaxesTagNS } from 'saxes';

/**
 * The XML of WebDAV bodies: a strict, namespace-aware reader for requests (PROPFIND, PROPPATCH,
 * LOCK) on saxes, a non-validating parser, and our own writer for multistatus responses. Request
 * bodies are hostile input, so the reader refuses what WebDAV never needs: DTDs (no entity
 * expansion, no XXE), undeclared prefixes, `xmlns:p=""` (invalid in Namespaces in XML 1.0),
 * mismatched tags, text outside the root.
 */
export const DAV_NS = 'DAV:';
export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export interface XmlAttribute {
  ns: string;
  local: string;
  value: string;
}

export interface XmlElement {
  type: 'element';
  /** Namespace URI; '' for no namespace. */
  ns: string;
  local: string;
  attrs: XmlAttribute[];
  children: XmlNode[];
}

export interface XmlText {
  type: 'text';
  text: string;
}

export type XmlNode = XmlElement | XmlText;

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlError';
  }
}

/** Deeper than any WebDAV body; keeps the recursive helpers below (textContent, serializeElement) safe. */
const MAX_DEPTH = 64;

/** saxes's messages where a client author would not see the rule at once. */
const CLEARER: Record<string, string> = {
  'undefined entity': 'Unknown entity (only &amp; &lt; &gt; &quot; &apos; and character references are accepted)',
  'invalid attempt to undefine prefix in XML 1.0': 'A namespace prefix is declared with an empty URI, which Namespaces in XML 1.0 forbid',
  'unexpected close tag': 'A closing tag does not match the open element',
};

/**
 * Parses a complete document and returns its root element. saxes does the XML: well-formedness,
 * XML 1.0 characters and names, the five predefined entities and character references, namespace
 * scoping (undeclared prefixes, `xmlns:p=""`, misuse of the xml/xmlns prefixes). Any DOCTYPE is
 * refused, so no entity is ever defined, let alone expanded or fetched.
 */
export function parseXml(text: string): XmlElement {
  // A builder is reused after a clean parse (saxes resets itself on close; building one costs
  // about as much as parsing a small body) and dropped after a failed one.
  const builder = idleBuilder ?? new TreeBuilder();
  idleBuilder = undefined;
  const root = builder.build(text);
  idleBuilder = builder;
  return root;
}

let idleBuilder: TreeBuilder | undefined;

class TreeBuilder {
  // XML 1.0 rules whatever the body declares: 1.1 would allow `xmlns:p=""` (undeclaring a prefix).
  private readonly parser = new SaxesParser({ xmlns: true, defaultXMLVersion: '1.0', forceXMLVersion: true });
  private open: XmlElement[] = [];
  private root: XmlElement | undefined;

  constructor() {
    const { parser } = this;
    parser.on('error', (err) => this.fail(err.message));
    parser.on('doctype', () => this.fail('DTDs and declarations are not accepted in WebDAV request bodies.'));
    parser.on('opentag', (tag) => this.openTag(tag));
    parser.on('closetag', () => this.open.pop());
    parser.on('text', (value) => this.addText(value));
    parser.on('cdata', (value) => this.addText(value));
  }

  build(text: string): XmlElement {
    this.parser.write(text).close();
    const root = this.root;
    this.root = undefined;
    if (!root) throw new XmlError('The body is not an XML document (no root element).');
    return root;
  }

  private openTag(tag: SaxesTagNS): void {
    const { open } = this;
    if (open.length >= MAX_DEPTH) this.fail('The XML is nested too deeply.');
    const attrs: XmlAttribute[] = [];
    for (const name in tag.attributes) {
      const attr = tag.attributes[name];
      if (attr.uri !== XMLNS_NS) attrs.push({ ns: attr.uri, local: attr.local, value: attr.value });
    }
    const el: XmlElement = { type: 'element', ns: tag.uri, local: tag.local, attrs, children: [] };
    const parent = open[open.length - 1];
    if (parent) parent.children.push(el);
    else this.root = el;
    open.push(el);
  }

  private addText(value: string): void {
    const parent = this.open[this.open.length - 1];
    if (!parent || value === '') return; // whitespace around the root (anything else saxes refuses)
    const last = parent.children[parent.children.length - 1];
    if (last?.type === 'text') last.text += value;
    else parent.children.push({ type: 'text', text: value });
  }

  private fail(message: string): never {
    const terse = message.replace(/^\d+:\d+: /, '').replace(/\.$/, '');
    const sentence = CLEARER[terse] ?? `${terse[0].toUpperCase()}${terse.slice(1)}`;
    throw new XmlError(`${sentence} (line ${this.parser.line}, column ${this.parser.column}).`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Anything escapeText would change; most names and values have none of it. */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/;

export function escapeText(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text
    .replace(INVALID_XML_CHARS, '\uFFFD')
    .replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'))
    .replace(/\r/g, '&#13;');
}

/** Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/F). */
// eslint-disable-next-line no-control-regex
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function escapeAttr(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;');
}

/**
 * Serialises elements so that the output stands on its own: every namespace an element or
 * attribute uses is declared on that element unless an enclosing element of the output declared
 * it. `scope` maps namespace URI → prefix already declared by the caller (e.g. DAV: → D).
 * No default namespace is ever declared, so an unprefixed element always means "no namespace".
 */
export function serializeNodes(nodes: readonly XmlNode[], scope: ReadonlyMap<string, string> = new Map()): string {
  return nodes.map((n) => (n.type === 'text' ? escapeText(n.text) : serializeElement(n, scope))).join('');
}

export function serializeElement(el: XmlElement, scope: ReadonlyMap<string, string>): string {
  const own = new Map(scope);
  const decls: string[] = [];
  const prefixFor = (ns: string): string => {
    if (ns === XML_NS) return 'xml';
    let prefix = own.get(ns);
    if (prefix === undefined) {
      const used = new Set(own.values());
      let i = own.size;
      while (used.has(`ns${i}`)) i++;
      prefix = `ns${i}`;
      own.set(ns, prefix);
      decls.push(` xmlns:${prefix}="${escapeAttr(ns)}"`);
    }
    return prefix;
  };
  const tag = el.ns === '' ? el.local : `${prefixFor(el.ns)}:${el.local}`;
  const attrs = el.attrs.map((a) => ` ${a.ns === '' ? a.local : `${prefixFor(a.ns)}:${a.local}`}="${escapeAttr(a.value)}"`).join('');
  const open = `<${tag}${decls.join('')}${attrs}`;
  if (el.children.length === 0) return `${open}/>`;
  return `${open}>${serializeNodes(el.children, own)}</${tag}>`;
}

/** A new element (for building responses). */
export function element(ns: string, local: string, children: XmlNode[] = [], attrs: XmlAttribute[] = []): XmlElement {
  return { type: 'element', ns, local, attrs, children };
}

export function text(value: string): XmlText {
  return { type: 'text', text: value };
}

/** The child elements of `el` (text and whitespace dropped). */
export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.type === 'element');
}

export function findChild(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  return childElements(el).find((c) => c.ns === ns && c.local === local);
}

export function textContent(el: XmlElement): string {
  return el.children.map((c) => (c.type === 'text' ? c.text : textContent(c))).join('');
}

/** `{ns}local`, the Clark notation used as map keys for property names. */
export function clark(ns: string, local: string): string {
  return `{${ns}}${local}`;
}
