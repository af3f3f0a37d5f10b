import { isRewrittenBySharePoint } from '../../graph/sharepoint-rewrites.js';
import type { DriveProfile } from './profile.js';

/**
 * What the emulator adds to a file SharePoint rewrites on commit (which files: see
 * src/graph/sharepoint-rewrites.ts, with its sources): a fixed trailer, so the change is
 * deterministic (the same upload always stores the same bytes) and tests can compute the stored
 * content. 12 bytes, the growth reported for JPEGs (microsoftgraph/microsoft-graph-docs-contrib#8903).
 */
export const ENRICHMENT_TRAILER = Buffer.from('<SPMetadata>', 'latin1');

/** The bytes the service appends to this upload on this drive, if any (empty files stay empty). */
export function enrichmentFor(profile: Pick<DriveProfile, 'rewritesUploads'>, name: string): Buffer | undefined {
  return profile.rewritesUploads && isRewrittenBySharePoint(name) ? ENRICHMENT_TRAILER : undefined;
}
