import { readTextIfExists, removeAtomicLeftoversOf, writeFileAtomic } from '../util/atomic-file.js';
import { silentLogger, type Logger } from '../util/logger.js';

/**
 * What onedav remembers about a drive between runs: its root folder's id, so that a fresh process
 * moves an item into the root without first asking Graph for it. An item's id is read-only
 * (https://learn.microsoft.com/graph/api/resources/driveitem), and a sync client keeps the root's id
 * across runs too (abraunegg/onedrive src/itemdb.d stores every item by id, the root among them).
 * Yet Microsoft once changed the root id of personal accounts (OneDrive/onedrive-api-docs#1890), so
 * a remembered id is only used where Graph's answer shows whether it was right (GraphDrive.move:
 * refused, or taken and ignored, it is forgotten and the move done again to the root Graph names).
 */
export interface DriveMemory {
  readonly rootId: string | undefined;
  rememberRootId(id: string): void;
  forgetRootId(): void;
}

/**
 * Drives kept in the file at most. A drive's key holds its Graph host, and the built-in emulator
 * listens on a new port each run (`emulator.port` 0): without a bound every `npm start` would add one.
 */
const MAX_DRIVES = 64;

interface MemoryFileShape {
  version: 1;
  drives: Record<string, { rootId?: string }>;
}

/**
 * Every drive's memory in one JSON file (`<dataDir>/drives.json`), written atomically (mode 0600)
 * after each change, writes queued one after another; a killed save's temp file is removed at the
 * next load. Unreadable: an empty memory (each root is asked for again once).
 */
export class DriveMemoryFile {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly state: MemoryFileShape,
    private readonly logger: Logger,
  ) {}

  static async load(path: string, logger: Logger = silentLogger): Promise<DriveMemoryFile> {
    let state: MemoryFileShape = { version: 1, drives: {} };
    await removeAtomicLeftoversOf(path).catch(() => 0);
    try {
      const text = await readTextIfExists(path);
      const parsed = text === undefined ? undefined : (JSON.parse(text) as Partial<MemoryFileShape>);
      if (parsed?.version === 1 && parsed.drives && typeof parsed.drives === 'object') state = { version: 1, drives: parsed.drives };
    } catch {
      // Torn or hand-edited: start empty.
    }
    return new DriveMemoryFile(path, state, logger);
  }

  /** The memory of one drive; `key` names the drive and whose it is (see driveMemoryKey). */
  forDrive(key: string): DriveMemory {
    const file = this;
    return {
      get rootId() {
        const id = file.state.drives[key]?.rootId;
        return typeof id === 'string' && id.length > 0 ? id : undefined;
      },
      rememberRootId(id: string) {
        if (file.state.drives[key]?.rootId === id) return;
        const { drives } = file.state;
        delete drives[key]; // last in the file = last learned: the oldest go first beyond MAX_DRIVES
        drives[key] = { rootId: id };
        for (const old of Object.keys(drives).slice(0, Math.max(0, Object.keys(drives).length - MAX_DRIVES))) delete drives[old];
        file.save();
      },
      forgetRootId() {
        if (file.state.drives[key]?.rootId === undefined) return;
        delete file.state.drives[key];
        file.save();
      },
    };
  }

  /** Resolves once every change made so far is on disk (tests, shutdown). */
  flushed(): Promise<void> {
    return this.writing;
  }

  private save(): void {
    const text = JSON.stringify(this.state, null, 2) + '\n';
    this.writing = this.writing
      .then(() => writeFileAtomic(this.path, text))
      .catch((err: unknown) => this.logger.warn('could not save what onedav remembers about its drives; it will ask Graph again next run', { path: this.path, error: String(err) }));
  }
}

/**
 * Names a drive in the memory file: the Graph host, the tenant and the signed-in user, and which
 * drive of theirs is mounted. Another person signed in under the same account name gets a new key.
 */
export function driveMemoryKey(who: { graphBaseUrl: string; tenantId?: string; tenant: string; account: string; user?: { id?: string; upn: string } }, drive: unknown): string {
  return JSON.stringify([who.graphBaseUrl, who.tenantId ?? who.tenant, who.user?.id ?? who.user?.upn ?? who.account, drive]);
}
