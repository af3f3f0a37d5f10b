/**
 * The Graph emulator in its own process, for benchmarks: the onedav server under test and the
 * bench driver must not share its CPU or heap. The driver talks to it over the fork IPC channel
 * (seeding tens of thousands of items in-process is much faster than over HTTP).
 *
 * Messages in: `{ id, op, ...args }`; out: `{ id, result }` or `{ id, error }`; first message out:
 * `{ ready: true, url }`.
 */
import { DEMO_CLIENT_ID, DEMO_USER, findUser } from '../../src/emulator/directory.js';
import { startEmulator } from '../../src/emulator/server.js';

export interface SeedFile {
  path: string;
  /** Bytes of content (deterministic filler). */
  size: number;
  /** Epoch ms of the file's mtime. */
  modified?: number;
}

export type EmulatorRequest =
  | { op: 'info' }
  | { op: 'mkdirs'; paths: string[] }
  | { op: 'putFiles'; files: SeedFile[] }
  | { op: 'putEmptyFiles'; folder: string; names: string[] }
  | { op: 'counters' }
  | { op: 'resetCounters' }
  | { op: 'accessToken' }
  | { op: 'fragments' }
  | { op: 'listPaths' }
  | { op: 'collectGarbage' }
  | { op: 'stop' };

export interface EmulatorInfo {
  url: string;
  driveId: string;
  tenantId: string;
  user: { upn: string; name: string; id: string };
  clientId: string;
  refreshToken: string;
}

const emulator = await startEmulator({ port: 0, admin: true });
const user = findUser(emulator.state.directory, DEMO_USER)!;
const driveId = emulator.drive.driveIdOf(DEMO_USER);
const FILLER = Buffer.alloc(1024 * 1024, 'onedav benchmark filler\n');

async function answer(request: EmulatorRequest): Promise<unknown> {
  switch (request.op) {
    case 'info':
      return {
        url: emulator.url,
        driveId,
        tenantId: user.tenantId,
        user: { upn: user.userPrincipalName, name: user.displayName, id: user.id },
        clientId: DEMO_CLIENT_ID,
        refreshToken: emulator.identity.issueRefreshToken({ upn: DEMO_USER, clientId: DEMO_CLIENT_ID }),
      } satisfies EmulatorInfo;
    case 'mkdirs':
      for (const path of request.paths) emulator.drive.mkdir(driveId, path);
      return request.paths.length;
    case 'putFiles': {
      // A few at a time: each seeded file is a blob written, hashed and renamed on disk.
      let next = 0;
      const worker = async () => {
        while (next < request.files.length) {
          const file = request.files[next++];
          const content = file.size <= FILLER.length ? FILLER.subarray(0, file.size) : Buffer.alloc(file.size, 'x');
          await emulator.drive.putFile(driveId, file.path, content, file.modified ? { modified: new Date(file.modified) } : {});
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      return request.files.length;
    }
    case 'putEmptyFiles':
      return emulator.drive.putEmptyFiles(driveId, request.folder, request.names);
    case 'counters':
      return emulator.counters.snapshot();
    case 'resetCounters':
      emulator.counters.reset();
      return true;
    case 'accessToken':
      return emulator.state.tokens.issue({ tenantId: user.tenantId, clientId: DEMO_CLIENT_ID, userId: user.id, scopes: ['Files.ReadWrite.All'], appOnly: false }, 3600).token;
    case 'fragments':
      return emulator.drive.uploadFragments();
    case 'listPaths':
      return emulator.drive.listPaths(driveId);
    case 'collectGarbage':
      // The child runs with --expose-gc (emulator-process.ts).
      (globalThis as { gc?: () => void }).gc?.();
      return true;
    case 'stop':
      await emulator.close();
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (message: { id: number } & EmulatorRequest) => {
  answer(message).then(
    (result) => process.send!({ id: message.id, result }),
    (err: Error) => process.send!({ id: message.id, error: err.stack ?? err.message }),
  );
});
process.on('disconnect', () => {
  void emulator.close().finally(() => process.exit(0));
});
process.send!({ ready: true, url: emulator.url });
