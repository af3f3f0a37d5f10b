import type { ChildProcess } from 'node:child_process';
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

/** What a started `onedav serve` printed so far (stdout and stderr together). */
export interface Printed {
  text: string;
}

/**
 * Collects what `child` (an `onedav serve`) prints into `printed`, and resolves with the WebDAV URL
 * once it says where it listens; rejects if it exits first or says nothing within `timeoutMs`.
 */
export function serveUrl(child: ChildProcess, printed: Printed, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within ${timeoutMs / 1000} s:\n${printed.text}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      printed.text += chunk.toString();
      const match = /WebDAV server listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(printed.text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`onedav serve exited with ${code}:\n${printed.text}`));
    });
  });
}
