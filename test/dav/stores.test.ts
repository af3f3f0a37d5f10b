import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeadPropertyStore, rebase } from '../../src/dav/dead-properties.js';
import { LockStore, parseTimeout } from '../../src/dav/locks.js';
import { ManualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';

const lockOf = (path: string, depth: 0 | 'infinity', scope: 'exclusive' | 'shared' = 'exclusive') => ({
  mount: '/',
  path,
  depth,
  scope,
  principal: 'alice',
  timeoutSeconds: 60,
});

describe('LockStore', () => {
  it('finds locks covering a path (own and infinity ancestors) and within a subtree, case-insensitively', async () => {
    const store = await LockStore.open(undefined, new ManualClock(), silentLogger);
    const deep = await store.create(lockOf('/Docs', 'infinity'));
    const shallow = await store.create(lockOf('/Other', 0));
    const file = await store.create(lockOf('/Other/sub/x.txt', 0));
    expect(store.covering('/', '/docs/a/b.txt')).toEqual([deep]);
    expect(store.covering('/', '/Other/child')).toEqual([]);
    expect(store.covering('/', '/other')).toEqual([shallow]);
    expect(store.within('/', '/Other')).toEqual([shallow, file]);
    expect(store.covering('/team', '/docs/a')).toEqual([]);
  });

  it('detects conflicts: exclusive against anything, shared only against exclusive, infinity looks below', async () => {
    const store = await LockStore.open(undefined, new ManualClock(), silentLogger);
    await store.create(lockOf('/a/b', 0, 'shared'));
    expect(store.conflicts('/', '/a/b', 0, 'shared')).toEqual([]);
    expect(store.conflicts('/', '/a/b', 0, 'exclusive')).toHaveLength(1);
    expect(store.conflicts('/', '/a', 0, 'exclusive')).toHaveLength(0);
    expect(store.conflicts('/', '/a', 'infinity', 'exclusive')).toHaveLength(1);
  });

  it('expires locks by the injected clock and refreshes them', async () => {
    const clock = new ManualClock(1_000_000);
    const store = await LockStore.open(undefined, clock, silentLogger);
    const lock = await store.create(lockOf('/a', 0));
    expect(lock.token).toMatch(/^opaquelocktoken:[0-9a-f-]{36}$/);
    clock.advance(50_000);
    expect(store.secondsLeft(lock)).toBe(10);
    await store.refresh(lock.token, 60);
    clock.advance(50_000);
    expect(store.get(lock.token)).toBeDefined();
    clock.advance(11_000);
    expect(store.get(lock.token)).toBeUndefined();
    expect(store.covering('/', '/a')).toEqual([]);
  });

  it('persists atomically with mode 0600 and loads what is still valid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-locks-'));
    const file = join(dir, 'dav', 'locks.json');
    const clock = new ManualClock(1_000_000);
    const first = await LockStore.open(file, clock, silentLogger);
    const kept = await first.create(lockOf('/keep', 'infinity'));
    const gone = await first.create({ ...lockOf('/gone', 0), timeoutSeconds: 1 });
    await first.flush();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8')).locks).toHaveLength(2);
    clock.advance(5_000);
    const second = await LockStore.open(file, clock, silentLogger);
    expect(second.get(kept.token)).toMatchObject({ path: '/keep', depth: 'infinity', principal: 'alice' });
    expect(second.get(gone.token)).toBeUndefined();
  });

  it('drops the locks of a deleted subtree', async () => {
    const store = await LockStore.open(undefined, new ManualClock(), silentLogger);
    const root = await store.create(lockOf('/a', 0));
    await store.create(lockOf('/a/b', 0));
    await store.removeWithin('/', '/a', { keepRoot: true });
    expect(store.within('/', '/a')).toEqual([root]);
  });

  it.each([
    [undefined, 3600],
    ['Second-600', 600],
    ['Infinite, Second-4100000000', 86400],
    ['Second-99999999', 86400],
    ['garbage, Second-5', 5],
    ['Second-0', 1],
  ])('parses Timeout %s as %i seconds', (header, seconds) => {
    expect(parseTimeout(header)).toBe(seconds);
  });
});

describe('DeadPropertyStore', () => {
  it('moves, copies and removes whole subtrees, and persists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onedav-props-'));
    const file = join(dir, 'properties.json');
    const store = await DeadPropertyStore.open(file, silentLogger);
    await store.replace('/', '/A', { '{x:}p': '<p xmlns="x:">1</p>' });
    await store.replace('/', '/A/child.txt', { '{x:}q': '<q>2</q>' });
    await store.replace('/', '/B/old', { '{x:}r': 'stale' });
    await store.copyTree('/', '/a', '/', '/B');
    expect(store.get('/', '/b')).toEqual({ '{x:}p': '<p xmlns="x:">1</p>' });
    expect(store.get('/', '/B/child.txt')).toEqual({ '{x:}q': '<q>2</q>' });
    expect(store.get('/', '/B/old')).toEqual({});
    await store.copyTree('/', '/A', '/team', '/moved', { move: true });
    expect(store.get('/', '/A/child.txt')).toEqual({});
    expect(store.get('/team', '/moved/child.txt')).toEqual({ '{x:}q': '<q>2</q>' });
    await store.copyTree('/', '/B', '/', '/C', { depth0: true });
    expect(store.get('/', '/C')).toEqual({ '{x:}p': '<p xmlns="x:">1</p>' });
    expect(store.get('/', '/C/child.txt')).toEqual({});
    await store.removeTree('/', '/B');
    expect(store.get('/', '/B/child.txt')).toEqual({});
    await store.flush();
    const again = await DeadPropertyStore.open(file, silentLogger);
    expect(again.get('/team', '/moved')).toEqual({ '{x:}p': '<p xmlns="x:">1</p>' });
    expect(again.get('/', '/c')).toEqual({ '{x:}p': '<p xmlns="x:">1</p>' });
  });

  it('rebases keys between roots', () => {
    expect(rebase('/a/b/c', '/a', '/x')).toBe('/x/b/c');
    expect(rebase('/a', '/a', '/x')).toBe('/x');
    expect(rebase('/b', '/', '/x')).toBe('/x/b');
    expect(rebase('/a/b', '/a', '/')).toBe('/b');
  });
});
