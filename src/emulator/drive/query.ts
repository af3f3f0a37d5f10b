import type { RequestContext } from '../context.js';
import { EmulatorHttpError } from '../request-io.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './model.js';

/** OData query options as the drive routes read them: $select, $top, $skiptoken, and nextLink building. */
export function selectOf(ctx: RequestContext, expandOf?: string): string[] | undefined {
  if (expandOf) {
    const m = /children\(\$select=([^)]*)\)/i.exec(ctx.url.searchParams.get('$expand') ?? '');
    return m ? m[1].split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  }
  const raw = ctx.url.searchParams.get('$select');
  return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

export function topOf(ctx: RequestContext): number {
  const raw = ctx.url.searchParams.get('$top');
  if (raw === null) return DEFAULT_PAGE_SIZE;
  const top = Number(raw);
  if (!Number.isInteger(top) || top < 1) throw new EmulatorHttpError(400, 'invalidRequest', `Invalid $top value '${raw}': use a positive integer.`);
  return Math.min(top, MAX_PAGE_SIZE);
}

export function skipOf(ctx: RequestContext): number {
  const raw = ctx.url.searchParams.get('$skiptoken') ?? ctx.url.searchParams.get('$skipToken');
  if (raw === null) return 0;
  const m = /^skip:(\d+)$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
  if (!m) throw new EmulatorHttpError(400, 'invalidRequest', 'The $skiptoken is not valid; follow @odata.nextLink exactly as returned.');
  return Number(m[1]);
}

export function encodeSkip(offset: number): string {
  return Buffer.from(`skip:${offset}`).toString('base64url');
}

/** The request URL (absolute) with some query parameters replaced; OData `$` names stay readable. */
export function withQuery(ctx: RequestContext, replace: Record<string, string>): string {
  const params = new URLSearchParams(ctx.url.search);
  for (const [k, v] of Object.entries(replace)) params.set(k, v);
  const query = [...params.entries()].map(([k, v]) => `${encodeURIComponent(k).replace(/^%24/, '$')}=${encodeURIComponent(v)}`).join('&');
  return `${ctx.url.origin}${ctx.url.pathname}?${query}`;
}

