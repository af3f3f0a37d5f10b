/**
 * A small, strict, namespace-aware XML reader and writer for WebDAV bodies (PROPFIND, PROPPATCH,
 * LOCK requests; multistatus responses). Request bodies are small and hostile input, so the reader
 * refuses what WebDAV never needs: DTDs (no entity expansion, no XXE), undeclared prefixes,
 * `xmlns:p=""` (invalid in Namespaces in XML 1.0), mismatched tags, text outside the root.
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

const MAX_DEPTH = 64;
const NAME = /^[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_.\-\u00B7\u00C0-\uFFFF]*(:[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_.\-\u00B7\u00C0-\uFFFF]*)?$/;

/** Parses a complete document and returns its root element. */
export function parseXml(text: string): XmlElement {
  const parser = new Parser(text);
  return parser.document();
}

class Parser {
  private pos = 0;

  constructor(private readonly src: string) {}

  document(): XmlElement {
    if (this.src.charCodeAt(0) === 0xfeff) this.pos = 1;
    let root: XmlElement | undefined;
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.src.length) break;
      if (this.startsWith('<?')) this.skipProcessingInstruction();
      else if (this.startsWith('<!--')) this.skipComment();
      else if (this.startsWith('<!')) throw new XmlError('DTDs and declarations are not accepted in WebDAV request bodies.');
      else if (this.startsWith('<')) {
        if (root) throw new XmlError('The document has more than one root element.');
        root = this.element(new Map([['xml', XML_NS]]), 0);
      } else throw new XmlError('Text is not allowed outside the root element.');
    }
    if (!root) throw new XmlError('The body is not an XML document (no root element).');
    return root;
  }

  private element(parentScope: Map<string, string>, depth: number): XmlElement {
    if (depth > MAX_DEPTH) throw new XmlError('The XML is nested too deeply.');
    this.expect('<');
    const qname = this.name();
    const rawAttrs: Array<[string, string]> = [];
    let selfClosing = false;
    for (;;) {
      const hadSpace = this.skipSpace();
      if (this.startsWith('/>')) {
        this.pos += 2;
        selfClosing = true;
        break;
      }
      if (this.startsWith('>')) {
        this.pos += 1;
        break;
      }
      if (!hadSpace) throw new XmlError(`Malformed start tag <${qname}>.`);
      const name = this.name();
      this.skipSpace();
      this.expect('=');
      this.skipSpace();
      const value = this.attributeValue();
      if (rawAttrs.some(([n]) => n === name)) throw new XmlError(`Duplicate attribute "${name}" on <${qname}>.`);
      rawAttrs.push([name, value]);
    }

    const scope = new Map(parentScope);
    for (const [name, value] of rawAttrs) {
      if (name === 'xmlns') {
        if (value === XML_NS || value === XMLNS_NS) throw new XmlError(`The namespace ${value} cannot be the default namespace.`);
        scope.set('', value);
      } else if (name.startsWith('xmlns:')) {
        const prefix = name.slice(6);
        if (value === '') throw new XmlError(`The namespace prefix "${prefix}" is declared with an empty URI, which XML namespaces forbid.`);
        if (prefix === 'xmlns') throw new XmlError('The prefix "xmlns" cannot be declared.');
        if ((prefix === 'xml') !== (value === XML_NS)) throw new XmlError('The prefix "xml" is bound to its own namespace only.');
        scope.set(prefix, value);
      }
    }
    const { ns, local } = resolve(qname, scope, true);
    const attrs: XmlAttribute[] = [];
    for (const [name, value] of rawAttrs) {
      if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
      const resolved = resolve(name, scope, false);
      if (attrs.some((a) => a.ns === resolved.ns && a.local === resolved.local)) throw new XmlError(`Duplicate attribute "${name}" on <${qname}>.`);
      attrs.push({ ...resolved, value });
    }
    const el: XmlElement = { type: 'element', ns, local, attrs, children: [] };
    if (selfClosing) return el;

    let text = '';
    const flush = () => {
      if (text) el.children.push({ type: 'text', text });
      text = '';
    };
    for (;;) {
      if (this.pos >= this.src.length) throw new XmlError(`Element <${qname}> is not closed.`);
      if (this.startsWith('</')) {
        this.pos += 2;
        const closing = this.name();
        this.skipSpace();
        this.expect('>');
        if (closing !== qname) throw new XmlError(`Closing tag </${closing}> does not match <${qname}>.`);
        flush();
        return el;
      }
      if (this.startsWith('<!--')) this.skipComment();
      else if (this.startsWith('<![CDATA[')) {
        const end = this.src.indexOf(']]>', this.pos + 9);
        if (end === -1) throw new XmlError('Unterminated CDATA section.');
        text += this.src.slice(this.pos + 9, end);
        this.pos = end + 3;
      } else if (this.startsWith('<?')) this.skipProcessingInstruction();
      else if (this.startsWith('<!')) throw new XmlError('Declarations are not allowed inside elements.');
      else if (this.startsWith('<')) {
        flush();
        el.children.push(this.element(scope, depth + 1));
      } else {
        const next = this.src.indexOf('<', this.pos);
        const end = next === -1 ? this.src.length : next;
        text += decodeText(this.src.slice(this.pos, end));
        this.pos = end;
      }
    }
  }

  private name(): string {
    const start = this.pos;
    while (this.pos < this.src.length && !/[\s/>=<"'&]/.test(this.src[this.pos])) this.pos++;
    const name = this.src.slice(start, this.pos);
    if (!NAME.test(name)) throw new XmlError(`"${name.slice(0, 40)}" is not a valid XML name.`);
    return name;
  }

  private attributeValue(): string {
    const quote = this.src[this.pos];
    if (quote !== '"' && quote !== "'") throw new XmlError('Attribute values must be quoted.');
    const end = this.src.indexOf(quote, this.pos + 1);
    if (end === -1) throw new XmlError('Unterminated attribute value.');
    const raw = this.src.slice(this.pos + 1, end);
    if (raw.includes('<')) throw new XmlError('"<" is not allowed in attribute values.');
    this.pos = end + 1;
    return decodeText(raw).replace(/[\t\n\r]/g, ' ');
  }

  private skipSpace(): boolean {
    const start = this.pos;
    while (this.pos < this.src.length && /[ \t\r\n]/.test(this.src[this.pos])) this.pos++;
    return this.pos > start;
  }

  private skipComment(): void {
    const end = this.src.indexOf('-->', this.pos + 4);
    if (end === -1) throw new XmlError('Unterminated comment.');
    this.pos = end + 3;
  }

  private skipProcessingInstruction(): void {
    const end = this.src.indexOf('?>', this.pos + 2);
    if (end === -1) throw new XmlError('Unterminated processing instruction.');
    this.pos = end + 2;
  }

  private startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  private expect(s: string): void {
    if (!this.startsWith(s)) throw new XmlError(`Expected "${s}" at offset ${this.pos}.`);
    this.pos += s.length;
  }
}

function resolve(qname: string, scope: Map<string, string>, isElement: boolean): { ns: string; local: string } {
  const colon = qname.indexOf(':');
  if (colon === -1) return { ns: isElement ? (scope.get('') ?? '') : '', local: qname };
  const prefix = qname.slice(0, colon);
  const ns = scope.get(prefix);
  if (ns === undefined) throw new XmlError(`The namespace prefix "${prefix}" is not declared.`);
  return { ns, local: qname.slice(colon + 1) };
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&\s]{0,12});?/g, (match, body: string) => {
    if (!match.endsWith(';')) throw new XmlError('An "&" must start an entity reference such as &amp;.');
    if (body.startsWith('#')) {
      const code = body[1] === 'x' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      if (!Number.isFinite(code) || code < 1 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new XmlError(`Invalid character reference &${body};.`);
      return String.fromCodePoint(code);
    }
    const value = ENTITIES[body];
    if (value === undefined) throw new XmlError(`Unknown entity &${body}; (only the five XML entities are accepted).`);
    return value;
  });
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
