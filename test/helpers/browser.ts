import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven over the DevTools protocol on a pipe
 * (`--remote-debugging-pipe`: JSON messages separated by NUL on file descriptors 3 and 4), so a
 * test can type into forms and press buttons as a person does, with no WebSocket library and no
 * downloaded browser. Every wait is bounded.
 */
/** How headless Chromium runs here: as root, offline (without the networking flags it keeps dialling Google's hosts). */
export const HEADLESS_CHROMIUM = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const FLAGS = [...HEADLESS_CHROMIUM, '--remote-debugging-pipe'];

type Message = { id?: number; method?: string; params?: any; result?: any; error?: { message: string }; sessionId?: string };

export class Browser {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(m: Message) => void>();
  private buffer = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const out = child.stdio[4] as Readable;
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nul = this.buffer.indexOf('\0');
      while (nul >= 0) {
        const message = JSON.parse(this.buffer.slice(0, nul)) as Message;
        this.buffer = this.buffer.slice(nul + 1);
        this.dispatch(message);
        nul = this.buffer.indexOf('\0');
      }
    });
  }

  static async launch(): Promise<Browser> {
    const profile = await mkdtemp(join(tmpdir(), 'onedav-cdp-'));
    const child = spawn('chromium', [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    const browser = new Browser(child, profile);
    await browser.send('Browser.getVersion');
    return browser;
  }

  private dispatch(message: Message): void {
    if (message.id !== undefined) {
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.error) waiter?.reject(new Error(message.error.message));
      else waiter?.resolve(message.result);
      return;
    }
    for (const listener of this.listeners) listener(message);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = 30_000): Promise<any> {
    const id = this.nextId++;
    const input = this.child.stdio[3] as Writable;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${method}: no answer from Chromium in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      input.write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
    });
  }

  /** Resolves at the first event `method` of `sessionId` (bounded). */
  waitFor(method: string, sessionId: string, timeoutMs = 30_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const listener = (m: Message) => {
        if (m.method === method && m.sessionId === sessionId) {
          this.listeners.delete(listener);
          clearTimeout(timer);
          resolve(m.params);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  /** A new tab; `isolated`: in a browser context of its own (its own cookies, as another person's browser). */
  async newPage(viewport: { width: number; height: number; mobile?: boolean } = { width: 1200, height: 800 }, isolated = false): Promise<Page> {
    const context = isolated ? (await this.send('Target.createBrowserContext')).browserContextId : undefined;
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank', ...(context ? { browserContextId: context } : {}) });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    await this.send('Page.enable', {}, sessionId);
    await this.send('Runtime.enable', {}, sessionId);
    await this.send('Network.enable', {}, sessionId);
    const page = new Page(this, sessionId);
    await page.setViewport(viewport);
    return page;
  }

  async close(): Promise<void> {
    await this.send('Browser.close', {}, undefined, 5_000).catch(() => {});
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.profile, { recursive: true, force: true });
  }
}

export class Page {
  constructor(
    private readonly browser: Browser,
    readonly sessionId: string,
  ) {}

  async setViewport(v: { width: number; height: number; mobile?: boolean }): Promise<void> {
    await this.browser.send('Emulation.setDeviceMetricsOverride', { width: v.width, height: v.height, deviceScaleFactor: v.mobile ? 2 : 1, mobile: !!v.mobile }, this.sessionId);
  }

  /** Loads `url` and waits for the page (after any redirects) to finish loading. */
  async goto(url: string): Promise<void> {
    const loaded = this.browser.waitFor('Page.loadEventFired', this.sessionId);
    await this.browser.send('Page.navigate', { url }, this.sessionId);
    await loaded;
  }

  async evaluate<T = unknown>(expression: string): Promise<T> {
    const answer = await this.browser.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, this.sessionId);
    if (answer.exceptionDetails) throw new Error(`page script failed: ${answer.exceptionDetails.exception?.description ?? answer.exceptionDetails.text}`);
    return answer.result.value as T;
  }

  url(): Promise<string> {
    return this.evaluate<string>('location.href');
  }

  text(selector = 'body'): Promise<string> {
    return this.evaluate<string>(`document.querySelector(${JSON.stringify(selector)})?.innerText ?? ''`);
  }

  /** Types into a field as a person would (value set, input event), without submitting. */
  async fill(selector: string, value: string): Promise<void> {
    const ok = await this.evaluate<boolean>(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return false; e.focus(); e.value = ${JSON.stringify(value)}; e.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`);
    if (!ok) throw new Error(`no ${selector} on ${await this.url()}`);
  }

  /** Clicks an element that navigates (a link, a submit button) and waits for the next page. */
  async clickAndWait(selector: string): Promise<void> {
    const loaded = this.browser.waitFor('Page.loadEventFired', this.sessionId);
    const ok = await this.evaluate<boolean>(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return false; e.click(); return true; })()`);
    if (!ok) throw new Error(`no ${selector} on ${await this.url()}`);
    await loaded;
  }

  async screenshot(file: string): Promise<void> {
    const { data } = await this.browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, this.sessionId);
    await writeFile(file, Buffer.from(data, 'base64'));
  }

  async cookies(): Promise<Array<{ name: string; value: string; httpOnly: boolean; sameSite?: string; path: string; secure: boolean }>> {
    return (await this.browser.send('Network.getCookies', {}, this.sessionId)).cookies;
  }
}
