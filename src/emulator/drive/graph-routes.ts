import type { RequestContext, SharedState } from '../context.js';
import type { Site, User } from '../directory.js';
import { EmulatorHttpError, readJson, sendJson } from '../request-io.js';
import type { TokenPrincipal } from '../access-tokens.js';
import type { DriveAccess } from './access.js';
import type { CopyMonitors } from './copies.js';
import type { DeltaFeeds } from './delta.js';
import type { DownloadUrls } from './downloads.js';
import { EXPAND_CHILDREN_LIMIT, SIMPLE_UPLOAD_LIMIT, type DriveRecord, type ItemRecord } from './model.js';
import { assertPathLength, assertValidName } from './name-rules.js';
import { encodeSkip, selectOf, skipOf, topOf, withQuery } from './query.js';
import { profileOf } from './profile.js';
import { parseGraphPath, type DriveRef, type GraphRoute, type VersionRef } from './route.js';
import { applySelect, driveJson, identityOf, isoSeconds, itemJson, tagMatches, type ItemView } from './serialize.js';
import { enrichmentFor } from './enrichment.js';
import { notFound, type ConflictBehavior, type DriveStore, type FileTimes } from './store.js';
import { preconditionFailed, type UploadSessions } from './upload-sessions.js';
import { versionsOf, type VersionView } from './versions.js';

type ItemRoute = Extract<GraphRoute, { kind: 'item' }>;

/** What an item route resolved to: the item, or the existing folder plus the names still missing. */
interface Target {
  drive: DriveRecord;
  view: ItemView;
  principal: TokenPrincipal;
  item?: ItemRecord;
  parent?: ItemRecord;
  missing?: string[];
}

/** The Graph v1.0 surface of the drive half: users, sites, drives, items. */
export class EmulatedDriveRoutes {
  constructor(
    private readonly shared: SharedState,
    private readonly store: DriveStore,
    private readonly access: DriveAccess,
    private readonly downloads: DownloadUrls,
    private readonly uploads: UploadSessions,
    private readonly copies: CopyMonitors,
    private readonly delta: DeltaFeeds,
    /** Whether the next upload's bytes get damaged (the service's corruptNextUploads). */
    private readonly hooks: { takeCorruption(size: number): boolean },
  ) {}

  async handle(ctx: RequestContext): Promise<boolean> {
    const raw = ctx.url.pathname.slice('/v1.0'.length);
    const { route, template } = parseGraphPath(raw, ctx.url.searchParams);
    ctx.setRoute(`${ctx.method} ${template}`);
    if (route.kind === 'unknown') return false;
    if (route.kind === 'monitor') {
      this.copies.serve(ctx, route.id);
      return true;
    }
    const principal = this.access.authenticate(ctx);
    if (route.kind === 'item') {
      await this.handleItem(ctx, principal, route);
      return true;
    }
    if (ctx.method !== 'GET') throw methodNotAllowed(ctx.method);
    switch (route.kind) {
      case 'me':
        sendJson(ctx.res, 200, this.userJson(this.access.me(principal)));
        return true;
      case 'user':
        sendJson(ctx.res, 200, this.userJson(this.access.user(principal, route.user)));
        return true;
      case 'followedSites': {
        const me = this.access.me(principal);
        const sites = this.shared.directory.sites.filter((s) => s.tenantId === me.tenantId && s.path !== '');
        sendJson(ctx.res, 200, { '@odata.context': `${this.graphBase}/$metadata#sites`, value: sites.map((s) => this.siteJson(s)) });
        return true;
      }
      case 'site':
        this.access.requireRead(principal);
        sendJson(ctx.res, 200, this.siteJson(this.access.site(principal, route.site)));
        return true;
      case 'drives': {
        this.access.requireRead(principal);
        const drive = this.access.drive(principal, route.owner);
        sendJson(ctx.res, 200, { '@odata.context': `${this.graphBase}/$metadata#drives`, value: [this.driveJson(drive)] });
        return true;
      }
      case 'drive': {
        this.access.requireRead(principal);
        const drive = this.access.drive(principal, route.drive);
        sendJson(ctx.res, 200, applySelect({ '@odata.context': `${this.graphBase}/$metadata#drives/$entity`, ...this.driveJson(drive) }, selectOf(ctx)));
        return true;
      }
    }
  }

  private get graphBase(): string {
    return `${this.shared.baseUrl}/v1.0`;
  }

  // ---- items --------------------------------------------------------------------------------

  private async handleItem(ctx: RequestContext, principal: TokenPrincipal, route: ItemRoute): Promise<void> {
    this.access.requireRead(principal);
    const target = this.resolve(ctx, principal, route);
    const { method } = ctx;
    const action = route.action;
    if (method === 'GET' && action === '') return this.getItem(ctx, target);
    if (method === 'GET' && action === 'children') return this.listChildren(ctx, target);
    if (method === 'GET' && action === 'content') return this.redirectToContent(ctx, target);
    if (method === 'GET' && action === 'delta') {
      if (!profileOf(target.drive, this.shared.directory).delta) throw deltaNotSupported();
      return this.delta.serve(ctx, target.view, existing(target));
    }
    if (action === 'versions') return this.handleVersions(ctx, target, route.version);
    this.access.requireWrite(principal);
    if (method === 'PATCH' && action === '') return this.updateItem(ctx, target);
    if (method === 'DELETE' && action === '') return this.deleteItem(ctx, target);
    if (method === 'POST' && action === 'children') return this.createChild(ctx, target);
    if (method === 'PUT' && action === 'content') return this.simpleUpload(ctx, target, route);
    if (method === 'POST' && action === 'createuploadsession') return this.createUploadSession(ctx, target, route);
    if (method === 'POST' && action === 'copy') return this.copyItem(ctx, target);
    throw methodNotAllowed(method);
  }

  private resolve(ctx: RequestContext, principal: TokenPrincipal, route: ItemRoute): Target {
    const drive = this.access.drive(principal, route.drive);
    const view = this.viewFor(drive, route.drive);
    let base: ItemRecord | undefined;
    if (route.base.by === 'root') base = this.store.root(drive.id);
    else {
      base = this.store.item(route.base.id);
      if (!base || base.driveId !== drive.id) throw notFound();
    }
    if (!route.segments) return { drive, view, principal, item: base };
    if (route.addressing === 'path' && !profileOf(drive, this.shared.directory).pathAddressing) {
      return { drive, view, principal, item: pathIgnored(ctx, route, base) };
    }
    const found = this.store.resolve(base, route.segments);
    return { drive, view, principal, ...found };
  }

  viewFor(drive: DriveRecord, ref: DriveRef): ItemView {
    return {
      store: this.store,
      drive,
      directory: this.shared.directory,
      pathPrefix: ref.by === 'id' ? `/drives/${drive.id}/root:` : '/drive/root:',
      downloadUrl: (item) => this.downloads.urlFor(item),
    };
  }

  private getItem(ctx: RequestContext, target: Target): void {
    const item = existing(target);
    const ifNoneMatch = ctx.req.headers['if-none-match'];
    if (ifNoneMatch && tagMatches(ifNoneMatch, item)) {
      ctx.res.writeHead(304);
      ctx.res.end();
      return;
    }
    const select = selectOf(ctx);
    const json = itemJson(target.view, item);
    const expand = (ctx.url.searchParams.get('$expand') ?? '').toLowerCase();
    if (/(^|,)\s*children\b/.test(expand)) {
      if (!item.isFolder) throw childrenOfNonFolder();
      // At most EXPAND_CHILDREN_LIMIT children and never a `children@odata.nextLink`: the rest is
      // reachable only through …/children (OneDrive/onedrive-api-docs#732: 200 of 6519 came back,
      // no nextLink; #422: where one was sent on OneDrive for Business it returned the same 200 again).
      json.children = this.store.firstChildren(item.id, EXPAND_CHILDREN_LIMIT).map((c) => applySelect(itemJson(target.view, c), selectOf(ctx, 'children')));
      if (select && !select.some((s) => s.toLowerCase() === 'children')) select.push('children');
    }
    sendJson(ctx.res, 200, { '@odata.context': `${this.graphBase}/$metadata#drives('${target.drive.id}')/items/$entity`, ...applySelect(json, select) });
  }

  private listChildren(ctx: RequestContext, target: Target): void {
    const folder = existing(target);
    if (!folder.isFolder) return sendJson(ctx.res, 200, { value: [] });
    const top = topOf(ctx);
    const offset = skipOf(ctx);
    const children = orderItems(this.store.childrenOf(folder.id), ctx.url.searchParams.get('$orderby'));
    const page = children.slice(offset, offset + top);
    const select = selectOf(ctx);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.graphBase}/$metadata#drives('${target.drive.id}')/items('${folder.id}')/children`,
      value: page.map((c) => applySelect(itemJson(target.view, c), select)),
    };
    if (offset + top < children.length) body['@odata.nextLink'] = withQuery(ctx, { $skiptoken: encodeSkip(offset + top) });
    sendJson(ctx.res, 200, body);
  }

  private redirectToContent(ctx: RequestContext, target: Target): void {
    const item = existing(target);
    if (item.isFolder) throw new EmulatorHttpError(400, 'invalidRequest', 'Folders have no content; list their children instead.');
    const ifNoneMatch = ctx.req.headers['if-none-match'];
    if (ifNoneMatch && tagMatches(ifNoneMatch, item)) {
      ctx.res.writeHead(304);
      ctx.res.end();
      return;
    }
    ctx.res.writeHead(302, { location: this.downloads.urlFor(item), 'content-length': 0 });
    ctx.res.end();
  }

  private async updateItem(ctx: RequestContext, target: Target): Promise<void> {
    const item = existing(target);
    checkIfMatch(ctx, item);
    const body = await readJson(ctx.req);
    const by = whoOf(target.principal);
    const asked = conflictBehaviorOf(ctx, body, 'fail');
    const profile = profileOf(target.drive, this.shared.directory);
    // Business drives answer nameAlreadyExists to a replacing move: OneDrive/onedrive-api-docs#1383.
    const behavior = asked === 'replace' && !profile.moveHonoursReplace ? 'fail' : asked;
    const ref = body.parentReference as Record<string, unknown> | undefined;
    const name = body.name;
    if (name !== undefined && typeof name !== 'string') throw new EmulatorHttpError(400, 'invalidRequest', "Property 'name' must be a string.");
    let newParent: ItemRecord | undefined;
    if (ref && (ref.id !== undefined || ref.path !== undefined)) {
      if (ref.driveId !== undefined && ref.driveId !== item.driveId) {
        throw new EmulatorHttpError(400, 'invalidRequest', 'Moving items between drives is not supported; copy the item and delete the original.');
      }
      newParent = this.parentFromReference(target, ref, { ignoreUnknownId: profile.unknownParentIdIgnored, refuseRootPath: profile.rootPathParentRefused });
    }
    if (name !== undefined || newParent) {
      this.store.move(item, newParent ?? this.store.item(item.parentId ?? '') ?? item, name ?? item.name, behavior, by, { resetModified: profile.moveResetsModified });
    }
    const fsi = body.fileSystemInfo as Record<string, unknown> | undefined;
    const times = fsi ? timesOf(fsi) : undefined;
    const description = typeof body.description === 'string' ? body.description : undefined;
    if (times || description !== undefined) this.store.update(item, { times, description, by });
    sendJson(ctx.res, 200, applySelect(itemJson(target.view, item), selectOf(ctx)));
  }

  /** The folder a parentReference names; undefined where the drive ignores an id it does not know (profile.unknownParentIdIgnored). */
  private parentFromReference(target: Target, ref: Record<string, unknown>, options: { ignoreUnknownId?: boolean; refuseRootPath?: boolean } = {}): ItemRecord | undefined {
    if (typeof ref.id === 'string') {
      const parent = this.store.item(ref.id);
      if (!parent || parent.driveId !== target.drive.id) {
        if (options.ignoreUnknownId) return undefined;
        throw notFound('The destination folder could not be found.');
      }
      return parent;
    }
    const path = String(ref.path);
    const m = /^\/drives?(?:\/[^/]+)?\/root:?(.*)$/.exec(path);
    if (!m) throw new EmulatorHttpError(400, 'invalidRequest', `parentReference.path '${path}' is not of the form /drive/root:/folder.`);
    const segments = m[1].split('/').filter(Boolean).map((s) => safeDecode(s));
    const found = this.store.resolve(this.store.root(target.drive.id), segments);
    if (!found.item) throw notFound('The destination folder could not be found.');
    if (found.item.parentId === null && options.refuseRootPath) {
      throw new EmulatorHttpError(400, 'invalidArgument', 'The argument is invalid, missing, or has an incorrect format');
    }
    return found.item;
  }

  private async deleteItem(ctx: RequestContext, target: Target): Promise<void> {
    const item = existing(target);
    checkIfMatch(ctx, item);
    ctx.req.resume();
    this.store.remove(item);
    ctx.res.writeHead(204);
    ctx.res.end();
  }

  private async createChild(ctx: RequestContext, target: Target): Promise<void> {
    const parent = existing(target);
    if (!parent.isFolder) throw new EmulatorHttpError(400, 'invalidRequest', 'Children can only be created in a folder.');
    const body = await readJson(ctx.req);
    const name = body.name;
    if (typeof name !== 'string') throw new EmulatorHttpError(400, 'invalidRequest', "The request body needs a 'name'.");
    const behavior = conflictBehaviorOf(ctx, body, 'fail');
    const by = whoOf(target.principal);
    let item: ItemRecord;
    if (body.folder !== undefined) {
      item = this.store.createFolder(parent, name, behavior, by).item;
    } else if (body.file !== undefined) {
      const empty = await this.store.blobs.writeStream(emptyStream(), 0, () => new Error('unreachable'), profileOf(target.drive, this.shared.directory));
      try {
        item = this.store.putFile(parent, name, empty, { behavior, by }).item;
      } catch (err) {
        await this.store.blobs.remove(empty.id);
        throw err;
      }
    } else {
      throw new EmulatorHttpError(400, 'invalidRequest', "The request body needs a 'folder' (or 'file') facet.");
    }
    const fsi = body.fileSystemInfo as Record<string, unknown> | undefined;
    if (fsi) this.store.update(item, { times: timesOf(fsi) });
    sendJson(ctx.res, 201, { '@odata.context': `${this.graphBase}/$metadata#drives('${target.drive.id}')/items/$entity`, ...itemJson(target.view, item) });
  }

  /** Where a write by path lands: an existing file, or parent + names (missing folders are created). */
  private writeTarget(target: Target, route: ItemRoute): { existing?: ItemRecord; parent: ItemRecord; names: string[] } {
    if (target.item) {
      if (target.item.isFolder) {
        if (!route.segments) throw new EmulatorHttpError(400, 'invalidRequest', 'Address the file by name: …/items/{parent-id}:/{name}:/content.');
        throw new EmulatorHttpError(409, 'nameAlreadyExists', `'${target.item.name}' is a folder; a file cannot replace it.`);
      }
      const parent = this.store.item(target.item.parentId ?? '');
      if (!parent) throw notFound();
      const asSpelled = route.segments?.length ? route.segments[route.segments.length - 1] : target.item.name;
      return { existing: target.item, parent, names: [asSpelled] };
    }
    const parent = target.parent!;
    const names = target.missing!;
    const parentPath = this.store.pathOf(parent);
    let path = parentPath;
    names.forEach((name, i) => {
      assertValidName(name, { atLibraryRoot: i === 0 && parent.parentId === null && target.drive.type === 'documentLibrary' });
      path = path ? `${path}/${name}` : name;
    });
    assertPathLength(path);
    return { parent, names };
  }

  private async simpleUpload(ctx: RequestContext, target: Target, route: ItemRoute): Promise<void> {
    const { req } = ctx;
    const dest = this.writeTarget(target, route);
    const behavior = conflictBehaviorOf(ctx, {}, 'replace');
    const ifMatch = req.headers['if-match'];
    if (ifMatch && (!dest.existing || !tagMatches(ifMatch, dest.existing))) throw preconditionFailed();
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch && dest.existing && tagMatches(ifNoneMatch, dest.existing)) throw preconditionFailed();
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    if (declared !== undefined && declared > SIMPLE_UPLOAD_LIMIT) throw tooLargeForSimpleUpload();
    if (declared !== undefined) this.store.assertRoomFor(target.drive.id, declared, dest.existing?.size ?? 0);
    const corrupt = declared === undefined || declared > 0 ? this.hooks.takeCorruption(declared ?? 1) : false;
    const profile = profileOf(target.drive, this.shared.directory);
    const append = enrichmentFor(profile, dest.names[dest.names.length - 1]);
    const blob = await this.store.blobs.writeStream(req, SIMPLE_UPLOAD_LIMIT, tooLargeForSimpleUpload, profile, { corrupt, append });
    try {
      const by = whoOf(target.principal);
      let result: { item: ItemRecord; created: boolean };
      // The body took a while to arrive: look at the target again.
      const current = dest.existing && this.store.item(dest.existing.id);
      if (ifMatch && (!current || !tagMatches(ifMatch, current))) throw preconditionFailed();
      if (current && behavior === 'replace') {
        result = { item: this.store.replaceContent(current, blob, by), created: false };
      } else {
        const folder = this.store.ensureFolders(dest.parent, dest.names.slice(0, -1), by);
        result = this.store.putFile(folder, dest.names[dest.names.length - 1], blob, { behavior, by });
      }
      sendJson(ctx.res, result.created ? 201 : 200, {
        '@odata.context': `${this.graphBase}/$metadata#drives('${target.drive.id}')/items/$entity`,
        ...itemJson(target.view, result.item),
      });
    } catch (err) {
      await this.store.blobs.remove(blob.id);
      throw err;
    }
  }

  private async createUploadSession(ctx: RequestContext, target: Target, route: ItemRoute): Promise<void> {
    const body = await readJson(ctx.req);
    const item = (body.item ?? {}) as Record<string, unknown>;
    const dest = this.writeTarget(target, route);
    const behavior = conflictBehaviorOf(ctx, item, 'replace');
    const ifMatch = ctx.req.headers['if-match'];
    if (ifMatch && (!dest.existing || !tagMatches(ifMatch, dest.existing))) throw preconditionFailed();
    const ifNoneMatch = ctx.req.headers['if-none-match'];
    if (ifNoneMatch && dest.existing && tagMatches(ifNoneMatch, dest.existing)) throw preconditionFailed();
    if (typeof item.fileSize === 'number') this.store.assertRoomFor(target.drive.id, item.fileSize, dest.existing?.size ?? 0);
    const fsi = item.fileSystemInfo as Record<string, unknown> | undefined;
    const byId = !route.segments && dest.existing;
    const session = this.uploads.create({
      driveId: target.drive.id,
      itemId: byId ? dest.existing!.id : undefined,
      parentId: byId ? undefined : dest.parent.id,
      names: byId ? undefined : dest.names,
      behavior,
      ifMatch,
      times: fsi ? timesOf(fsi) : {},
      by: whoOf(target.principal),
      pathPrefix: target.view.pathPrefix,
      total: typeof item.fileSize === 'number' ? item.fileSize : undefined,
    });
    sendJson(ctx.res, 200, { '@odata.context': `${this.graphBase}/$metadata#microsoft.graph.uploadSession`, ...this.uploads.describe(session) });
  }

  // ---- versions -----------------------------------------------------------------------------

  /** `…/versions`, `…/versions/{id}`, `…/versions/{id}/content`, `…/versions/{id}/restoreVersion`. */
  private async handleVersions(ctx: RequestContext, target: Target, ref: VersionRef | undefined): Promise<void> {
    const item = existing(target);
    if (item.isFolder) throw new EmulatorHttpError(400, 'invalidRequest', 'Folders have no versions; ask for the versions of a file.');
    const { method } = ctx;
    const versions = versionsOf(target.drive.type, item);
    if (!ref) {
      if (method !== 'GET') throw methodNotAllowed(method);
      return sendJson(ctx.res, 200, {
        '@odata.context': `${this.graphBase}/$metadata#drives('${target.drive.id}')/items('${item.id}')/versions`,
        value: versions.map((v) => this.versionJson(target, v)),
      });
    }
    if (ref.action === 'restoreversion') {
      if (method !== 'POST') throw methodNotAllowed(method);
      this.access.requireWrite(target.principal);
      ctx.req.resume();
      this.store.restoreVersion(item, ref.id, whoOf(target.principal));
      ctx.res.writeHead(204);
      ctx.res.end();
      return;
    }
    if (method !== 'GET') throw methodNotAllowed(method);
    const version = versions.find((v) => v.id === ref.id);
    if (!version) throw notFound(`The version '${ref.id}' could not be found. List the item's versions for valid ids.`);
    if (ref.action === 'content') {
      // As Graph does: the current version's bytes come from the item itself.
      if (version.current) throw new EmulatorHttpError(400, 'invalidRequest', 'You cannot get the content of the current version. Download the item itself (…/content).');
      ctx.res.writeHead(302, { location: this.downloads.urlFor(item, version), 'content-length': 0 });
      ctx.res.end();
      return;
    }
    const json = this.versionJson(target, version);
    if (!version.current) json['@microsoft.graph.downloadUrl'] = this.downloads.urlFor(item, version);
    sendJson(ctx.res, 200, { '@odata.context': `${this.graphBase}/$metadata#drives('${target.drive.id}')/items('${item.id}')/versions/$entity`, ...json });
  }

  private versionJson(target: Target, version: VersionView): Record<string, unknown> {
    const json: Record<string, unknown> = { id: version.id, lastModifiedDateTime: isoSeconds(version.modifiedAt), size: version.size };
    const by = identityOf(target.view, version.modifiedBy);
    if (by) json.lastModifiedBy = by;
    return json;
  }

  private async copyItem(ctx: RequestContext, target: Target): Promise<void> {
    const source = existing(target);
    if (source.parentId === null) throw new EmulatorHttpError(400, 'invalidRequest', 'The root folder cannot be copied.');
    const body = await readJson(ctx.req);
    const behavior = conflictBehaviorOf(ctx, body, 'fail');
    const ref = (body.parentReference ?? {}) as Record<string, unknown>;
    let destDrive = target.drive;
    if (typeof ref.driveId === 'string' && ref.driveId !== target.drive.id) {
      destDrive = this.access.drive(target.principal, { by: 'id', id: ref.driveId });
    }
    const destTarget: Target = { ...target, drive: destDrive };
    let destParent: ItemRecord;
    const ignoreUnknownId = profileOf(destDrive, this.shared.directory).unknownParentIdIgnored;
    if (ref.id !== undefined || ref.path !== undefined) destParent = this.parentFromReference(destTarget, ref, { ignoreUnknownId }) ?? this.store.item(source.parentId)!;
    else if (destDrive.id === target.drive.id) destParent = this.store.item(source.parentId)!;
    else destParent = this.store.root(destDrive.id);
    if (!destParent.isFolder) throw new EmulatorHttpError(400, 'invalidRequest', 'The copy destination is not a folder.');
    const name = typeof body.name === 'string' ? body.name : source.name;
    assertValidName(name, { atLibraryRoot: destParent.parentId === null && destDrive.type === 'documentLibrary' });
    const by = whoOf(target.principal);
    const resetModified = profileOf(destDrive, this.shared.directory).copyResetsModified;
    const id = this.copies.start(() => this.store.copy(source, destParent, name, behavior, by, { resetModified }).id);
    ctx.res.writeHead(202, { location: `${this.graphBase}/monitor/${id}`, 'content-length': 0 });
    ctx.res.end();
  }

  // ---- resources ----------------------------------------------------------------------------

  driveJson(drive: DriveRecord): Record<string, unknown> {
    return driveJson({ store: this.store, drive, directory: this.shared.directory });
  }

  private userJson(user: User): Record<string, unknown> {
    const [givenName, ...rest] = user.displayName.split(' ');
    return {
      '@odata.context': `${this.graphBase}/$metadata#users/$entity`,
      businessPhones: [],
      displayName: user.displayName,
      givenName,
      jobTitle: null,
      mail: user.mail,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: 'en-US',
      surname: rest.join(' ') || null,
      userPrincipalName: user.userPrincipalName,
      id: user.id,
    };
  }

  private siteJson(site: Site): Record<string, unknown> {
    const tenant = this.shared.directory.tenants.find((t) => t.id === site.tenantId);
    const host = tenant?.sharepointHost ?? 'sharepoint.com';
    const drive = this.store.drive(site.driveId);
    const json: Record<string, unknown> = {
      createdDateTime: new Date(drive?.createdAt ?? 0).toISOString(),
      description: '',
      id: site.id,
      lastModifiedDateTime: new Date(drive?.createdAt ?? 0).toISOString(),
      name: site.path ? site.path.split('/').pop() : '',
      webUrl: `https://${host}${site.path}`,
      displayName: site.displayName,
      siteCollection: { hostname: host },
    };
    if (site.path === '') json.root = {};
    return json;
  }
}

function existing(target: Target): ItemRecord {
  if (!target.item) throw notFound();
  return target.item;
}

/**
 * Path addressing (`root:/a/b:`, `items/{id}:/a:`) where the cloud does not serve it (21Vianet):
 * the service drops the path and answers for the item it was based on. A GET answers 200 with that
 * item (rclone/rclone#3973: `items/{root-id}:/ObviouslyNotExist:` returned the root folder); an
 * upload onto a folder answers notSupported "Cannot upload content to an item representing a folder."
 * (microsoftgraph/microsoft-graph-docs#12238; 501 as in microsoftgraph/msgraph-sdk-python#894).
 * Other writes are reported only as "invalid request" (rclone/rclone backend/onedrive/onedrive.go,
 * "URL Build routine area"): the emulator refuses them with 400 rather than acting on the base item,
 * which keeps data safe. The reports concern `/drives/{id}`; the emulator applies it to every drive
 * reference (clients must address by id there in any case).
 */
function pathIgnored(ctx: RequestContext, route: ItemRoute, base: ItemRecord): ItemRecord {
  const { method } = ctx;
  if (method === 'GET' && (route.action === '' || route.action === 'children' || route.action === 'content')) return base;
  const upload = (method === 'PUT' && route.action === 'content') || (method === 'POST' && route.action === 'createuploadsession');
  if (upload && base.isFolder) throw new EmulatorHttpError(501, 'notSupported', 'Cannot upload content to an item representing a folder.');
  throw new EmulatorHttpError(400, 'invalidRequest', 'Invalid request');
}

/** `…/delta` in 21Vianet. rclone/rclone#6444 ("BadRequest: Unsupported request: Change tracking is not supported against 'microsoft.graph.driveItem'.") */
function deltaNotSupported(): EmulatorHttpError {
  return new EmulatorHttpError(400, 'BadRequest', "Unsupported request: Change tracking is not supported against 'microsoft.graph.driveItem'.");
}

/**
 * `$expand=children` on a file. https://learn.microsoft.com/en-us/answers/questions/5825597/microsoft-graph-returns-422-when-using-expand-chil
 * (422 notSupported "Children cannot be listed from an item that is not a folder", inner unprocessableEntity / getChildrenOnNonFolder).
 */
function childrenOfNonFolder(): EmulatorHttpError {
  return new EmulatorHttpError(422, 'notSupported', 'Children cannot be listed from an item that is not a folder', {}, 'unprocessableEntity');
}

function methodNotAllowed(method: string): EmulatorHttpError {
  return new EmulatorHttpError(405, 'invalidRequest', `The ${method} method is not allowed on this resource.`);
}

function checkIfMatch(ctx: RequestContext, item: ItemRecord): void {
  const ifMatch = ctx.req.headers['if-match'];
  if (ifMatch && !tagMatches(ifMatch, item)) throw preconditionFailed();
}

function tooLargeForSimpleUpload(): EmulatorHttpError {
  return new EmulatorHttpError(
    413,
    'requestTooLarge',
    `Simple upload (PUT …/content) accepts at most ${SIMPLE_UPLOAD_LIMIT} bytes (4 MiB). Use createUploadSession for larger files.`,
    {},
    'maxStreamSizeExceeded',
  );
}

function whoOf(principal: TokenPrincipal): string {
  return principal.appOnly ? `app:${principal.clientId}` : principal.userId!;
}

const BEHAVIORS = new Set(['fail', 'replace', 'rename']);

/** `@microsoft.graph.conflictBehavior` from the body (item facet) or the query string. */
function conflictBehaviorOf(ctx: RequestContext, body: Record<string, unknown>, fallback: ConflictBehavior): ConflictBehavior {
  const value = body['@microsoft.graph.conflictBehavior'] ?? ctx.url.searchParams.get('@microsoft.graph.conflictBehavior') ?? ctx.url.searchParams.get('@name.conflictBehavior');
  if (value === undefined || value === null) return fallback;
  const text = String(value).toLowerCase();
  if (!BEHAVIORS.has(text)) throw new EmulatorHttpError(400, 'invalidRequest', `Invalid conflictBehavior '${String(value)}': use fail, replace or rename.`);
  return text as ConflictBehavior;
}

function timesOf(fsi: Record<string, unknown>): FileTimes {
  const parse = (v: unknown): number | undefined => {
    if (v === undefined || v === null) return undefined;
    const ms = Date.parse(String(v));
    if (Number.isNaN(ms)) throw new EmulatorHttpError(400, 'invalidRequest', `Invalid date '${String(v)}' in fileSystemInfo; use ISO 8601.`);
    return ms;
  };
  return { fsCreatedAt: parse(fsi.createdDateTime), fsModifiedAt: parse(fsi.lastModifiedDateTime) };
}

function orderItems(items: ItemRecord[], orderby: string | null): ItemRecord[] {
  if (!orderby) return items;
  const [field, dir] = orderby.trim().split(/\s+/);
  const sign = dir?.toLowerCase() === 'desc' ? -1 : 1;
  const key = (i: ItemRecord): string | number => {
    switch (field.toLowerCase()) {
      case 'name':
        return i.name.toLowerCase();
      case 'size':
        return i.size;
      case 'lastmodifieddatetime':
        return i.modifiedAt;
      case 'createddatetime':
        return i.createdAt;
      default:
        throw new EmulatorHttpError(400, 'invalidRequest', `Ordering by '${field}' is not supported; use name, size, lastModifiedDateTime or createdDateTime.`);
    }
  };
  return [...items].sort((a, b) => (key(a) < key(b) ? -sign : key(a) > key(b) ? sign : 0));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

async function* emptyStream(): AsyncGenerator<Buffer> {}
