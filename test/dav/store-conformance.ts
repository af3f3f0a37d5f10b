import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LockRequest, LockSystem, ResourceRef } from '../../src/dav/stores/lock-system.js';
import type { PropertyLimits, PropertyStore } from '../../src/dav/stores/property-store.js';
import { ManualClock, type Clock } from '../../src/util/clock.js';

/**
 * One behavioural suite for every LockSystem / PropertyStore implementation (as golang.org/x/net/webdav
 * runs one suite over its lock systems, and rclone one over every backend). A backend joins with one
 * line: `describeStoreConformance(backend)`.
 */
export interface StoreBackend {
  name: string;
  /** A fresh, empty place for stores (a temp folder, a Redis key prefix). */
  space(): Promise<StoreSpace>;
  /** Whether stores opened again on a space, after the first ones closed, see what those wrote (a restart). */
  persistent: boolean;
  /** Whether two stores open on one space at the same time see each other's changes (replicas). */
  shared: boolean;
}

export interface StoreSpace {
  openLocks(clock: Clock): Promise<LockSystem>;
  openProperties(limits?: Partial<PropertyLimits>): Promise<PropertyStore>;
  /** Removes the space (after its stores are closed). */
  remove(): Promise<void>;
}

const T0 = 1_800_000_000_000;
const request = (path: string, depth: 0 | 'infinity', scope: 'exclusive' | 'shared' = 'exclusive', extra: Partial<LockRequest> = {}): LockRequest => ({
  mount: '/',
  path,
  key: path,
  depth,
  scope,
  principal: 'alice',
  timeoutSeconds: 60,
  ...extra,
});
/** A resource whose key is its path (a case-sensitive drive) unless `key` says otherwise. */
const at = (path: string, mount = '/', key = path) => ({ mount, path, key });
/** The item `id` at `path`, with the ids of its ancestors (`path → id`) when given. */
const item = (path: string, id: string, ancestors?: Record<string, string>): ResourceRef => ({
  ...at(path),
  id,
  ...(ancestors ? { ancestors: async () => Object.entries(ancestors).map(([p, i]) => ({ ...at(p), id: i })) } : {}),
});
const ns = (local: string) => `{urn:x:}${local}`;
const el = (local: string, value: string) => `<${local} xmlns="urn:x:">${value}</${local}>`;

export function describeStoreConformance(backend: StoreBackend): void {
  describe(`store conformance: ${backend.name}`, () => {
    let space: StoreSpace;
    const open: Array<{ close(): Promise<void> }> = [];
    let clock = new ManualClock(T0);
    const locksOn = async (s = space) => track(await s.openLocks(clock));
    const propsOn = async (limits?: Partial<PropertyLimits>, s = space) => track(await s.openProperties(limits));
    function track<S extends { close(): Promise<void> }>(store: S): S {
      open.push(store);
      return store;
    }
    async function closeAll(): Promise<void> {
      await Promise.all(open.splice(0).map((s) => s.close()));
    }

    beforeEach(async () => {
      clock = new ManualClock(T0);
      space = await backend.space();
    });
    afterEach(async () => {
      await closeAll();
      await space.remove();
    });

    describe('LockSystem', () => {
      it('creates a lock with an opaquelocktoken and finds it by token, covering and within', async () => {
        const locks = await locksOn();
        const deep = await locks.create(request('/docs', 'infinity', 'exclusive', { owner: '<D:href>me</D:href>' }));
        if (!deep.ok) throw new Error('expected the lock');
        expect(deep.lock.token).toMatch(/^opaquelocktoken:[0-9a-f-]{36}$/);
        expect(deep.lock.expiresAt).toBe(clock.now() + 60_000);
        expect(await locks.get(deep.lock.token)).toEqual(deep.lock);
        const file = await locks.create(request('/other/sub/x.txt', 0));
        if (!file.ok) throw new Error('expected the lock');
        expect((await locks.covering(at('/docs/a/b.txt'))).map((l) => l.token)).toEqual([deep.lock.token]);
        expect(await locks.covering(at('/other'))).toEqual([]);
        expect((await locks.within(at('/other'))).map((l) => l.token)).toEqual([file.lock.token]);
        expect(await locks.covering(at('/docs', '/team'))).toEqual([]);
      });

      it('an exclusive lock conflicts with any lock in its scope, a shared one only with exclusive locks', async () => {
        const locks = await locksOn();
        expect((await locks.create(request('/a/b', 0, 'shared'))).ok).toBe(true);
        expect((await locks.create(request('/a/b', 0, 'shared', { principal: 'bob' }))).ok).toBe(true);
        const refused = await locks.create(request('/a/b', 0, 'exclusive'));
        expect(refused.ok).toBe(false);
        if (!refused.ok) expect(refused.conflicts.map((l) => l.path).sort()).toEqual(['/a/b', '/a/b']);
        expect((await locks.create(request('/x', 0))).ok).toBe(true);
        expect((await locks.create(request('/x', 0, 'shared'))).ok).toBe(false);
        expect((await locks.create(request('/x', 0, 'exclusive', { mount: '/team' }))).ok).toBe(true);
      });

      it('compares resources by key, not by path: one resource where the drive folds case, two where it does not', async () => {
        const locks = await locksOn();
        expect((await locks.create(request('/a.txt', 0))).ok).toBe(true);
        // A case-sensitive drive: /A.txt is another resource.
        expect((await locks.create(request('/A.txt', 0))).ok).toBe(true);
        // A case-insensitive drive keys both /Doc.txt and /doc.txt as /doc.txt.
        expect((await locks.create(request('/Doc.txt', 0, 'exclusive', { key: '/doc.txt' }))).ok).toBe(true);
        expect((await locks.create(request('/doc.txt', 0, 'exclusive', { key: '/doc.txt' }))).ok).toBe(false);
        expect((await locks.covering(at('/DOC.TXT', '/', '/doc.txt'))).map((l) => l.path)).toEqual(['/Doc.txt']);
        const props = await propsOn();
        await props.patch(at('/P.txt'), [{ name: ns('p'), value: el('p', '1') }], { user: 'alice' });
        expect((await props.get(at('/p.txt'))).properties).toEqual({});
        await props.patch(at('/Q.txt', '/', '/q.txt'), [{ name: ns('q'), value: el('q', '1') }], { user: 'alice' });
        expect((await props.get(at('/q.TXT', '/', '/q.txt'))).properties).toEqual({ [ns('q')]: el('q', '1') });
      });

      it('Depth infinity reaches members: an infinity lock blocks locks below it and is blocked by them', async () => {
        const locks = await locksOn();
        expect((await locks.create(request('/tree/deep/file.txt', 0))).ok).toBe(true);
        expect((await locks.conflicts(request('/tree', 0))).length).toBe(0);
        expect((await locks.create(request('/tree', 'infinity'))).ok).toBe(false);
        expect((await locks.create(request('/tree', 0))).ok).toBe(true);
        expect((await locks.create(request('/top', 'infinity'))).ok).toBe(true);
        const below = await locks.create(request('/top/a/b.txt', 0));
        expect(below.ok).toBe(false);
        if (!below.ok) expect(below.conflicts.map((l) => l.path)).toEqual(['/top']);
        expect((await locks.create(request('/topmost', 0))).ok).toBe(true);
      });

      it('compares paths beyond ASCII as it does ASCII ones', async () => {
        const locks = await locksOn();
        const deep = await locks.create(request('/Fotos Ärger/Ωmega', 'infinity'));
        if (!deep.ok) throw new Error('expected the lock');
        const refused = await locks.create(request('/Fotos Ärger/Ωmega/日本語.txt', 0));
        expect(refused.ok).toBe(false);
        expect((await locks.covering(at('/Fotos Ärger/Ωmega/日本語.txt'))).map((l) => l.token)).toEqual([deep.lock.token]);
        expect((await locks.create(request('/Fotos Ärger/Ωmegax', 0))).ok).toBe(true);
        const props = await propsOn();
        await props.patch(at('/Fotos Ärger/Ωmega/😀.txt'), [{ name: ns('ü'), value: el('ü', 'grün ✓') }], { user: 'alice' });
        await props.move(at('/Fotos Ärger'), at('/Bilder Ö'));
        expect((await props.get(at('/Bilder Ö/Ωmega/😀.txt'))).properties).toEqual({ [ns('ü')]: el('ü', 'grün ✓') });
        expect(await props.usageOf('alice')).toEqual({ count: 1, bytes: Buffer.byteLength(ns('ü')) + Buffer.byteLength(el('ü', 'grün ✓')) });
      });

      it('refreshes only the holder’s lock, by token', async () => {
        const locks = await locksOn();
        const created = await locks.create(request('/r', 0));
        if (!created.ok) throw new Error('expected the lock');
        clock.advance(50_000);
        expect(await locks.refresh(created.lock.token, 'bob', 600)).toBeUndefined();
        expect(await locks.refresh('opaquelocktoken:00000000-0000-0000-0000-000000000000', 'alice', 600)).toBeUndefined();
        const refreshed = await locks.refresh(created.lock.token, 'alice', 600);
        expect(refreshed).toMatchObject({ token: created.lock.token, timeoutSeconds: 600, expiresAt: clock.now() + 600_000 });
        clock.advance(500_000);
        expect(await locks.get(created.lock.token)).toBeDefined();
      });

      it('unlocks by the right token and holder only; a wrong token or another user leaves the lock in place', async () => {
        const locks = await locksOn();
        const created = await locks.create(request('/u', 'infinity'));
        if (!created.ok) throw new Error('expected the lock');
        expect(await locks.unlock('opaquelocktoken:00000000-0000-0000-0000-000000000000', 'alice')).toBe('no-such-lock');
        expect(await locks.unlock(created.lock.token, 'bob')).toBe('forbidden');
        expect(await locks.get(created.lock.token)).toBeDefined();
        expect((await locks.create(request('/u/x', 0, 'exclusive', { principal: 'bob' }))).ok).toBe(false);
        expect(await locks.unlock(created.lock.token, 'alice')).toBe('unlocked');
        expect(await locks.get(created.lock.token)).toBeUndefined();
        expect(await locks.unlock(created.lock.token, 'alice')).toBe('no-such-lock');
        expect((await locks.create(request('/u/x', 0, 'exclusive', { principal: 'bob' }))).ok).toBe(true);
      });

      it('honours expiry by its clock: an expired lock is not found, not refreshed, not in the way', async () => {
        const locks = await locksOn();
        const created = await locks.create(request('/e', 'infinity', 'exclusive', { timeoutSeconds: 10 }));
        if (!created.ok) throw new Error('expected the lock');
        clock.advance(9_999);
        expect(await locks.get(created.lock.token)).toBeDefined();
        expect((await locks.create(request('/e/x', 0))).ok).toBe(false);
        clock.advance(1);
        expect(await locks.get(created.lock.token)).toBeUndefined();
        expect(await locks.covering(at('/e/x'))).toEqual([]);
        expect(await locks.within(at('/'))).toEqual([]);
        expect(await locks.refresh(created.lock.token, 'alice', 60)).toBeUndefined();
        expect(await locks.unlock(created.lock.token, 'alice')).toBe('no-such-lock');
        expect((await locks.create(request('/e/x', 0))).ok).toBe(true);
      });

      it('drops the locks of a subtree, keeping its root when asked', async () => {
        const locks = await locksOn();
        const root = await locks.create(request('/d', 0));
        await locks.create(request('/d/a', 0));
        await locks.create(request('/d/a/b', 0));
        const outside = await locks.create(request('/dd', 0));
        if (!root.ok || !outside.ok) throw new Error('expected the locks');
        await locks.removeWithin(at('/d'), { keepRoot: true });
        expect((await locks.within(at('/d'))).map((l) => l.token)).toEqual([root.lock.token]);
        await locks.removeWithin(at('/d'));
        expect(await locks.within(at('/d'))).toEqual([]);
        expect(await locks.get(outside.lock.token)).toBeDefined();
      });

      it('of creates racing for one tree, exactly one wins', async () => {
        const first = await locksOn();
        const second = backend.shared ? await locksOn() : first;
        // Every two of these conflict: one path, exclusive against anything.
        const onePath = [request('/race', 'infinity'), request('/race', 0), request('/race', 0, 'exclusive', { principal: 'bob' }), request('/race', 'infinity', 'shared'), request('/race', 0, 'exclusive'), request('/race', 'infinity', 'exclusive', { principal: 'bob' })];
        const outcomes = await Promise.all(onePath.map((r, i) => (i % 2 === 0 ? first : second).create(r)));
        expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
        // A Depth infinity lock and a lock on a member, taken at once.
        const overTree = await Promise.all([first.create(request('/tree/x/y.txt', 0)), second.create(request('/tree', 'infinity', 'exclusive', { principal: 'bob' }))]);
        expect(overTree.filter((o) => o.ok)).toHaveLength(1);
        expect(await first.within(at('/race'))).toHaveLength(1);
      });

      it('hands out snapshots: changing a returned lock changes nothing in the store', async () => {
        const locks = await locksOn();
        const created = await locks.create(request('/s', 0));
        if (!created.ok) throw new Error('expected the lock');
        created.lock.expiresAt = 0;
        created.lock.principal = 'mallory';
        expect(await locks.get(created.lock.token)).toMatchObject({ principal: 'alice', expiresAt: T0 + 60_000 });
      });

      it('a lock tied to an item id follows the item to any path, and a new item at its old path is not locked', async () => {
        const locks = await locksOn();
        const taken = await locks.create(request('/a.txt', 0, 'exclusive', { id: 'A' }));
        if (!taken.ok) throw new Error('expected the lock');
        // Renamed by another client: the item A is at /b.txt now.
        expect((await locks.covering(item('/b.txt', 'A'))).map((l) => [l.token, l.path])).toEqual([[taken.lock.token, '/b.txt']]);
        expect((await locks.within(item('/b.txt', 'A'))).map((l) => l.token)).toEqual([taken.lock.token]);
        expect((await locks.conflicts(request('/b.txt', 0, 'exclusive', { id: 'A' }))).map((l) => l.token)).toEqual([taken.lock.token]);
        // A new item (another id) at the old path: not locked, and may be locked by anyone.
        expect(await locks.covering(item('/a.txt', 'N'))).toEqual([]);
        expect(await locks.within(item('/a.txt', 'N'))).toEqual([]);
        expect((await locks.create(request('/a.txt', 0, 'exclusive', { id: 'N', principal: 'bob' }))).ok).toBe(true);
        await locks.removeWithin(item('/a.txt', 'N'));
        expect(await locks.get(taken.lock.token)).toBeDefined();
        await locks.removeWithin(item('/b.txt', 'A'));
        expect(await locks.get(taken.lock.token)).toBeUndefined();
      });

      it('a Depth-infinity lock tied to a folder id covers its members wherever the folder is now, by their ancestors’ ids', async () => {
        const locks = await locksOn();
        const deep = await locks.create(request('/dir', 'infinity', 'exclusive', { id: 'D' }));
        if (!deep.ok) throw new Error('expected the lock');
        const renamed = { '/': 'R', '/renamed': 'D' };
        expect((await locks.covering(item('/renamed/x.txt', 'X', renamed))).map((l) => [l.token, l.path])).toEqual([[deep.lock.token, '/renamed']]);
        expect((await locks.create(request('/renamed/y.txt', 0, 'exclusive', { principal: 'bob', ancestors: async () => [{ ...at('/'), id: 'R' }, { ...at('/renamed'), id: 'D' }] }))).ok).toBe(false);
        // A new folder (another id) where the locked one was: its members are not covered.
        expect(await locks.covering(item('/dir/x.txt', 'Y', { '/': 'R', '/dir': 'E' }))).toEqual([]);
        expect((await locks.create(request('/dir/z.txt', 0, 'exclusive', { id: 'Z', principal: 'bob', ancestors: async () => [{ ...at('/'), id: 'R' }, { ...at('/dir'), id: 'E' }] }))).ok).toBe(true);
      });

      it('keeps the locks of an overwritten destination on the item now there', async () => {
        const locks = await locksOn();
        const root = await locks.create(request('/d', 0, 'exclusive', { id: 'OLD' }));
        await locks.create(request('/d/a', 0, 'exclusive', { id: 'A' }));
        if (!root.ok) throw new Error('expected the lock');
        await locks.removeWithin(item('/d', 'OLD'), { keepRoot: true, rootIdNow: 'NEW' });
        expect((await locks.covering(item('/d', 'NEW'))).map((l) => l.token)).toEqual([root.lock.token]);
        expect(await locks.covering(item('/d', 'OLD'))).toEqual([]);
        expect(await locks.covering(item('/d/a', 'A'))).toEqual([]);
      });

      it('ties a lock taken without an id (before ids were kept) to the item first seen at its path, which it then follows', async () => {
        const locks = await locksOn();
        const old = await locks.create(request('/legacy.txt', 0));
        if (!old.ok) throw new Error('expected the lock');
        expect((await locks.covering(item('/legacy.txt', 'L'))).map((l) => l.token)).toEqual([old.lock.token]);
        expect((await locks.covering(item('/renamed.txt', 'L'))).map((l) => l.token)).toEqual([old.lock.token]);
        expect(await locks.covering(item('/legacy.txt', 'N'))).toEqual([]);
      });

      it.runIf(backend.persistent)('keeps its locks across a reopen, without the ones that expired meanwhile', async () => {
        const before = await locksOn();
        const kept = await before.create(request('/keep', 'infinity', 'shared', { owner: '<D:href>x</D:href>' }));
        const gone = await before.create(request('/gone', 0, 'exclusive', { timeoutSeconds: 1 }));
        if (!kept.ok || !gone.ok) throw new Error('expected the locks');
        await closeAll();
        clock.advance(5_000);
        const after = await locksOn();
        expect(await after.get(kept.lock.token)).toEqual(kept.lock);
        expect(await after.get(gone.lock.token)).toBeUndefined();
        expect((await after.create(request('/keep/a', 0))).ok).toBe(false);
      });
    });

    describe('PropertyStore', () => {
      it('applies changes in order, all at once, with a version that follows the content', async () => {
        const props = await propsOn();
        const empty = await props.get(at('/p'));
        expect(empty.properties).toEqual({});
        const set = await props.patch(at('/p'), [{ name: ns('a'), value: el('a', '1') }, { name: ns('b'), value: el('b', '2') }, { name: ns('a') }, { name: ns('c'), value: el('c', '3') }], { user: 'alice' });
        expect(set).toMatchObject({ ok: true, before: {} });
        const now = await props.get(at('/p'));
        expect(now.properties).toEqual({ [ns('b')]: el('b', '2'), [ns('c')]: el('c', '3') });
        expect(set.ok && set.version).toBe(now.version);
        expect(now.version).not.toBe(empty.version);
        expect(await props.usageOf('alice')).toEqual({ count: 2, bytes: 2 * (ns('b').length + el('b', '2').length) });
      });

      it('reads many resources at once, in order, by key and mount, as get reads each', async () => {
        const props = await propsOn();
        await props.patch(at('/d/one'), [{ name: ns('a'), value: el('a', '1') }], { user: 'alice' });
        await props.patch(at('/d/three', '/team'), [{ name: ns('b'), value: el('b', '3') }], { user: 'alice' });
        const wanted = [at('/d/one'), at('/d/two'), at('/d/three', '/team'), at('/d/three'), at('/D/ONE', '/', '/d/one')];
        const many = await props.getMany(wanted);
        expect(many).toEqual([{ [ns('a')]: el('a', '1') }, {}, { [ns('b')]: el('b', '3') }, {}, { [ns('a')]: el('a', '1') }]);
        for (const [i, resource] of wanted.entries()) expect(many[i]).toEqual((await props.get(resource)).properties);
        expect(await props.getMany([])).toEqual([]);
      });

      it('with an expected version, applies only when the properties are still at it', async () => {
        const props = await propsOn();
        await props.patch(at('/v'), [{ name: ns('a'), value: el('a', '1') }], { user: 'alice' });
        const { version } = await props.get(at('/v'));
        await props.patch(at('/v'), [{ name: ns('a'), value: el('a', '2') }], { user: 'bob' });
        const stale = await props.patch(at('/v'), [{ name: ns('a') }], { user: 'alice', expectedVersion: version });
        expect(stale).toMatchObject({ ok: false, reason: 'changed' });
        expect((await props.get(at('/v'))).properties).toEqual({ [ns('a')]: el('a', '2') });
        const current = (await props.get(at('/v'))).version;
        expect((await props.patch(at('/v'), [{ name: ns('a') }], { user: 'alice', expectedVersion: current })).ok).toBe(true);
        expect((await props.get(at('/v'))).properties).toEqual({});
      });

      it('refuses a patch past a resource limit whole, and always allows shrinking', async () => {
        const props = await propsOn({ maxPerResource: 3, maxBytesPerResource: 200 });
        await props.patch(at('/r'), ['a', 'b', 'c'].map((n) => ({ name: ns(n), value: el(n, n) })), { user: 'alice' });
        const refused = await props.patch(at('/r'), [{ name: ns('a') }, { name: ns('d'), value: el('d', 'd') }, { name: ns('e'), value: el('e', 'e') }], { user: 'alice' });
        expect(refused).toMatchObject({ ok: false, reason: 'limit' });
        if (!refused.ok && refused.reason === 'limit') expect(refused.message).toContain('at most 3 dead properties');
        expect(Object.keys((await props.get(at('/r'))).properties).sort()).toEqual([ns('a'), ns('b'), ns('c')]);
        expect((await props.patch(at('/r'), [{ name: ns('a') }, { name: ns('d'), value: el('d', 'd') }], { user: 'alice' })).ok).toBe(true);
        const big = await props.patch(at('/big'), [{ name: ns('huge'), value: el('huge', 'x'.repeat(300)) }], { user: 'alice' });
        expect(big).toMatchObject({ ok: false, reason: 'limit' });
        expect((await props.get(at('/big'))).properties).toEqual({});
        expect((await props.patch(at('/r'), [{ name: ns('b') }, { name: ns('c') }, { name: ns('d') }], { user: 'alice' })).ok).toBe(true);
      });

      it('counts a user’s properties over all resources; another user has a budget of their own', async () => {
        const props = await propsOn({ maxPerUser: 3 });
        await props.patch(at('/u1'), [{ name: ns('a'), value: 'x' }, { name: ns('b'), value: 'x' }], { user: 'alice' });
        expect(await props.patch(at('/u2'), [{ name: ns('c'), value: 'x' }, { name: ns('d'), value: 'x' }], { user: 'alice' })).toMatchObject({ ok: false, reason: 'limit' });
        expect((await props.patch(at('/u2'), [{ name: ns('c'), value: 'x' }], { user: 'alice' })).ok).toBe(true);
        expect((await props.patch(at('/u3'), [{ name: ns('a'), value: 'x' }, { name: ns('b'), value: 'x' }, { name: ns('c'), value: 'x' }], { user: 'bob' })).ok).toBe(true);
        expect(await props.usageOf('alice')).toMatchObject({ count: 3 });
        expect(await props.usageOf('bob')).toMatchObject({ count: 3 });
        // Bob rewriting alice's resource takes its properties onto his budget, which is full.
        expect(await props.patch(at('/u1'), [{ name: ns('z'), value: 'x' }], { user: 'bob' })).toMatchObject({ ok: false, reason: 'limit' });
        await props.removeTree(at('/u1'));
        expect(await props.usageOf('alice')).toMatchObject({ count: 1 });
      });

      it('of patches racing for the last room in a budget, exactly as many win as fit', async () => {
        const first = await propsOn({ maxPerUser: 5 });
        const second = backend.shared ? await propsOn({ maxPerUser: 5 }) : first;
        const outcomes = await Promise.all(
          Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? first : second).patch(at(`/race/${i}`), [{ name: ns('p'), value: 'x' }], { user: 'alice' })),
        );
        expect(outcomes.filter((o) => o.ok)).toHaveLength(5);
        expect(await first.usageOf('alice')).toMatchObject({ count: 5 });
      });

      it('of patches racing from one version, exactly one wins', async () => {
        const first = await propsOn();
        const second = backend.shared ? await propsOn() : first;
        const { version } = await first.get(at('/cas'));
        const outcomes = await Promise.all(
          Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? first : second).patch(at('/cas'), [{ name: ns('w'), value: String(i) }], { user: 'alice', expectedVersion: version })),
        );
        expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
      });

      it('copies, moves and removes the properties of whole subtrees', async () => {
        const props = await propsOn();
        await props.patch(at('/A'), [{ name: ns('p'), value: el('p', '1') }], { user: 'alice' });
        await props.patch(at('/A/child.txt'), [{ name: ns('q'), value: el('q', '2') }], { user: 'alice' });
        await props.patch(at('/B/old'), [{ name: ns('r'), value: 'stale' }], { user: 'alice' });
        expect(await props.copy(at('/A'), at('/B'), { user: 'bob' })).toEqual({ ok: true });
        expect((await props.get(at('/B'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        expect((await props.get(at('/B/child.txt'))).properties).toEqual({ [ns('q')]: el('q', '2') });
        expect((await props.get(at('/B/old'))).properties).toEqual({});
        expect(await props.usageOf('bob')).toMatchObject({ count: 2 });
        await props.move(at('/A'), at('/moved', '/team'));
        expect((await props.get(at('/A/child.txt'))).properties).toEqual({});
        expect((await props.get(at('/moved/child.txt', '/team'))).properties).toEqual({ [ns('q')]: el('q', '2') });
        expect(await props.usageOf('alice')).toMatchObject({ count: 2 });
        expect(await props.copy(at('/B'), at('/C'), { user: 'bob', depth0: true })).toEqual({ ok: true });
        expect((await props.get(at('/C'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        expect((await props.get(at('/C/child.txt'))).properties).toEqual({});
        await props.removeTree(at('/B'));
        expect((await props.get(at('/B/child.txt'))).properties).toEqual({});
        expect(await props.usageOf('bob')).toMatchObject({ count: 1 });
      });

      it('refuses a copy past the user’s budget and copies nothing', async () => {
        const props = await propsOn({ maxPerUser: 3 });
        await props.patch(at('/src'), [{ name: ns('a'), value: 'x' }, { name: ns('b'), value: 'x' }], { user: 'alice' });
        expect(await props.copyProblem(at('/src'), at('/dst'), { user: 'alice' })).toContain('at most 3 dead properties');
        expect(await props.copy(at('/src'), at('/dst'), { user: 'alice' })).toMatchObject({ ok: false, reason: 'limit' });
        expect((await props.get(at('/dst'))).properties).toEqual({});
        expect(await props.copyProblem(at('/src'), at('/dst'), { user: 'bob' })).toBeUndefined();
      });

      it('properties tied to an item id follow it to any path; a new item at its old path has none', async () => {
        const props = await propsOn();
        await props.patch(item('/a.txt', 'A'), [{ name: ns('p'), value: el('p', '1') }], { user: 'alice' });
        expect((await props.get(item('/b.txt', 'A'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        expect((await props.get(item('/a.txt', 'N'))).properties).toEqual({});
        expect(await props.getMany([item('/a.txt', 'N'), item('/b.txt', 'A')])).toEqual([{}, { [ns('p')]: el('p', '1') }]);
        // Writing the new item's own leaves the renamed one's alone; removing the new one's too.
        await props.patch(item('/a.txt', 'N'), [{ name: ns('n'), value: el('n', '2') }], { user: 'alice' });
        await props.removeTree(item('/a.txt', 'N'));
        expect((await props.get(item('/b.txt', 'A'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        expect(await props.usageOf('alice')).toMatchObject({ count: 1 });
      });

      it('ties a record kept under a path (written before ids) to the item first seen there, which then keeps it when renamed', async () => {
        const props = await propsOn();
        await props.patch(at('/one.txt'), [{ name: ns('p'), value: el('p', '1') }], { user: 'alice' });
        await props.patch(at('/two.txt'), [{ name: ns('q'), value: el('q', '2') }], { user: 'alice' });
        await props.patch(at('/three.txt'), [{ name: ns('r'), value: el('r', '3') }], { user: 'alice' });
        expect((await props.get(item('/one.txt', 'ONE'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        expect(await props.getMany([item('/two.txt', 'TWO')])).toEqual([{ [ns('q')]: el('q', '2') }]);
        expect(await props.patch(item('/three.txt', 'THREE'), [{ name: ns('s'), value: 'x' }], { user: 'alice' })).toMatchObject({ ok: true });
        expect((await props.get(item('/renamed-one.txt', 'ONE'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        expect((await props.get(item('/renamed-two.txt', 'TWO'))).properties).toEqual({ [ns('q')]: el('q', '2') });
        expect((await props.get(item('/renamed-three.txt', 'THREE'))).properties).toEqual({ [ns('r')]: el('r', '3'), [ns('s')]: 'x' });
        expect((await props.get(item('/one.txt', 'NEW'))).properties).toEqual({});
        expect(await props.usageOf('alice')).toMatchObject({ count: 4 });
      });

      it('a move within a mount keeps the items’ records; a copy gives the copy records of its own', async () => {
        const props = await propsOn();
        await props.patch(item('/f', 'F'), [{ name: ns('p'), value: el('p', '1') }], { user: 'alice' });
        await props.patch(item('/f/c.txt', 'C'), [{ name: ns('q'), value: el('q', '2') }], { user: 'alice' });
        expect(await props.copy(item('/f', 'F'), item('/g', 'G'), { user: 'bob' })).toEqual({ ok: true });
        expect((await props.get(item('/g-renamed', 'G'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        // The copied member lands on the copy's member, first seen at its path.
        expect((await props.get(item('/g/c.txt', 'C2'))).properties).toEqual({ [ns('q')]: el('q', '2') });
        expect((await props.get(item('/elsewhere.txt', 'C2'))).properties).toEqual({ [ns('q')]: el('q', '2') });
        await props.patch(item('/g-renamed', 'G'), [{ name: ns('p') }], { user: 'bob' });
        expect((await props.get(item('/f', 'F'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        await props.move(item('/f', 'F'), item('/h', 'F'));
        expect((await props.get(item('/h', 'F'))).properties).toEqual({ [ns('p')]: el('p', '1') });
        expect((await props.get(item('/h/c.txt', 'C'))).properties).toEqual({ [ns('q')]: el('q', '2') });
        await props.removeTree(item('/h', 'F'));
        expect((await props.get(item('/h/c.txt', 'C'))).properties).toEqual({});
        expect(await props.usageOf('alice')).toMatchObject({ count: 0 });
      });

      it.runIf(backend.persistent)('keeps properties and their owners across a reopen', async () => {
        const before = await propsOn({ maxPerUser: 2 });
        await props(before);
        await closeAll();
        const after = await propsOn({ maxPerUser: 2 });
        expect((await after.get(at('/kept'))).properties).toEqual({ [ns('k')]: el('k', '✓') });
        expect(await after.usageOf('alice')).toMatchObject({ count: 2 });
        expect(await after.patch(at('/more'), [{ name: ns('m'), value: 'x' }], { user: 'alice' })).toMatchObject({ ok: false, reason: 'limit' });

        async function props(store: PropertyStore) {
          await store.patch(at('/kept'), [{ name: ns('k'), value: el('k', '✓') }], { user: 'alice' });
          await store.patch(at('/other'), [{ name: ns('o'), value: 'x' }], { user: 'alice' });
        }
      });
    });
  });
}
