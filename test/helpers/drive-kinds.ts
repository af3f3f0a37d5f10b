import { defaultDirectory } from '../../src/emulator/directory.js';
import { ADELE, LEI, type StackMount } from './stack.js';

/**
 * The drives the real-client tests run against, one per kind the service treats differently
 * (issue 11; docs/graph-reality.md): a OneDrive for Business drive, a SharePoint document library
 * and a OneDrive for Business drive in 21Vianet (china), where Graph has no path addressing and
 * no delta, so onedav must navigate by id.
 */
export interface DriveKind {
  /** Shown in the test names. */
  name: 'business' | 'documentLibrary' | 'china';
  /** The stack mount, without its prefix. */
  mount: Omit<StackMount, 'prefix'>;
}

/** Contoso's team site (global cloud); its document library is a `documentLibrary` drive. */
export const CONTOSO_TEAM_SITE = siteId('contoso.sharepoint.com', '/sites/team');

export const DRIVE_KINDS: DriveKind[] = [
  { name: 'business', mount: { user: ADELE } },
  { name: 'documentLibrary', mount: { user: ADELE, site: CONTOSO_TEAM_SITE } },
  // The stack gives Lei's mount the features of her tenant's cloud (graphFeaturesOf('china')), as onedav serve does.
  { name: 'china', mount: { user: LEI } },
];

/** A stack mount of `kind` at `prefix`. */
export function mountOf(kind: DriveKind, prefix = '/'): StackMount {
  return { prefix, ...kind.mount };
}

function siteId(host: string, path: string): string {
  const site = defaultDirectory().sites.find((s) => s.id.startsWith(`${host},`) && s.path === path);
  if (!site) throw new Error(`the emulator's directory has no site ${host}${path}`);
  return site.id;
}
