/** The part of Graph's driveItem we read. Everything else is left out by `$select`. */
export interface DriveItem {
  id: string;
  name: string;
  size?: number;
  eTag?: string;
  cTag?: string;
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  fileSystemInfo?: { createdDateTime?: string; lastModifiedDateTime?: string };
  file?: { mimeType?: string; hashes?: { quickXorHash?: string; sha1Hash?: string; sha256Hash?: string } };
  folder?: { childCount?: number };
  /** Present on the root. */
  root?: Record<string, unknown>;
  /** OneNote notebooks and other non-file, non-folder items. */
  package?: { type?: string };
  parentReference?: { driveId?: string; id?: string; path?: string };
  /** Delta feeds: the item was deleted. */
  deleted?: { state?: string };
  '@microsoft.graph.downloadUrl'?: string;
  /** Only with `$expand=children`: the first EXPAND_CHILDREN_LIMIT children at most. */
  children?: DriveItem[];
}

/** What every item request selects: only what the drive facade serves. */
export const ITEM_SELECT = [
  'id',
  'name',
  'size',
  'eTag',
  'cTag',
  'createdDateTime',
  'lastModifiedDateTime',
  'fileSystemInfo',
  'file',
  'folder',
  'root',
  'package',
  'parentReference',
].join(',');

/** The same plus the pre-authenticated download URL (only where we want one: it costs Graph work). */
export const ITEM_SELECT_WITH_DOWNLOAD_URL = `${ITEM_SELECT},@microsoft.graph.downloadUrl`;

/**
 * Children listings with each file's download URL. Selected as `content.downloadUrl` (Graph answers
 * with `@microsoft.graph.downloadUrl`): a SharePoint library's children listing ignores the
 * annotation's own name in `$select` and honours this one (OneDrive/onedrive-api-docs#1434,
 * microsoftgraph/microsoft-graph-docs#11671); personal OneDrive takes it too (OneDrive/onedrive-api-docs#606).
 */
export const CHILD_SELECT_WITH_DOWNLOAD_URL = `${ITEM_SELECT},content.downloadUrl`;

/** Delta needs `deleted` as well. */
export const DELTA_SELECT = `${ITEM_SELECT},deleted`;

/**
 * Children a `GET item?$expand=children` carries at most; Graph sends no nextLink for the rest
 * (undocumented; observed: OneDrive/onedrive-api-docs#732 "200 of them are returned expanded, but
 * there is no @odata.nextLink", #422 where one came back on OneDrive for Business it served the same
 * 200 again). An expansion is only taken as the whole listing when it is provably complete.
 */
export const EXPAND_CHILDREN_LIMIT = 200;

/** Graph's largest page for children listings and delta. */
export const MAX_PAGE_SIZE = 1000;

export interface Quota {
  total?: number;
  used?: number;
  remaining?: number;
  deleted?: number;
  state?: string;
}

export interface UploadSession {
  uploadUrl: string;
  expirationDateTime?: string;
  nextExpectedRanges?: string[];
}

export interface DriveItemVersion {
  id: string;
  lastModifiedDateTime?: string;
  size?: number;
}
