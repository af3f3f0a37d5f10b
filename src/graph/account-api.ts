import type { GraphClient } from './client.js';
import { driveBasePath } from './paths.js';

/**
 * Typed Graph calls about an account rather than one drive's items: which drives and sites it can
 * reach (`onedav discover`), and the drive id of a named document library (mounts with `library`).
 * Collections are read to their last page (https://learn.microsoft.com/graph/paging).
 */
export interface DriveQuota {
  total?: number;
  used?: number;
  remaining?: number;
  state?: string;
}

export interface DriveSummary {
  id: string;
  name?: string;
  driveType?: string;
  webUrl?: string;
  quota?: DriveQuota;
}

export interface SiteSummary {
  id: string;
  displayName?: string;
  webUrl?: string;
}

/** Whose drives: the signed-in user, or a named user for app-only access. */
export type DriveOwner = { by: 'me' } | { by: 'user'; upn: string };

export class AccountApi {
  constructor(private readonly client: GraphClient) {}

  /** https://learn.microsoft.com/graph/api/drive-get: the owner's OneDrive (MyFiles). */
  async defaultDrive(owner: DriveOwner): Promise<DriveSummary> {
    const route = owner.by === 'me' ? 'GET /me/drive' : 'GET /users/{user}/drive';
    return driveSummary((await this.client.request<Record<string, unknown>>({ method: 'GET', path: `${ownerPath(owner)}/drive`, route })).body);
  }

  /** https://learn.microsoft.com/graph/api/drive-list: every drive the owner has. */
  async drives(owner: DriveOwner): Promise<DriveSummary[]> {
    const route = owner.by === 'me' ? 'GET /me/drives' : 'GET /users/{user}/drives';
    return (await this.all<Record<string, unknown>>(`${ownerPath(owner)}/drives`, route)).map(driveSummary);
  }

  /** https://learn.microsoft.com/graph/api/site-get: the tenant's root site (work or school accounts only). */
  async rootSite(): Promise<SiteSummary> {
    return siteSummary((await this.client.request<Record<string, unknown>>({ method: 'GET', path: '/sites/root', route: 'GET /sites/root' })).body);
  }

  /** https://learn.microsoft.com/graph/api/sites-list-followed: sites the signed-in user follows. */
  async followedSites(): Promise<SiteSummary[]> {
    return (await this.all<Record<string, unknown>>('/me/followedSites', 'GET /me/followedSites')).map(siteSummary);
  }

  /** https://learn.microsoft.com/graph/api/drive-list: a site's document libraries, by site id or `host:/path` reference. */
  async siteDrives(site: string): Promise<DriveSummary[]> {
    const sitePath = driveBasePath({ type: 'site', site }).replace(/\/drive$/, '');
    return (await this.all<Record<string, unknown>>(`${sitePath}/drives`, 'GET /sites/{site}/drives')).map(driveSummary);
  }

  /**
   * The drive id of a named document library of a site, for mounts that serve a library other than
   * the site's default one. Names compare case-insensitively, as SharePoint does.
   */
  async libraryDriveId(site: string, library: string): Promise<string> {
    const drives = await this.siteDrives(site);
    const wanted = library.toLowerCase();
    const found = drives.find((d) => d.name?.toLowerCase() === wanted);
    if (!found) {
      throw new Error(`site ${site} has no document library named "${library}" (it has: ${drives.map((d) => `"${d.name}"`).join(', ') || 'none'})`);
    }
    return found.id;
  }

  private async all<T>(path: string, route: string): Promise<T[]> {
    const items: T[] = [];
    for await (const page of this.client.pages<T>({ method: 'GET', path, route })) items.push(...page.value);
    return items;
  }
}

function ownerPath(owner: DriveOwner): string {
  return owner.by === 'me' ? '/me' : `/users/${encodeURIComponent(owner.upn)}`;
}

function driveSummary(raw: Record<string, unknown>): DriveSummary {
  return {
    id: String(raw.id),
    name: optionalString(raw.name),
    driveType: optionalString(raw.driveType),
    webUrl: optionalString(raw.webUrl),
    quota: typeof raw.quota === 'object' && raw.quota !== null ? (raw.quota as DriveQuota) : undefined,
  };
}

function siteSummary(raw: Record<string, unknown>): SiteSummary {
  return { id: String(raw.id), displayName: optionalString(raw.displayName), webUrl: optionalString(raw.webUrl) };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
