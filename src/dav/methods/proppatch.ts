import { STATUS_CODES } from 'node:http';
import { resourceAt } from '../http/mounts.js';
import { checkIfHeader, checkLocks } from '../protocol/conditions.js';
import { driveTarget, forget, lookup, readSmallBody, sendXml, utf8, type DavRequest } from '../http/context.js';
import { DavError, toDavError } from '../protocol/errors.js';
import { hrefFor } from '../protocol/paths.js';
import { ownerOf, undoChanges, type PropertyChange, type PropertyMap } from '../stores/property-store.js';
import { isLiveProperty } from '../protocol/properties.js';
import { writeTargetChecks } from './write-checks.js';
import { DAV_NS, childElements, clark, element, escapeText, findChild, parseXml, serializeElement, textContent, type XmlElement } from '../protocol/xml.js';

const MS_NS = 'urn:schemas-microsoft-com:';

/**
 * PROPPATCH (RFC 4918 §9.2): all instructions, in document order, succeed or none do (failures get
 * their status, the rest 424 Failed Dependency). Dead properties go to the local store. Setting
 * DAV:getlastmodified or Windows' Win32LastModifiedTime changes the file's mtime on the drive;
 * other DAV: live properties are protected (403).
 */
export async function proppatch(ctx: DavRequest): Promise<void> {
  const target = driveTarget(ctx, 'Changing properties');
  writeTargetChecks(ctx);
  const instructions = parsePropertyUpdate(utf8(await readSmallBody(ctx)));
  const entry = await lookup(ctx, target);
  if (!entry) throw new DavError(404, 'Not found.');
  await checkIfHeader(ctx, target);
  await checkLocks(ctx, target, { covering: [target.path] });

  const { properties } = ctx.state;
  const resource = resourceAt(target.mount, target.path, entry);
  const changes: PropertyChange[] = [];
  const results: Array<{ el: XmlElement; status: number; description?: string }> = [];
  let mtime: { date: Date; index: number } | undefined;

  for (const { action, el } of instructions) {
    const isMtime = (el.ns === DAV_NS && el.local === 'getlastmodified') || (el.ns === MS_NS && el.local === 'Win32LastModifiedTime');
    if (isMtime) {
      const date = new Date(textContent(el).trim());
      if (action === 'remove') results.push({ el, status: 403, description: 'The modification time cannot be removed.' });
      else if (Number.isNaN(date.getTime())) results.push({ el, status: 409, description: 'Not a date (use an HTTP date such as "Tue, 15 Nov 1994 08:12:31 GMT").' });
      else {
        mtime = { date, index: results.length };
        results.push({ el, status: 200 });
      }
    } else if (isLiveProperty(el)) {
      results.push({ el, status: 403, description: 'This property is computed by the server and cannot be changed.' });
    } else {
      const name = clark(el.ns, el.local);
      changes.push(action === 'set' ? { name, value: serializeElement(el, new Map()) } : { name });
      results.push({ el, status: 200 });
    }
  }

  const owner = ownerOf(ctx.principal);
  let applied: { version: string; before: PropertyMap } | undefined;
  if (results.every((r) => r.status === 200) && changes.length > 0) {
    // All or nothing, limits included, in one step of the store; before the mtime so that a refusal changes nothing.
    const outcome = await properties.patch(resource, changes, { user: owner });
    if (outcome.ok) applied = outcome;
    else {
      // RFC 4918 §9.2.1: 507, the server could not record the property; nothing else is done (424).
      const refused = outcome.reason === 'limit' ? outcome.message : 'The properties changed meanwhile.';
      results.forEach((r, i) => {
        if (instructions[i].action === 'set' && !isLiveProperty(r.el) && i !== mtime?.index) results[i] = { el: r.el, status: 507, description: refused };
      });
    }
  }
  if (results.every((r) => r.status === 200) && mtime) {
    try {
      await target.mount.drive.setModified(target.path, mtime.date);
      forget(ctx, target);
    } catch (err) {
      const mapped = toDavError(err);
      results[mtime.index] = { el: results[mtime.index].el, status: mapped.status, description: mapped.message };
      // Undo the dead properties, unless someone changed them since (then theirs stand).
      if (applied) await properties.patch(resource, undoChanges(applied.before, changes), { user: owner, expectedVersion: applied.version });
    }
  }
  if (results.some((r) => r.status !== 200)) {
    for (const r of results) if (r.status === 200) r.status = 424;
  }

  sendXml(ctx.res, 207, multistatusOf(hrefFor(target.url, entry.isFolder), results));
}

function multistatusOf(href: string, results: Array<{ el: XmlElement; status: number; description?: string }>): string {
  const byStatus = new Map<number, typeof results>();
  for (const r of results) byStatus.set(r.status, [...(byStatus.get(r.status) ?? []), r]);
  const scope = new Map([[DAV_NS, 'D']]);
  let xml = `<D:multistatus xmlns:D="DAV:"><D:response><D:href>${escapeText(href)}</D:href>`;
  for (const [status, group] of byStatus) {
    const names = group.map((r) => serializeElement(element(r.el.ns, r.el.local), scope)).join('');
    const description = group.find((r) => r.description)?.description;
    xml += `<D:propstat><D:prop>${names}</D:prop><D:status>HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}</D:status>`;
    if (status === 403 && group.some((r) => isLiveProperty(r.el))) xml += '<D:error><D:cannot-modify-protected-property/></D:error>';
    if (description) xml += `<D:responsedescription>${escapeText(description)}</D:responsedescription>`;
    xml += '</D:propstat>';
  }
  return `${xml}</D:response></D:multistatus>`;
}

function parsePropertyUpdate(body: string): Array<{ action: 'set' | 'remove'; el: XmlElement }> {
  if (body.trim() === '') throw new DavError(400, 'PROPPATCH needs a DAV:propertyupdate body.');
  const root = parseXml(body);
  if (root.ns !== DAV_NS || root.local !== 'propertyupdate') throw new DavError(400, 'A PROPPATCH body must be a DAV:propertyupdate element.');
  const out: Array<{ action: 'set' | 'remove'; el: XmlElement }> = [];
  for (const child of childElements(root)) {
    if (child.ns !== DAV_NS || (child.local !== 'set' && child.local !== 'remove')) continue;
    const prop = findChild(child, DAV_NS, 'prop');
    if (!prop) throw new DavError(400, `DAV:${child.local} must contain DAV:prop.`);
    for (const el of childElements(prop)) out.push({ action: child.local, el });
  }
  if (out.length === 0) throw new DavError(400, 'The DAV:propertyupdate contains no property to set or remove.');
  return out;
}
