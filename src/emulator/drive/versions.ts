import type { DriveType, ItemRecord, VersionRecord } from './model.js';

/**
 * How driveItemVersion ids are spelled. SharePoint and OneDrive for Business number major versions
 * `1.0`, `2.0`, …; OneDrive personal calls the current version `current` and gives earlier ones
 * opaque ids (seen as `107-70`), which only change when a version stops being current.
 */
export function versionId(type: DriveType, number: number, current: boolean): string {
  if (type !== 'personal') return `${number}.0`;
  return current ? 'current' : `${number}-0`;
}

/** A version as the versions API lists it: the current content first, then older ones, newest first. */
export interface VersionView {
  id: string;
  number: number;
  current: boolean;
  blobId: string;
  size: number;
  modifiedAt: number;
  modifiedBy?: string;
}

export function versionsOf(type: DriveType, item: ItemRecord): VersionView[] {
  const number = item.versionNumber ?? 1;
  const current: VersionView = {
    id: versionId(type, number, true),
    number,
    current: true,
    blobId: item.blobId ?? '',
    size: item.size,
    modifiedAt: item.contentModifiedAt ?? item.modifiedAt,
    modifiedBy: item.modifiedBy,
  };
  const older = [...(item.versions ?? [])].reverse().map((v: VersionRecord) => ({
    id: v.id,
    number: v.number,
    current: false,
    blobId: v.blobId,
    size: v.size,
    modifiedAt: v.modifiedAt,
    modifiedBy: v.modifiedBy,
  }));
  return [current, ...older];
}
