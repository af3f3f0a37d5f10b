import type { DriveEntry } from '../../drive/types.js';
import { header, lookedUp, lookup, type DavRequest } from '../http/context.js';
import { DavError } from './errors.js';
import { evaluateIf, parseIfHeader, sameEntityTag, submittedTokens, type IfList } from './if-header.js';
import type { LockRecord } from '../stores/lock-system.js';
import { resourceAt, type DriveTarget } from '../http/mounts.js';
import { hrefFor, parseRequestTarget } from './paths.js';
import { entityTag } from './properties.js';
import { escapeText } from './xml.js';

/**
 * Preconditions of a request, in RFC order: the WebDAV `If` header (false → 412), then the
 * HTTP validators (If-Match / If-None-Match / If-Unmodified-Since / If-Modified-Since), then,
 * for writes, the locks (a lock in scope whose token was not submitted → 423).
 */
export function ifLists(ctx: DavRequest): IfList[] | undefined {
  const value = header(ctx.req, 'if');
  return value ? parseIfHeader(value) : undefined;
}

/** Lock tokens the request submitted that belong to the requesting principal. */
export async function heldTokens(ctx: DavRequest): Promise<Set<string>> {
  const lists = ifLists(ctx);
  const tokens = lists ? submittedTokens(lists) : new Set<string>();
  // A `Lock-Token` header (UNLOCK) does not submit a token for writes; only `If` does.
  const locks = await Promise.all([...tokens].map((token) => ctx.state.locks.get(token)));
  for (const lock of locks) if (lock && lock.principal !== ctx.principal.name) tokens.delete(lock.token);
  return tokens;
}

/** Evaluates the `If` header; resources named in tagged lists are looked up like the request URI. */
export async function checkIfHeader(ctx: DavRequest, target: DriveTarget): Promise<void> {
  const lists = ifLists(ctx);
  if (!lists) return;
  const holds = await evaluateIf(lists, async (resource) => {
    let t: DriveTarget = target;
    if (resource !== undefined) {
      let resolved;
      try {
        resolved = ctx.state.mounts.resolve(parseRequestTarget(resource).segments, ctx.principal);
      } catch {
        return { etag: undefined, lockTokens: new Set<string>() };
      }
      if (resolved.kind !== 'drive') return { etag: undefined, lockTokens: new Set<string>() };
      t = resolved;
    }
    const entry = await lookup(ctx, t);
    const locks = await ctx.state.locks.covering(resourceAt(t.mount, t.path, entry));
    return { etag: entry ? entityTag(entry) : undefined, lockTokens: new Set(locks.map((l) => l.token)) };
  });
  if (!holds) throw new DavError(412, 'The If header condition is false (lock token or ETag does not match).');
}

/** HTTP validators for a method that changes the resource (PUT, DELETE, MOVE, COPY onto, PROPPATCH). */
export function checkWriteValidators(ctx: DavRequest, entry: DriveEntry | null): void {
  const { headers } = ctx.req;
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined && !matchesList(ifMatch, entry)) throw new DavError(412, 'If-Match does not match the current ETag.');
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined && matchesList(ifNoneMatch, entry)) throw new DavError(412, 'If-None-Match matched: the resource exists or has this ETag.');
  const since = headers['if-unmodified-since'];
  if (since !== undefined && ifMatch === undefined && entry) {
    const date = Date.parse(since);
    if (!Number.isNaN(date) && Math.floor(entry.modified.getTime() / 1000) > Math.floor(date / 1000)) throw new DavError(412, 'The resource was modified after If-Unmodified-Since.');
  }
}

/** For GET/HEAD: 304 when the client's copy is current, 412 when If-Match fails. */
export function readValidators(ctx: DavRequest, entry: DriveEntry): 'ok' | 'not-modified' {
  const { headers } = ctx.req;
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined && !matchesList(ifMatch, entry)) throw new DavError(412, 'If-Match does not match the current ETag.');
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) return matchesList(ifNoneMatch, entry) ? 'not-modified' : 'ok';
  const since = headers['if-modified-since'];
  if (since !== undefined) {
    const date = Date.parse(since);
    if (!Number.isNaN(date) && Math.floor(entry.modified.getTime() / 1000) <= Math.floor(date / 1000)) return 'not-modified';
  }
  return 'ok';
}

function matchesList(header: string, entry: DriveEntry | null): boolean {
  if (!entry) return false;
  if (header.trim() === '*') return true;
  const current = entityTag(entry);
  // Entity tags may contain commas (OneDrive's cTag does: "c:{GUID},1"), so take them by quotes.
  return (header.match(/(?:W\/)?"[^"]*"/g) ?? []).some((tag) => sameEntityTag(tag, current));
}

/**
 * Throws 423 unless the request submitted the tokens that protect the change: the token of every
 * exclusive lock in scope, and, when shared locks are in scope, the token of at least one of them
 * (each holder of a shared lock may write, RFC 4918 §6.2). In scope are the locks covering the
 * `covering` paths, for DELETE/MOVE of collections also the locks anywhere inside the `within`
 * paths, and for a new or removed member the locks of its parent collection (`members`).
 */
export async function checkLocks(ctx: DavRequest, target: DriveTarget, paths: { covering?: string[]; within?: string[]; members?: string[] }): Promise<void> {
  const held = await heldTokens(ctx);
  const { mount } = target;
  const locks = ctx.state.locks;
  // Items this request has looked up are known by id (a lock follows its item); others by path, with no drive call added.
  const refOf = async (path: string) => resourceAt(mount, path, await lookedUp(ctx, target, path));
  const covering = async (path: string) => {
    const ref = await refOf(path);
    const found = await locks.covering(ref);
    // A lock tied to an id recorded at this path (a parent folder's): whether its item is still here is asked only then.
    if (ref.id !== undefined || ref.absent || !found.some((l) => l.id !== undefined && l.key === ref.key)) return found;
    return locks.covering(resourceAt(mount, path, await lookup(ctx, target, path)));
  };
  const found = await Promise.all([
    ...[...(paths.covering ?? []), ...(paths.members ?? []), ...(paths.within ?? [])].map(covering),
    ...(paths.within ?? []).map(async (path) => locks.within(await refOf(path))),
  ]);
  // Stores hand out snapshots, so the same lock found twice is two objects: one per token.
  const all = [...new Map(found.flat().map((l) => [l.token, l])).values()];
  const shared = all.filter((l) => l.scope === 'shared');
  const blocking = all.filter((l) => l.scope === 'exclusive' && !held.has(l.token));
  if (shared.length > 0 && !shared.some((l) => held.has(l.token))) blocking.push(...shared);
  if (blocking.length === 0) return;
  const hrefs = [...new Set(blocking.map((l) => hrefOfLock(ctx, target, l)))];
  throw new DavError(423, 'The resource is locked; send the lock token in the If header.', {
    condition: 'lock-token-submitted',
    conditionBody: hrefs.map((h) => `<D:href>${escapeText(h)}</D:href>`).join(''),
  });
}

/** The lock root as this principal sees it (its own root when the lock sits above it). */
export function hrefOfLock(ctx: DavRequest, target: DriveTarget, lock: LockRecord): string {
  const url = ctx.state.mounts.urlFor(target.mount, lock.path, ctx.principal) ?? target.mount.segments;
  return hrefFor(url, false);
}
