import { childElements, parseXml, serializeNodes, textContent, type XmlElement } from '../../src/dav/protocol/xml.js';

/** One `<D:response>` of a multistatus, flattened for assertions. */
export interface ParsedResponse {
  href: string;
  /** Decoded path of the href. */
  path: string;
  /** `{ns}local` → text value, for properties that came back 200. */
  props: Record<string, string>;
  /** `{ns}local` → status code, for every property listed in any propstat. */
  status: Record<string, number>;
  /** `{ns}local` → the property element (for structured values). */
  elements: Record<string, XmlElement>;
  /** Status of the response itself (`<D:status>` directly under `<D:response>`), if any. */
  responseStatus?: number;
}

export function parseMultistatus(xml: string): ParsedResponse[] {
  const root = parseXml(xml);
  if (root.ns !== 'DAV:' || root.local !== 'multistatus') throw new Error(`not a multistatus: ${xml.slice(0, 200)}`);
  return childElements(root)
    .filter((r) => r.ns === 'DAV:' && r.local === 'response')
    .map((r) => {
      const href = textContent(childElements(r).find((c) => c.local === 'href')!);
      const parsed: ParsedResponse = { href, path: decodeURIComponent(href), props: {}, status: {}, elements: {} };
      const own = childElements(r).find((c) => c.local === 'status');
      if (own) parsed.responseStatus = statusOf(textContent(own));
      for (const propstat of childElements(r).filter((c) => c.local === 'propstat')) {
        const code = statusOf(textContent(childElements(propstat).find((c) => c.local === 'status')!));
        const prop = childElements(propstat).find((c) => c.local === 'prop');
        for (const el of prop ? childElements(prop) : []) {
          const key = `{${el.ns}}${el.local}`;
          parsed.status[key] = code;
          parsed.elements[key] = el;
          if (code === 200) parsed.props[key] = el.children.some((c) => c.type === 'element') ? serializeNodes(el.children, new Map([['DAV:', 'D']])) : textContent(el);
        }
      }
      return parsed;
    });
}

function statusOf(line: string): number {
  return Number(/HTTP\/\d\.\d (\d{3})/.exec(line)?.[1] ?? NaN);
}

export const D = (local: string) => `{DAV:}${local}`;
