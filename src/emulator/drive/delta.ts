import { randomUUID } from 'node:crypto';
import type { RequestContext, SharedState } from '../context.js';
import { EmulatorHttpError, sendJson } from '../request-io.js';
import type { ItemRecord } from './model.js';
import { applySelect, itemJson, type ItemView } from './serialize.js';
import type { DriveStore } from './store.js';
import { topOf } from './query.js';

/** What a delta token carries: a first enumeration in progress, a change cursor, or the point to resume from. */
type DeltaToken =
  | { k: 'i'; snap: string; o: number; t: number; f: string }
  | { k: 'c'; c: number; f: string }
  | { k: 'd'; s: number; f: string };

const MAX_SNAPSHOTS = 64;

/**
 * `GET …/delta`. The first call enumerates the folder's subtree (parents before children) over as
 * many pages as it takes, the last one carrying `@odata.deltaLink`; calls with that link return only
 * what changed since, deletions as `{id, deleted: {state: "deleted"}}`. `?token=latest` returns just a
 * deltaLink. The first enumeration's order is frozen in a snapshot so paging never skips an item.
 */
export class DeltaFeeds {
  private readonly snapshots = new Map<string, string[]>();

  constructor(
    private readonly shared: SharedState,
    private readonly store: DriveStore,
  ) {}

  serve(ctx: RequestContext, view: ItemView, folder: ItemRecord): void {
    if (!folder.isFolder) throw new EmulatorHttpError(400, 'invalidRequest', 'Delta is available on folders (usually the drive root) only.');
    const drive = view.drive;
    const top = topOf(ctx);
    const raw = ctx.url.searchParams.get('token');
    const select = ctx.url.searchParams.get('$select')?.split(',').map((s) => s.trim()).filter(Boolean);
    let token: DeltaToken;
    if (raw === null) {
      const ids = this.store.subtree(folder.id).map((i) => i.id);
      const snap = randomUUID();
      this.snapshots.set(snap, ids);
      while (this.snapshots.size > MAX_SNAPSHOTS) this.snapshots.delete(this.snapshots.keys().next().value!);
      token = { k: 'i', snap, o: 0, t: drive.seq, f: folder.id };
    } else if (raw === 'latest') {
      return this.send(ctx, [], { deltaLink: { k: 'd', s: drive.seq, f: folder.id } }, view, select);
    } else {
      token = decodeToken(raw);
      if (token.f !== folder.id) throw new EmulatorHttpError(400, 'invalidRequest', 'This delta token belongs to another folder or drive; start over without a token.');
    }

    if (token.k === 'i') {
      const ids = this.snapshots.get(token.snap);
      if (!ids) {
        throw new EmulatorHttpError(410, 'resyncRequired', 'The delta enumeration expired. Start over with a delta request without a token.', {}, 'resyncRequired');
      }
      const items = ids
        .slice(token.o, token.o + top)
        .map((id) => this.store.item(id))
        .filter((i): i is ItemRecord => i !== undefined);
      const next = token.o + top;
      if (next < ids.length) return this.send(ctx, items, { nextLink: { ...token, o: next } }, view, select);
      this.snapshots.delete(token.snap);
      return this.send(ctx, items, { deltaLink: { k: 'd', s: token.t, f: folder.id } }, view, select);
    }

    const from = token.k === 'd' ? token.s : token.c;
    if (from > drive.seq) throw new EmulatorHttpError(410, 'resyncRequired', 'The delta token is not valid for this drive any more. Start over without a token.', {}, 'resyncRequired');
    const changed = this.store.changedSince(drive.id, from).filter((i) => i.id === folder.id || this.store.isAncestor(folder.id, i));
    const page = changed.slice(0, top);
    if (changed.length > top) return this.send(ctx, page, { nextLink: { k: 'c', c: page[page.length - 1].seq, f: folder.id } }, view, select);
    return this.send(ctx, page, { deltaLink: { k: 'd', s: drive.seq, f: folder.id } }, view, select);
  }

  private send(ctx: RequestContext, items: ItemRecord[], link: { nextLink?: DeltaToken; deltaLink?: DeltaToken }, view: ItemView, select?: string[]): void {
    const base = `${ctx.url.origin}${ctx.url.pathname}`;
    const body: Record<string, unknown> = {
      '@odata.context': `${this.shared.baseUrl}/v1.0/$metadata#Collection(driveItem)`,
      value: items.map((i) => (i.deletedAt ? itemJson(view, i, { delta: true }) : applySelect(itemJson(view, i, { delta: true }), select))),
    };
    if (link.nextLink) body['@odata.nextLink'] = `${base}?token=${encodeToken(link.nextLink)}${topSuffix(ctx)}`;
    if (link.deltaLink) body['@odata.deltaLink'] = `${base}?token=${encodeToken(link.deltaLink)}${topSuffix(ctx)}`;
    sendJson(ctx.res, 200, body);
  }

  clear(): void {
    this.snapshots.clear();
  }
}

function topSuffix(ctx: RequestContext): string {
  const top = ctx.url.searchParams.get('$top');
  const select = ctx.url.searchParams.get('$select');
  return (top ? `&$top=${encodeURIComponent(top)}` : '') + (select ? `&$select=${encodeURIComponent(select)}` : '');
}

function encodeToken(token: DeltaToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(raw: string): DeltaToken {
  try {
    const token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as DeltaToken;
    if (token && (token.k === 'i' || token.k === 'c' || token.k === 'd') && typeof token.f === 'string') return token;
  } catch {
    // fall through
  }
  throw new EmulatorHttpError(400, 'invalidRequest', 'The delta token is malformed; use @odata.nextLink / @odata.deltaLink exactly as returned.');
}
