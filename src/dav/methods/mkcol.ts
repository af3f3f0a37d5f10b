import { checkIfHeader, checkLocks } from '../protocol/conditions.js';
import { driveTarget, forget, hasBody, lookup, send, type DavRequest } from '../http/context.js';
import { isDriveError } from '../../drive/index.js';
import { DavError } from '../protocol/errors.js';
import { parentPath } from '../../util/drive-path.js';
import { writeTargetChecks } from './write-checks.js';

/** MKCOL (RFC 4918 §9.3): 201; 405 if something exists; 409 without a parent folder; 415 with a body. */
export async function mkcol(ctx: DavRequest): Promise<void> {
  if (ctx.target.kind === 'virtual') throw new DavError(405, 'Something already exists at this path.');
  const target = driveTarget(ctx, 'Creating a folder');
  writeTargetChecks(ctx);
  if (hasBody(ctx.req)) throw new DavError(415, 'MKCOL with a request body is not supported.');
  if (target.isRoot) throw new DavError(405, 'Something already exists at this path.');
  if (target.mount.drive.knowsFolder?.(target.path) || (await lookup(ctx, target))) throw new DavError(405, 'Something already exists at this path.');
  await checkIfHeader(ctx, target);
  await checkLocks(ctx, target, { covering: [target.path], members: [parentPath(target.path)] });
  try {
    await target.mount.drive.mkdir(target.path);
  } catch (err) {
    // Made by someone else since the lookup above: still "something exists" (RFC 4918 §9.3.1). A
    // missing parent is the drive's parentMissing: 409 (§9.3.1).
    if (isDriveError(err, 'exists')) throw new DavError(405, 'Something already exists at this path.');
    throw err;
  }
  forget(ctx, target);
  send(ctx.res, 201, {});
}
