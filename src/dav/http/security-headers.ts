import { createHash } from 'node:crypto';

/**
 * Headers that keep what onedav serves from its own origin from acting with that origin's
 * authority. onedav's pages (the folder listing, the sign-in site) and the files it streams in
 * proxy mode share one origin, so a file somebody uploaded could otherwise script those pages:
 * read what they show, post their forms, or ride the session cookie.
 */

/** Every response: a browser must never guess HTML or script out of a file's bytes (https://fetch.spec.whatwg.org/#x-content-type-options-header). */
export const NOSNIFF = 'nosniff';

/**
 * Files streamed through onedav (proxy mode, Range included). `sandbox` without `allow-scripts`,
 * `allow-forms` or `allow-same-origin` gives an HTML or SVG file an opaque origin where no script
 * runs and no form posts (https://www.w3.org/TR/CSP3/#directive-sandbox); images, media and styles
 * of the file itself still load, so a photo, a video or a plain page looks as it should.
 * PDFs are left out: Chromium refuses to show a sandboxed PDF at all, and its viewer runs a PDF's
 * scripts in the viewer's own sandbox, never with the origin's cookies or DOM.
 */
const FILE_POLICY = "sandbox; default-src 'none'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; font-src 'self' data:";

export function fileContentHeaders(contentType: string): Record<string, string> {
  const headers: Record<string, string> = { 'X-Content-Type-Options': NOSNIFF };
  if (!/^application\/pdf\b/i.test(contentType)) headers['Content-Security-Policy'] = FILE_POLICY;
  return headers;
}

/**
 * onedav's own HTML pages: nothing but their one inline stylesheet (allowed by its hash, so no
 * injected style or script can run even if escaping ever failed), links within onedav, no framing.
 * `formAction` is what the page's forms may post to ('none' for a page without forms).
 */
export function pageHeaders(inlineStyle: string, options: { formAction?: string } = {}): Record<string, string> {
  const policy = [
    "default-src 'none'",
    `style-src '${styleHash(inlineStyle)}'`,
    "img-src 'self' data:",
    "base-uri 'none'",
    `form-action ${options.formAction ?? "'none'"}`,
    "frame-ancestors 'none'",
  ].join('; ');
  return { 'Content-Security-Policy': policy, 'X-Content-Type-Options': NOSNIFF, 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'same-origin' };
}

const hashes = new Map<string, string>();

/** The CSP source for one inline `<style>` element's exact text (https://www.w3.org/TR/CSP3/#grammardef-hash-source). */
export function styleHash(style: string): string {
  let hash = hashes.get(style);
  if (!hash) {
    hash = `sha256-${createHash('sha256').update(style, 'utf8').digest('base64')}`;
    hashes.set(style, hash);
  }
  return hash;
}
