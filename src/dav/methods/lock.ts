import { Readable } from 'node:stream';
import { checkIfHeader, checkLocks, heldTokens, hrefOfLock } from '../protocol/conditions.js';
import { driveTarget, forget, header, lookup, readSmallBody, send, sendXml, utf8, type DavRequest } from '../http/context.js';
import { DavError, destinationRefusal } from '../protocol/errors.js';
import { parseTimeout, secondsLeft, type LockRecord, type LockRequest } from '../stores/lock-system.js';
import { resourceAt, type DriveTarget } from '../http/mounts.js';
import { activeLockXml } from '../protocol/properties.js';
import { parseDepth } from '../protocol/views.js';
import { parentPath } from '../../util/drive-path.js';
import { checkMacMetadata, writeTargetChecks } from './write-checks.js';
import { DAV_NS, childElements, findChild, parseXml, serializeNodes, escapeText } from '../protocol/xml.js';

/**
 * LOCK (RFC 4918 §9.10): exclusive or shared write locks, Depth 0 or infinity, with a timeout
 * (Timeout header, capped at a day). A LOCK on an unmapped URL creates an empty file and answers
 * 201 (RFC 4918 replaced lock-null resources with this). A LOCK without a body refreshes the
 * locks whose tokens the If header submits.
 */
export async function lock(ctx: DavRequest): Promise<void> {
  const target = driveTarget(ctx, 'Locking');
  writeTargetChecks(ctx);
  const body = utf8(await readSmallBody(ctx));
  const timeoutSeconds = parseTimeout(header(ctx.req, 'timeout'));
  if (body.trim() === '') return refresh(ctx, target, timeoutSeconds);

  const info = parseLockInfo(body);
  const depth = parseDepth(header(ctx.req, 'depth'), 'infinity', ['0', 'infinity']);
  const { locks } = ctx.state;
  const entry = await lookup(ctx, target);
  const request: LockRequest = {
    ...resourceAt(target.mount, target.path, entry),
    depth: depth === '0' ? 0 : 'infinity',
    scope: info.scope,
    owner: info.owner,
    principal: ctx.principal.name,
    timeoutSeconds,
  };
  // Refuse before any drive work; the create below checks again in the store's atomic step.
  const conflicts = await locks.conflicts(request);
  if (conflicts.length > 0) throw alreadyLocked(ctx, target, conflicts);
  await checkIfHeader(ctx, target);

  let made: { id: string } | undefined;
  if (!entry) {
    if (target.isRoot) throw new DavError(404, 'Not found.');
    checkMacMetadata(ctx, target.url[target.url.length - 1]);
    await checkLocks(ctx, target, { members: [parentPath(target.path)] });
    try {
      // A missing parent is the drive's parentMissing: 409, and no lock is taken.
      made = await target.mount.drive.write(target.path, Readable.from([]), { size: 0, signal: ctx.signal });
    } catch (err) {
      throw destinationRefusal(err);
    }
    forget(ctx, target);
  }

  // Tied to the item (the empty file just made, where there was none), so it follows renames made elsewhere.
  const created = await locks.create({ ...request, ...resourceAt(target.mount, target.path, entry ?? made) });
  // Another request took a conflicting lock meanwhile (an empty file made above stays, as after any LOCK).
  if (!created.ok) throw alreadyLocked(ctx, target, created.conflicts);
  const record = created.lock;
  sendXml(ctx.res, entry ? 200 : 201, lockDiscovery(ctx, target, [record]), { 'Lock-Token': `<${record.token}>` });
}

async function refresh(ctx: DavRequest, target: DriveTarget, timeoutSeconds: number): Promise<void> {
  if (!header(ctx.req, 'if')) throw new DavError(400, 'A LOCK without a body refreshes a lock: send its token in the If header.');
  const held = await heldTokens(ctx);
  const { locks } = ctx.state;
  const matching = (await locks.covering(resourceAt(target.mount, target.path, await lookup(ctx, target)))).filter((l) => held.has(l.token));
  if (matching.length === 0) throw new DavError(412, 'No lock on this resource matches the submitted token.', { condition: 'lock-token-matches-request-uri' });
  const refreshed: LockRecord[] = [];
  for (const l of matching) {
    const updated = await locks.refresh(l.token, ctx.principal.name, timeoutSeconds);
    if (updated) refreshed.push(updated);
  }
  sendXml(ctx.res, 200, lockDiscovery(ctx, target, refreshed));
}

/** UNLOCK (RFC 4918 §9.11): 204, or 409 when the token does not lock this URL. */
export async function unlock(ctx: DavRequest): Promise<void> {
  const target = driveTarget(ctx, 'Unlocking');
  writeTargetChecks(ctx);
  const match = /^\s*<([^>]+)>\s*$/.exec(header(ctx.req, 'lock-token') ?? '');
  if (!match) throw new DavError(400, 'UNLOCK needs a Lock-Token header: Lock-Token: <token>.');
  const { locks } = ctx.state;
  const token = match[1];
  const covering = await locks.covering(resourceAt(target.mount, target.path, await lookup(ctx, target)));
  if (!covering.some((l) => l.token === token)) throw notThisUrl();
  const outcome = await locks.unlock(token, ctx.principal.name);
  if (outcome === 'forbidden') throw new DavError(403, 'Only the user who took a lock can remove it.');
  // Gone between the two steps (expired, or unlocked by another request): it locks nothing now.
  if (outcome === 'no-such-lock') throw notThisUrl();
  send(ctx.res, 204);
}

function notThisUrl(): DavError {
  return new DavError(409, 'This lock token does not lock this URL.', { condition: 'lock-token-matches-request-uri' });
}

function alreadyLocked(ctx: DavRequest, target: DriveTarget, conflicts: LockRecord[]): DavError {
  return new DavError(423, 'The resource is already locked.', {
    condition: 'no-conflicting-lock',
    conditionBody: conflicts.map((l) => `<D:href>${escapeText(hrefOfLock(ctx, target, l))}</D:href>`).join(''),
  });
}

/** The locks just granted or refreshed, each with the timeout granted (RFC 4918 §9.10.2), not what is left after the store's round trip. */
function lockDiscovery(ctx: DavRequest, target: DriveTarget, records: LockRecord[]): string {
  const active = records.map((r) => activeLockXml(r, hrefOfLock(ctx, target, r), r.timeoutSeconds)).join('');
  return `<D:prop xmlns:D="DAV:"><D:lockdiscovery>${active}</D:lockdiscovery></D:prop>`;
}

interface LockInfo {
  scope: 'exclusive' | 'shared';
  owner?: string;
}

function parseLockInfo(body: string): LockInfo {
  const root = parseXml(body);
  if (root.ns !== DAV_NS || root.local !== 'lockinfo') throw new DavError(400, 'A LOCK body must be a DAV:lockinfo element.');
  const scopeEl = findChild(root, DAV_NS, 'lockscope');
  const scope = scopeEl ? childElements(scopeEl).find((c) => c.ns === DAV_NS && (c.local === 'exclusive' || c.local === 'shared')) : undefined;
  if (!scope) throw new DavError(400, 'DAV:lockscope must be DAV:exclusive or DAV:shared.');
  const typeEl = findChild(root, DAV_NS, 'locktype');
  if (!typeEl || !childElements(typeEl).some((c) => c.ns === DAV_NS && c.local === 'write')) throw new DavError(400, 'Only DAV:write locks exist.');
  const ownerEl = findChild(root, DAV_NS, 'owner');
  return { scope: scope.local as 'exclusive' | 'shared', owner: ownerEl ? serializeNodes(ownerEl.children, new Map([[DAV_NS, 'D']])) : undefined };
}
