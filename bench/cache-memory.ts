/**
 * Heap bytes per cached item: `node --expose-gc --import tsx bench/cache-memory.ts [--items 20000]`.
 *
 * Lists one folder of `items` empty files through a real GraphDrive from the emulator (its own
 * child process, so its memory is not counted), twice: the first listing warms up everything that is not the cache (the emulator's
 * sorted children, JIT, undici), then the cache is emptied, the heap measured after a full GC, the
 * folder listed again, one child looked up by name (so the listing's name index is built, as a
 * client stat-ing its children builds it), and the heap measured again. Whatever a cached entry
 * holds — every field toEntry keeps, a download URL if listings come to carry one — is counted,
 * because it is measured, not modelled. Also prints the cache's own estimate (its byte bound) per
 * item, which should not be below the measured figure.
 */
import { parseArgs } from 'node:util';
import { createGraphDrive } from '../src/drive/factory.js';
import { EmulatorProcess } from './lib/emulator-process.js';

export interface CacheMemory {
  items: number;
  measuredBytesPerItem: number;
  grownBytesPerItem: number;
  estimatedBytesPerItem: number;
}

/** Needs `--expose-gc`. */
export async function measureCacheMemory(count: number): Promise<CacheMemory> {
  if (!(globalThis as { gc?: () => void }).gc) throw new Error('run with --expose-gc: node --expose-gc --import tsx bench/cache-memory.ts');
  const emulator = await EmulatorProcess.start();
  const token = await emulator.accessToken();
  const graph = createGraphDrive({
    graphBaseUrl: `${emulator.info.url}/v1.0`,
    tokens: { getAccessToken: async () => token, refreshAfterRejection: async () => token },
    drive: { type: 'me' },
    cache: { ttlSeconds: 3600, maxBytes: 1024 * 1024 * 1024 },
  });
  try {
    const names = Array.from({ length: count }, (_, i) => `document ${String(i).padStart(6, '0')}.txt`);
    await emulator.putEmptyFiles('big', names);
    const { drive } = graph;
    await drive.list('/big');
    drive.cache.invalidateAll();
    const before = settledHeap();
    const listed = (await drive.list('/big')).length;
    if (listed !== count) throw new Error(`listed ${listed} of ${count}`);
    await drive.stat(`/big/${names[count - 1]}`);
    const after = settledHeap();
    const estimated = drive.cacheStats().bytes;
    drive.cache.invalidateAll();
    const released = settledHeap();
    return {
      items: count,
      // What emptying the cache gave back: the listing with everything it holds (entries, index, id map).
      measuredBytesPerItem: Math.round((after - released) / count),
      grownBytesPerItem: Math.round((after - before) / count),
      estimatedBytesPerItem: Math.round(estimated / count),
    };
  } finally {
    await graph.close();
    await emulator.stop();
  }
}

function settledHeap(): number {
  for (let i = 0; i < 4; i++) (globalThis as { gc?: () => void }).gc!();
  return process.memoryUsage().heapUsed;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { items: { type: 'string', default: '20000' } } });
  process.stdout.write(`${JSON.stringify(await measureCacheMemory(Number(values.items)))}\n`);
}
