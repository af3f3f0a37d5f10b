import type { DriveProfile } from './profile.js';

/**
 * SharePoint-backed storage (OneDrive for Business, document libraries) rewrites some files as
 * they are committed: it writes its own metadata into them, so the stored size and hashes differ
 * from the bytes that were sent. Reported for Office documents, PDF and HTML
 * (OneDrive/onedrive-api-docs#935; abraunegg/onedrive#2654, abraunegg/onedrive#3032;
 * rclone docs/content/onedrive.md "Unexpected file size/hash differences on Sharepoint") and for
 * JPEG images, which grow by about 12 bytes (microsoftgraph/microsoft-graph-docs-contrib#8903).
 * Plain text is stored as sent (OneDrive/onedrive-api-docs#935). Whether a drive does this at all
 * is `DriveProfile.rewritesUploads`.
 */
const REWRITTEN = new Set([
  // Word, Excel, PowerPoint (binary and Open XML, with macros and templates)
  'doc', 'docx', 'docm', 'dot', 'dotx', 'dotm',
  'xls', 'xlsx', 'xlsm', 'xlsb', 'xlt', 'xltx', 'xltm',
  'ppt', 'pptx', 'pptm', 'pot', 'potx', 'potm', 'pps', 'ppsx', 'ppsm',
  'pdf', 'htm', 'html',
  'jpg', 'jpeg',
]);

/** Whether SharePoint rewrites a file of this name on commit. */
export function isRewrittenOnCommit(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && REWRITTEN.has(name.slice(dot + 1).toLowerCase());
}

/**
 * What the emulator adds to such a file: a fixed trailer, so the change is deterministic (the same
 * upload always stores the same bytes) and tests can compute the stored content. 12 bytes, the
 * growth reported for JPEGs.
 */
export const ENRICHMENT_TRAILER = Buffer.from('<SPMetadata>', 'latin1');

/** The bytes the service appends to this upload on this drive, if any (empty files stay empty). */
export function enrichmentFor(profile: Pick<DriveProfile, 'rewritesUploads'>, name: string): Buffer | undefined {
  return profile.rewritesUploads && isRewrittenOnCommit(name) ? ENRICHMENT_TRAILER : undefined;
}
