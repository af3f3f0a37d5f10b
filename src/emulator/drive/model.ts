/**
 * What the drive half of the emulator remembers: drives (one per user, one library per site)
 * and their items. Everything here is plain data so it can be written to disk as JSON.
 */
export type DriveType = 'personal' | 'business' | 'documentLibrary';

export interface DriveRecord {
  id: string;
  type: DriveType;
  tenantId: string;
  name: string;
  /** Owner user id for OneDrives; absent for site libraries. */
  ownerUserId?: string;
  siteId?: string;
  quotaTotal: number;
  rootId: string;
  /** Base of every webUrl in this drive (no trailing slash). */
  webUrl: string;
  createdAt: number;
  /** Change sequence of the drive: every change to an item takes the next number (delta tokens). */
  seq: number;
  /** Counter for personal-drive item ids (`DRIVEID!n`). */
  nextItemNumber: number;
}

export interface ItemRecord {
  id: string;
  driveId: string;
  /** null only for the root. */
  parentId: string | null;
  name: string;
  isFolder: boolean;
  /** Server times (ms since epoch). */
  createdAt: number;
  modifiedAt: number;
  /** Client-settable times (fileSystemInfo), ms since epoch. */
  fsCreatedAt: number;
  fsModifiedAt: number;
  /** GUID the eTag/cTag carry, as SharePoint does. */
  tagGuid: string;
  eTagVersion: number;
  cTagVersion: number;
  /** Files: content size; folders: total size of everything below. */
  size: number;
  blobId?: string;
  mimeType?: string;
  quickXorHash?: string;
  sha1Hash?: string;
  description?: string;
  createdBy?: string;
  modifiedBy?: string;
  /** Set when the item went to the recycle bin; it stays as a tombstone for delta. */
  deletedAt?: number;
  /** Drive change sequence number of the item's last change. */
  seq: number;
  /** Files: when the current content was written (ms); the current version's lastModifiedDateTime. */
  contentModifiedAt?: number;
  /** Files: number of the current version (1 for a new file; absent in data saved before versions). */
  versionNumber?: number;
  /** Files: earlier contents, oldest first (the current content is the item itself). */
  versions?: VersionRecord[];
}

/** An earlier content of a file, kept when new content replaced it (driveItemVersion). */
export interface VersionRecord {
  number: number;
  id: string;
  blobId: string;
  size: number;
  quickXorHash: string;
  sha1Hash?: string;
  /** When this content became current (ms). */
  modifiedAt: number;
  modifiedBy?: string;
}

export const MiB = 1024 * 1024;
/** Graph's limit for a simple PUT …/content upload. */
export const SIMPLE_UPLOAD_LIMIT = 4 * MiB;
/** Upload-session fragments must be multiples of this (except the last). */
export const FRAGMENT_MULTIPLE = 327_680;
/** Largest fragment one PUT to an upload URL may carry. */
export const MAX_FRAGMENT = 60 * MiB;
/** Decoded path length limit (OneDrive / SharePoint). */
export const MAX_PATH_LENGTH = 400;
/** Longest single name OneDrive accepts. */
export const MAX_NAME_LENGTH = 255;
/** Default and largest page size for collections. */
export const DEFAULT_PAGE_SIZE = 200;
export const MAX_PAGE_SIZE = 1000;
/**
 * Children a `GET …/items/{id}?$expand=children` carries at most, with no nextLink for the rest.
 * Undocumented; the observed figure: OneDrive/onedrive-api-docs#732 (200 of 6519), #422 (200 per answer).
 */
export const EXPAND_CHILDREN_LIMIT = 200;
/**
 * Earlier versions kept per file: OneDrive personal keeps 25, OneDrive for Business and SharePoint
 * libraries 500 major versions by default; beyond that the oldest goes.
 */
export const MAX_VERSIONS: Record<DriveType, number> = { personal: 25, business: 500, documentLibrary: 500 };
