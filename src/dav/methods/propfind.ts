import { MOUNT_NAMES } from '../http/mounts.js';
import { header, lookup, readSmallBody, sendXml, utf8, type DavRequest } from '../http/context.js';
import { DavError } from '../protocol/errors.js';
import { multistatus, parsePropfind, renderResponses, type ResourceView } from '../protocol/properties.js';
import { driveView, memberViews, parseDepth, virtualView } from '../protocol/views.js';
import { childPath } from '../../util/drive-path.js';

/**
 * PROPFIND. Depth 0 and 1 are served; Depth infinity (explicit, or implied by a missing Depth
 * header) on a collection is refused with 403 and `<D:propfind-finite-depth/>`, as RFC 4918 §9.1
 * allows: walking a whole OneDrive costs one Graph call per folder and can take minutes, while
 * every real client browses with Depth 1. On a file, infinity means the same as 0.
 */
export async function propfind(ctx: DavRequest): Promise<void> {
  const depth = parseDepth(header(ctx.req, 'depth'), 'infinity', ['0', '1', 'infinity']);
  const request = parsePropfind(utf8(await readSmallBody(ctx)));
  const { target, state } = ctx;
  const views: ResourceView[] = [];

  if (target.kind === 'virtual') {
    if (depth === 'infinity') throw finiteDepth();
    views.push(virtualView(target.url));
    if (depth === '1') for (const name of target.children) views.push(virtualView([...target.url, name]));
  } else {
    const entry = await lookup(ctx, target);
    if (!entry) throw new DavError(404, 'Not found.');
    if (entry.isFolder && depth === 'infinity') throw finiteDepth();
    views.push(await driveView(ctx, target, target.url, target.path, entry));
    if (entry.isFolder && depth === '1') {
      const mounted = state.mounts.childMounts(target.url);
      const children = await target.mount.drive.list(target.path);
      const shown = children.filter((child) => !mounted.some((m) => MOUNT_NAMES.sameName(m, child.name)));
      views.push(...(await memberViews(ctx, target, entry, shown.map((child) => ({ url: [...target.url, child.name], path: childPath(target.path, child.name), entry: child })))));
      for (const name of mounted) views.push(virtualView([...target.url, name]));
    }
  }

  const responses = await renderResponses(views, request);
  sendXml(ctx.res, 207, multistatus(responses));
}

function finiteDepth(): DavError {
  return new DavError(403, 'PROPFIND with Depth: infinity is not supported on collections; use Depth: 1.', { condition: 'propfind-finite-depth' });
}
