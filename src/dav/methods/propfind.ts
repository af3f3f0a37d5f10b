import { MOUNT_NAMES, type DriveTarget } from '../http/mounts.js';
import { header, isNotFound, lookup, readSmallBody, sendXml, utf8, type DavRequest } from '../http/context.js';
import { StreamedMultistatus } from '../http/streamed-multistatus.js';
import { DavError } from '../protocol/errors.js';
import { multistatus, parsePropfind, renderResponses, type PropfindRequest } from '../protocol/properties.js';
import { driveView, folderLocks, memberViews, parseDepth, virtualView, type FolderLocks } from '../protocol/views.js';
import type { DriveEntry, ItemWithChildren } from '../../drive/index.js';
import { childPath } from '../../util/drive-path.js';
import { pull } from '../../util/page-puller.js';

/**
 * PROPFIND. Depth 0 and 1 are served; Depth infinity (explicit, or implied by a missing Depth
 * header) on a collection is refused with 403 and `<D:propfind-finite-depth/>`, as RFC 4918 §9.1
 * allows: walking a whole OneDrive costs one Graph call per folder and can take minutes, while
 * every real client browses with Depth 1. On a file, infinity means the same as 0.
 * A Depth 1 listing is answered page by page as the drive delivers it (StreamedMultistatus), so a
 * folder of 100,000 items is never held whole, neither as entries nor as XML.
 */
export async function propfind(ctx: DavRequest): Promise<void> {
  const depth = parseDepth(header(ctx.req, 'depth'), 'infinity', ['0', '1', 'infinity']);
  const request = parsePropfind(utf8(await readSmallBody(ctx)));
  const { target } = ctx;

  if (target.kind === 'virtual') {
    if (depth === 'infinity') throw finiteDepth();
    const views = [virtualView(target.url)];
    if (depth === '1') for (const name of target.children) views.push(virtualView([...target.url, name]));
    sendXml(ctx.res, 207, multistatus(await renderResponses(views, request)));
    return;
  }

  const found = depth === '1' ? await withChildren(ctx, target) : await alone(ctx, target);
  if (!found) throw new DavError(404, 'Not found.');
  const { entry, children } = 'entry' in found ? found : { entry: found, children: undefined };
  if (entry.isFolder && depth === 'infinity') throw finiteDepth();
  const out = new StreamedMultistatus(ctx.res);
  await out.add(await renderResponses([await driveView(ctx, target, target.url, target.path, entry)], request));
  if (entry.isFolder && depth === '1' && children) await addMembers(ctx, target, entry, children, request, out);
  out.end();
}

/** The target and its children, in one drive call where the drive offers it. */
async function withChildren(ctx: DavRequest, target: DriveTarget): Promise<ItemWithChildren | null> {
  const { drive } = target.mount;
  if (drive.statWithChildren) {
    try {
      return await drive.statWithChildren(target.path, { collection: ctx.path.trailingSlash });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }
  const entry = await lookup(ctx, target);
  if (!entry?.isFolder) return entry && { entry };
  const listed = drive.list(target.path);
  return { entry, children: (async function* () { yield await listed; })() };
}

/**
 * The target alone. Where the drive can, a path it does not know yet is asked with its children
 * (statWithChildren): a client that stats a folder lists it next (rclone: rclone/rclone
 * backend/webdav/webdav.go readMetaDataForPath then listAll; Finder, test/personas/macos-webdavfs.ts),
 * and that listing then costs nothing.
 */
async function alone(ctx: DavRequest, target: DriveTarget): Promise<DriveEntry | null> {
  if (!target.mount.drive.statWithChildren) return lookup(ctx, target);
  return (await withChildren(ctx, target))?.entry ?? null;
}

/** Members rendered into XML at a time: about 50 KB of it. */
const RENDER_SLICE = 100;

/** The members' responses, one page at a time: one dead-property call per page, the folder's locks once. */
async function addMembers(ctx: DavRequest, target: DriveTarget, folder: DriveEntry, pages: AsyncIterable<readonly DriveEntry[]>, request: PropfindRequest, out: StreamedMultistatus): Promise<void> {
  const mounted = ctx.state.mounts.childMounts(target.url);
  const locks = await folderLocks(ctx, target, folder);
  // Not `for await`: it would keep each page through the next page's request (util/page-puller.ts).
  const pulled = pull(pages);
  try {
    for (let page = await pulled.next(); page; page = await pulled.next()) await addPage(ctx, target, page.value, mounted, locks, request, out);
  } finally {
    await pulled.close();
  }
  if (mounted.length > 0) await out.add(await renderResponses(mounted.map((name) => virtualView([...target.url, name])), request));
}

/** One page of members, rendered and written a slice at a time: a page's XML is never held whole (see StreamedMultistatus). */
async function addPage(ctx: DavRequest, target: DriveTarget, page: readonly DriveEntry[], mounted: readonly string[], locks: FolderLocks, request: PropfindRequest, out: StreamedMultistatus): Promise<void> {
  const shown = mounted.length === 0 ? page : page.filter((child) => !mounted.some((m) => MOUNT_NAMES.sameName(m, child.name)));
  const members = shown.map((child) => ({ url: [...target.url, child.name], path: childPath(target.path, child.name), entry: child }));
  const views = await memberViews(ctx, target, members, locks);
  for (let i = 0; i < views.length; i += RENDER_SLICE) await out.add(await renderResponses(views.slice(i, i + RENDER_SLICE), request));
}

function finiteDepth(): DavError {
  return new DavError(403, 'PROPFIND with Depth: infinity is not supported on collections; use Depth: 1.', { condition: 'propfind-finite-depth' });
}
