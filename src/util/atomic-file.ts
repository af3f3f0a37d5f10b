import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file so that readers see either the old content or the new, never a torn one:
 * temp file in the same folder, fsync, rename over the target. Mode defaults to 0600
 * because most of what we persist (tokens, locks, properties) is private.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`; // the LEFTOVER shape below
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/** `<file>.<pid>.<12 hex>.tmp`: the temp name writeFileAtomic gives, and no other. */
const LEFTOVER = /^(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes temp files an interrupted writeFileAtomic left in `dir` (a crash between open and
 * rename), as spool files are removed at start. Only names of exactly writeFileAtomic's shape
 * whose target passes `forFile`, and whose writing process is gone (a live one, such as
 * `onedav login` beside a running server, may still be writing). Returns how many were removed.
 */
export async function removeAtomicLeftovers(dir: string, forFile: (name: string) => boolean): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((name) => {
    const m = LEFTOVER.exec(name);
    return m !== null && forFile(m[1]) && !processAlive(Number(m[2]));
  });
  await Promise.all(stale.map((name) => rm(join(dir, name), { force: true })));
  return stale.length;
}

/** Leftovers of one file written with writeFileAtomic. */
export function removeAtomicLeftoversOf(path: string): Promise<number> {
  const name = basename(path);
  return removeAtomicLeftovers(dirname(path), (target) => target === name);
}

function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A persisted file's text, or undefined when it was never written (or was removed). */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
