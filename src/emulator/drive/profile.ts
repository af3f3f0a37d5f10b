import type { Directory, EmulatedCloud } from '../directory.js';
import type { DriveRecord, DriveType } from './model.js';

/**
 * How the real service behaves for one drive: the drive type (OneDrive personal, OneDrive for
 * Business, a SharePoint document library) and the national cloud of the tenant that owns it.
 * Every handler that models a behaviour which differs by drive type or cloud asks the profile,
 * never `drive.type` or the tenant directly, so the differences live in this one table.
 * Each field cites where the behaviour comes from; where Microsoft's docs are silent the choice
 * is the one that keeps the user's data safe, and says so.
 */
export interface DriveProfile {
  type: DriveType;
  cloud: EmulatedCloud;
  /**
   * SharePoint-backed storage rewrites some uploaded files on commit (Office documents get their
   * metadata updated), so the stored size and quickXorHash differ from what was sent.
   * rclone docs/content/onedrive.md "Unexpected file size/hash differences on Sharepoint"; OneDrive/onedrive-api-docs#935
   */
  rewritesUploads: boolean;
  /**
   * A second createUploadSession for a file that already has an open session answers 409
   * nameAlreadyExists, even with conflictBehavior replace; personal OneDrive hands out a new one.
   * OneDrive/onedrive-api-docs#747; microsoftgraph/microsoft-graph-docs-contrib#412
   */
  oneUploadSessionPerFile: boolean;
  /**
   * Path-based addressing (`root:/a/b:`, `items/{id}:/name:`) works. Not in 21Vianet.
   * rclone backend/onedrive/onedrive.go (China: "path based addressing doesn't work"); rclone/rclone#3973
   */
  pathAddressing: boolean;
  /** `…/delta` is served. Not in 21Vianet. rclone/rclone#6444 */
  delta: boolean;
  /**
   * A PATCH that moves an item resets fileSystemInfo.lastModifiedDateTime unless the request
   * sets it again. rclone backend/onedrive/onedrive.go Move ("it gets reset otherwise")
   */
  moveResetsModified: boolean;
  /**
   * A server-side copy does not carry fileSystemInfo.lastModifiedDateTime: every item the copy
   * creates is stamped with the time of the copy; the client sets it afterwards.
   * rclone backend/onedrive/onedrive.go Copy ("Copy does NOT copy the modTime from the source")
   */
  copyResetsModified: boolean;
  /**
   * Folders carry a cTag (changed whenever anything below them changes). OneDrive for Business and
   * SharePoint libraries return none for folders.
   * https://learn.microsoft.com/graph/api/resources/driveitem ("the cTag property isn't returned, if the driveItem has a folder facet")
   */
  folderCTag: boolean;
  /**
   * A move (PATCH parentReference/name) with `@microsoft.graph.conflictBehavior=replace` replaces
   * an item of the same name. Reported to work on personal OneDrive (OneDrive/onedrive-api-docs#820);
   * on a business drive it answers 409 nameAlreadyExists anyway (OneDrive/onedrive-api-docs#1383).
   * The driveItem-move docs do not list the parameter (https://learn.microsoft.com/en-us/graph/api/driveitem-move).
   */
  moveHonoursReplace: boolean;
  /**
   * A move or copy whose parentReference.id names no item of the drive is not refused: the move
   * renames the item where it is, the copy lands beside its source, both answering success
   * (OneDrive/onedrive-api-docs#1381, on a SharePoint-backed drive; a bad parentReference.path is
   * refused there). Not reported for personal OneDrive: refused with 404 there, the safe answer.
   */
  unknownParentIdIgnored: boolean;
  /**
   * A move whose parentReference names the root by path (`/drive/root:`) is refused with 400 on
   * OneDrive for Business, while paths of other folders work (OneDrive/onedrive-api-docs#156, #132);
   * the root is reached by its id. Personal OneDrive took the path (microsoftgraph/microsoft-graph-docs#3832).
   */
  rootPathParentRefused: boolean;
  /**
   * Longest lifetime of a `@microsoft.graph.downloadUrl` (seconds); the emulator setting may only
   * shorten it. Microsoft says both "1 hour" (https://learn.microsoft.com/graph/api/resources/driveitem)
   * and "a few minutes" (https://learn.microsoft.com/graph/api/driveitem-get-content); SharePoint-backed
   * drives get the short one (3 minutes), so a client that trusts a URL longer fails here first.
   */
  downloadUrlMaxLifetimeSec: number;
  /**
   * Files carry `sha1Hash` besides `quickXorHash` (personal OneDrive); business drives and libraries
   * report quickXorHash alone. OneDrive/onedrive-api-docs#1157 (both drive types' upload answers).
   */
  sha1Hash: boolean;
}

type TypeFacts = Omit<DriveProfile, 'type' | 'cloud' | 'pathAddressing' | 'delta'>;
type CloudFacts = Pick<DriveProfile, 'pathAddressing' | 'delta'>;

const BY_TYPE: Record<DriveType, TypeFacts> = {
  personal: { rewritesUploads: false, oneUploadSessionPerFile: false, moveResetsModified: true, copyResetsModified: true, folderCTag: true, moveHonoursReplace: true, unknownParentIdIgnored: false, rootPathParentRefused: false, downloadUrlMaxLifetimeSec: 3600, sha1Hash: true },
  business: { rewritesUploads: true, oneUploadSessionPerFile: true, moveResetsModified: true, copyResetsModified: true, folderCTag: false, moveHonoursReplace: false, unknownParentIdIgnored: true, rootPathParentRefused: true, downloadUrlMaxLifetimeSec: 180, sha1Hash: false },
  documentLibrary: { rewritesUploads: true, oneUploadSessionPerFile: true, moveResetsModified: true, copyResetsModified: true, folderCTag: false, moveHonoursReplace: false, unknownParentIdIgnored: true, rootPathParentRefused: true, downloadUrlMaxLifetimeSec: 180, sha1Hash: false },
};

const BY_CLOUD: Record<EmulatedCloud, CloudFacts> = {
  global: { pathAddressing: true, delta: true },
  china: { pathAddressing: false, delta: false },
  usgov: { pathAddressing: true, delta: true },
  usgovdod: { pathAddressing: true, delta: true },
};

/** The profile of a drive: its type's facts and its tenant's cloud's facts. */
export function profileOf(drive: DriveRecord, directory: Directory): DriveProfile {
  const cloud = directory.tenants.find((t) => t.id === drive.tenantId)?.cloud ?? 'global';
  return { type: drive.type, cloud, ...BY_TYPE[drive.type], ...BY_CLOUD[cloud] };
}
