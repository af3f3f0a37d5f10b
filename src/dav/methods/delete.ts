import { checkIfHeader, checkLocks, checkWriteValidators } from '../protocol/conditions.js';
import { driveTarget, forget, header, isNotFound, lookup, send, type DavRequest } from '../http/context.js';
import { DavError } from '../protocol/errors.js';
import { parseDepth } from '../protocol/views.js';
import { resourceAt } from '../http/mounts.js';
import { parentPath } from '../../util/drive-path.js';
import { writeTargetChecks } from './write-checks.js';

/**
 * DELETE (RFC 4918 §9.6). OneDrive deletes a folder with everything in it in one call, so there is
 * no partial failure to report as 207: it is 204, or one error for the whole request. Locks and
 * dead properties of the removed subtree are dropped with it.
 */
export async function del(ctx: DavRequest): Promise<void> {
  const target = driveTarget(ctx, 'Deleting');
  writeTargetChecks(ctx);
  if (target.isRoot) throw new DavError(403, 'The root of a mount cannot be deleted.');
  const entry = await lookup(ctx, target);
  if (!entry) throw new DavError(404, 'Not found.');
  if (entry.isFolder) parseDepth(header(ctx.req, 'depth'), 'infinity', ['infinity']);
  await checkIfHeader(ctx, target);
  checkWriteValidators(ctx, entry);
  await checkLocks(ctx, target, { within: [target.path], members: [parentPath(target.path)] });
  try {
    await target.mount.drive.remove(target.path);
  } catch (err) {
    // It existed a moment ago and is gone now, as asked: a retried Graph DELETE whose first
    // answer was lost, or another client. Saying 404 would tell the client nothing was deleted.
    if (!isNotFound(err)) throw err;
  }
  forget(ctx, target);
  const resource = resourceAt(target.mount, target.path, entry);
  await Promise.all([ctx.state.locks.removeWithin(resource), ctx.state.properties.removeTree(resource)]);
  send(ctx.res, 204);
}
