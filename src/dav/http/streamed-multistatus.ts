import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { MULTISTATUS_CLOSE, MULTISTATUS_OPEN } from '../protocol/properties.js';
import { sendXml } from './context.js';

/**
 * Beyond this many characters a 207 stops being buffered and is streamed (chunked). Below it (a
 * folder of a few thousand items) the answer is sent whole with a Content-Length, as before
 * streaming existed; above it, at most this much is held before the first byte goes out.
 */
const BUFFER_LIMIT = 2 * 1024 * 1024;

/**
 * Largest piece written to the socket at once, in characters. V8 puts a string over 128 KiB in its
 * large-object space, which only a full collection frees: a 1,000-item page joined into one ~450 KB
 * string, caught alive by a minor collection, stayed resident until the next full one. Pieces this
 * size (64 KiB even as UTF-16) stay in the young generation and die there.
 */
const WRITE_PIECE = 32 * 1024;

/**
 * A 207 Multi-Status written as its responses come. A small one is sent whole with a
 * Content-Length, as ever; once it outgrows BUFFER_LIMIT the head and what is buffered go out and
 * the rest follows in chunks, with backpressure. A failure after that cannot change the status:
 * the caller lets it propagate and the server destroys the response (server.ts), so the client
 * sees a chunked body without its last chunk — an error — never a document that looks complete.
 */
export class StreamedMultistatus {
  private buffered: string[] = [];
  private length = 0;
  private streaming = false;

  constructor(private readonly res: ServerResponse) {}

  async add(responses: readonly string[]): Promise<void> {
    if (this.res.destroyed) throw new Error('The client went away.');
    if (!this.streaming) {
      for (const r of responses) {
        this.buffered.push(r);
        this.length += r.length;
      }
      if (this.length <= BUFFER_LIMIT) return;
      this.streaming = true;
      this.res.writeHead(207, { 'Content-Type': 'application/xml; charset=utf-8' });
      const head = [`<?xml version="1.0" encoding="utf-8"?>\n${MULTISTATUS_OPEN}`, ...this.buffered];
      this.buffered = [];
      return this.writeAll(head);
    }
    await this.writeAll(responses);
  }

  end(): void {
    if (this.streaming) this.res.end(MULTISTATUS_CLOSE);
    else sendXml(this.res, 207, `${MULTISTATUS_OPEN}${this.buffered.join('')}${MULTISTATUS_CLOSE}`);
  }

  /** `parts` in pieces of about WRITE_PIECE characters (a part longer than that goes alone). */
  private async writeAll(parts: readonly string[]): Promise<void> {
    let from = 0;
    while (from < parts.length) {
      let to = from + 1;
      for (let size = parts[from].length; to < parts.length && size + parts[to].length <= WRITE_PIECE; to++) size += parts[to].length;
      await this.write(to === from + 1 ? parts[from] : parts.slice(from, to).join(''));
      from = to;
    }
  }

  private async write(text: string): Promise<void> {
    if (this.res.write(text)) return;
    const settled = new AbortController();
    const { signal } = settled;
    await Promise.race([once(this.res, 'drain', { signal }), once(this.res, 'close', { signal })]).catch(() => {});
    settled.abort();
    if (this.res.destroyed) throw new Error('The client went away.');
  }
}
