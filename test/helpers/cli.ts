import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The checkout the tests run from. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Node arguments that run the onedav CLI from its TypeScript source through tsx, as `npm run
 * onedav` does, so a test always runs the code under test, never a stale dist/ (bin/onedav.js runs
 * the compiled dist/; test/cli/package.test.ts covers that path). Usage:
 * `spawn(process.execPath, sourceCli('serve', '--port', '0'))`.
 */
export function sourceCli(...args: string[]): string[] {
  return sourceCliOf(REPO, ...args);
}

/** `sourceCli` for the checkout at `repo` (bench compares two checkouts); tsx is this one's. */
export function sourceCliOf(repo: string, ...args: string[]): string[] {
  return ['--import', TSX_LOADER, join(repo, 'src/cli/main.ts'), ...args];
}
