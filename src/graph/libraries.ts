import type { GraphClient } from './client.js';
import { driveBasePath } from './paths.js';

interface DriveSummary {
  id: string;
  name: string;
}

/**
 * The drive id of a named document library of a site (`/sites/{site}/drives`), for mounts that
 * serve a library other than the site's default one. Names compare case-insensitively, as
 * SharePoint does.
 */
export async function resolveLibrary(client: GraphClient, site: string, library: string): Promise<string> {
  const sitePath = driveBasePath({ type: 'site', site }).replace(/\/drive$/, '');
  const drives: DriveSummary[] = [];
  for await (const page of client.pages<DriveSummary>({ method: 'GET', path: `${sitePath}/drives`, query: { $select: 'id,name' }, route: 'GET /sites/{site}/drives' })) {
    drives.push(...page.value);
  }
  const wanted = library.toLowerCase();
  const found = drives.find((d) => d.name.toLowerCase() === wanted);
  if (!found) {
    throw new Error(`site ${site} has no document library named "${library}" (it has: ${drives.map((d) => `"${d.name}"`).join(', ') || 'none'})`);
  }
  return found.id;
}
