import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphDrive, type GraphDrive } from '../../src/drive/index.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { pull } from '../../src/util/page-puller.js';
import { withEmulator, type EmulatorTokens } from '../graph/emulator-helper.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Issue 16: a listing streamed past the cache (a folder too big to keep) holds one page at a time.
 * Every link from the Graph client to the reader once kept the previous page through the next
 * page's request (util/page-puller.ts), long enough for V8 to promote it: a 100,000-item PROPFIND
 * left ~100 MiB of garbage to full collections. Here the second page's request is held at the
 * dispatcher while the first page, which the reader let go, is looked for.
 */
describe('a listing too big to cache', () => {
  let emulator: RunningEmulator;
  let tokens: EmulatorTokens;
  let driveId: string;
  let drive: GraphDrive;
  let close: () => Promise<void>;
  const agent = new Agent();
  let gate: { arrived: () => void; release: Promise<void> } | undefined;
  const gated: Pick<Dispatcher, 'request'> = {
    async request(options) {
      if (gate && String(options.path).includes('skiptoken')) {
        gate.arrived();
        await gate.release;
      }
      return agent.request(options);
    },
  };

  beforeAll(async () => {
    ({ emulator, tokens, driveId } = await withEmulator());
    await emulator.drive.putEmptyFiles(driveId, 'big', Array.from({ length: 2500 }, (_, i) => `file ${String(i).padStart(5, '0')}.txt`));
    ({ drive, close } = createGraphDrive({
      graphBaseUrl: `${emulator.url}/v1.0`,
      tokens,
      drive: { type: 'me' },
      cache: { ttlSeconds: 60, maxEntries: 100_000, maxBytes: 256 * 1024 },
      client: { dispatcher: gated as Dispatcher },
    }));
  }, 60_000);
  afterAll(async () => {
    await close();
    await agent.close();
    await emulator.close();
  });

  it('holds no page it handed out while the next one is fetched', async () => {
    const { children } = await drive.statWithChildren('/big', { collection: true });
    const pages = pull(children!);
    const first = await pages.next();
    const refs = { page: new WeakRef(first!.value), entry: new WeakRef(first!.value[0]) };
    expect(first!.value).toHaveLength(1000);

    let arrived!: () => void;
    const atGate = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    gate = { arrived, release: new Promise<void>((resolve) => (release = resolve)) };
    const second = pages.next(); // empties `first`; the chain asks Graph for page 2 and waits at the gate
    await atGate;
    await new Promise((resolve) => setTimeout(resolve, 0)); // a later job: WeakRefs let go of their targets
    gc();
    const alive = { page: refs.page.deref() !== undefined, entry: refs.entry.deref() !== undefined };
    release();
    gate = undefined;
    expect((await second)!.value).toHaveLength(1000);
    let rest = 0;
    for (let page = await pages.next(); page; page = await pages.next()) rest += page.value.length;
    expect(rest).toBe(500);
    expect(alive).toEqual({ page: false, entry: false });
  }, 60_000);
});
