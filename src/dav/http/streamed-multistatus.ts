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
      const head = `<?xml version="1.0" encoding="utf-8"?>\n${MULTISTATUS_OPEN}${this.buffered.join('')}`;
      this.buffered = [];
      return this.write(head);
    }
    if (responses.length > 0) await this.write(responses.join(''));
  }

  end(): void {
    if (this.streaming) this.res.end(MULTISTATUS_CLOSE);
    else sendXml(this.res, 207, `${MULTISTATUS_OPEN}${this.buffered.join('')}${MULTISTATUS_CLOSE}`);
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
