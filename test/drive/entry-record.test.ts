import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { toEntry } from '../../src/drive/graph-drive.js';
import type { DriveItem } from '../../src/graph/items.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;

function item(i: number): DriveItem {
  return {
    id: `01NB3JJEN${String(i).padStart(25, '0')}`,
    name: `document ${String(i).padStart(6, '0')}.txt`,
    size: i,
    eTag: `"{5E543E3E-55E8-464A-A591-${String(i).padStart(12, '0')}},1"`,
    cTag: `"c:{5E543E3E-55E8-464A-A591-${String(i).padStart(12, '0')}},1"`,
    fileSystemInfo: { createdDateTime: '2026-12-02T08:01:03Z', lastModifiedDateTime: '2026-12-02T08:01:03Z' },
    file: { mimeType: 'text/plain', hashes: { quickXorHash: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } },
  };
}

/**
 * Issue 16: entries are born young even after cached listings have kept many. V8 pretenures an
 * object-literal site whose objects survive (allocation-site pretenuring); when toEntry built a
 * literal, a 100,000-item listing streamed past the cache after that was allocated straight in the
 * old generation — garbage that only a full GC frees, the bulk of a big PROPFIND's RSS growth.
 */
describe('toEntry', () => {
  it('makes entries that die young when nothing keeps them, after many were kept', () => {
    const kept: unknown[] = [];
    for (let i = 0; i < 200_000; i++) kept.push(toEntry(item(i), `/big/document ${i}.txt`));
    gc();
    const before = oldSpace();
    let listed = 0;
    for (let page = 0; page < 200; page++) {
      const entries = Array.from({ length: 1000 }, (_, i) => toEntry(item(i), `/streamed/document ${i}.txt`));
      listed += entries.length;
    }
    const grown = oldSpace() - before;
    expect(listed).toBe(200_000);
    expect(kept).toHaveLength(200_000);
    // Born old, 200,000 entries take ~60 MiB of old space; born young they take none.
    expect(grown).toBeLessThan(8 * MiB);
  });
});
