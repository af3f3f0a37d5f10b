import { createHash } from 'node:crypto';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { QuickXorHash } from '../../src/graph/quickxorhash.js';
import { sha256Of } from './content.js';
import type { Model } from './model.js';
import type { VersionBook } from './workload.js';

/** The end check: every client's model against the emulator's drive, path by path. */
export interface DriveCheck {
  paths: number;
  files: number;
  folders: number;
  /** A path the client was told exists (2xx) is missing. */
  lostAcknowledged: number;
  /** A file holds bytes that are none of its possible versions. */
  contentMismatches: number;
  /** A file holds a prefix of one of its possible versions (a torn upload). */
  partialFiles: number;
  /** Something exists where the client was certainly told nothing is (or a folder instead of a file). */
  unexpectedItems: number;
  /** The drive's recorded QuickXorHash is not the hash of the bytes it stores. */
  hashMismatches: number;
  details: string[];
}

export async function checkDrive(emulator: RunningEmulator, driveId: string, clients: Array<{ root: string; model: Model }>, versions: VersionBook): Promise<DriveCheck> {
  const check: DriveCheck = { paths: 0, files: 0, folders: 0, lostAcknowledged: 0, contentMismatches: 0, partialFiles: 0, unexpectedItems: 0, hashMismatches: 0, details: [] };
  const note = (text: string) => {
    if (check.details.length < 40) check.details.push(text);
  };
  const onDrive = new Map<string, 'file' | 'folder'>();
  for (const p of emulator.drive.listPaths(driveId)) onDrive.set(p.replace(/\/$/, ''), p.endsWith('/') ? 'folder' : 'file');

  for (const { root, model } of clients) {
    const paths = new Set([...model.paths(), ...[...onDrive.keys()].filter((p) => p.startsWith(`${root}/`))]);
    for (const path of [...paths].sort()) {
      check.paths++;
      const states = model.get(path);
      const kind = onDrive.get(path);
      const expected = [...states].join(',');
      if (!kind) {
        if (!states.has('absent')) {
          check.lostAcknowledged++;
          note(`lost: ${path} is missing; the client may only expect ${expected}`);
        }
        continue;
      }
      if (kind === 'folder') {
        check.folders++;
        if (!states.has('folder')) {
          check.unexpectedItems++;
          note(`unexpected folder: ${path}; the client expects ${expected}`);
        }
        continue;
      }
      check.files++;
      const bytes = await emulator.drive.readFile(driveId, path.slice(1));
      const stored = emulator.drive.stat(driveId, path.slice(1));
      const quickXor = new QuickXorHash().update(bytes).digestBase64();
      if (stored?.quickXorHash !== undefined && stored.quickXorHash !== quickXor) {
        check.hashMismatches++;
        note(`hash: ${path} records quickXorHash ${stored.quickXorHash} but its bytes hash to ${quickXor}`);
      }
      const sha = createHash('sha256').update(bytes).digest('hex');
      const candidates = model.versions(path).map((id) => versions.get(id));
      if (candidates.some((v) => v.size === bytes.length && v.sha256 === sha)) continue;
      if (candidates.some((v) => v.size > bytes.length && sha256Of(v.key, 0, bytes.length) === sha)) {
        check.partialFiles++;
        note(`partial: ${path} holds the first ${bytes.length} bytes of a version (${candidates.map((v) => `${v.id}:${v.size}`).join(',')})`);
      } else if (candidates.length > 0) {
        check.contentMismatches++;
        note(`content: ${path} holds ${bytes.length} bytes matching none of ${candidates.map((v) => `${v.id}:${v.size}`).join(',')}`);
      } else {
        check.unexpectedItems++;
        const partialOfAny = [...versions.all.values()].find((v) => v.size >= bytes.length && bytes.length > 0 && sha256Of(v.key, 0, bytes.length) === sha);
        note(`unexpected file: ${path} (${bytes.length} bytes${partialOfAny ? `, = start of version ${partialOfAny.id}:${partialOfAny.size}` : ''}); the client expects ${expected}`);
      }
    }
  }
  return check;
}
