import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { hashPassword } from '../../src/dav/access/passwords.js';

/**
 * The tree every real-client workload copies in and reads back: names with spaces, `#` (a URL
 * fragment if a client forgets to escape it), accents and CJK, a few sizes. No .jpg/.docx/.pdf:
 * SharePoint rewrites those on business drives (src/graph/sharepoint-rewrites.ts), so their bytes
 * would not come back as sent.
 */
export const FOLDER = 'Reise 2024 #1';
export const NAMED_TREE: Record<string, Buffer> = {
  [`${FOLDER}/notes a b #1.txt`]: Buffer.from('Grüße aus Köln — 東京より\n', 'utf8'),
  [`${FOLDER}/Café ü/été 2024.bin`]: randomBytes(300_000),
  [`${FOLDER}/日本語 フォルダ/写真 #2.bin`]: randomBytes(1_200_000),
  [`${FOLDER}/empty.txt`]: Buffer.alloc(0),
};

/** The folders of a tree's file names, parents before children (as a person creates them). */
export function foldersOf(files: Iterable<string>): string[] {
  const folders = new Set<string>();
  for (const file of files) {
    const parts = file.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) folders.add(parts.slice(0, i).join('/'));
  }
  return [...folders].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

export async function writeTree(root: string, files: Record<string, Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), content);
  }
}

/** Every file under `dir`, as sorted '/'-separated relative paths. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)));
  }
  return out.sort();
}

/** A drive path as a URL path: each segment percent-encoded (`#` → `%23`, `ü` → `%C3%BC`). */
export function urlPath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

/** onedav's `users` for one Basic-auth account (a cheap scrypt cost: tests only). */
export async function oneUser(name: string, password: string): Promise<Array<{ name: string; password: string }>> {
  return [{ name, password: await hashPassword(password, { N: 1 << 12, r: 8, p: 1 }) }];
}
