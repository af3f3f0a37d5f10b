import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-file.js';

/** Where an upload remembers the session it opened until it is committed or cancelled. */
export interface SessionJournal {
  /** Records a session before any byte is sent to it; returns its handle for `closed`. */
  opened(uploadUrl: string, expirationDateTime?: string): Promise<string>;
  /** Forgets a session that was committed or cancelled. */
  closed(id: string): Promise<void>;
}

interface JournalEntry {
  uploadUrl: string;
  expirationDateTime?: string;
  openedAt: string;
}

/**
 * The upload sessions this process has open, in a private file of the data folder
 * (`upload-sessions.json`, 0600, written atomically: an uploadUrl is a secret, it carries its own
 * authorization). On OneDrive for Business and SharePoint a file may have only one open session
 * (OneDrive/onedrive-api-docs#747), and Graph offers no way to find or cancel a session without its
 * URL (microsoftgraph/microsoft-graph-docs-contrib#412, #6558): after a crash the file would refuse
 * uploads until the session expires, unless the next start cancels what this journal remembers.
 */
export class UploadJournal implements SessionJournal {
  private readonly open = new Map<string, JournalEntry>();
  private writing: Promise<void> = Promise.resolve();

  /** Ids of the sessions an earlier run recorded and never closed (kept in the file until cancelled). */
  private leftovers: string[];

  private constructor(
    private readonly path: string | undefined,
    earlier: Record<string, JournalEntry>,
  ) {
    for (const [id, entry] of Object.entries(earlier)) this.open.set(id, entry);
    this.leftovers = [...this.open.keys()];
  }

  /** Reads the journal an earlier run left (a missing or unreadable file is an empty one). */
  static async load(path: string | undefined): Promise<UploadJournal> {
    const leftovers: Record<string, JournalEntry> = {};
    if (path) {
      try {
        const parsed = JSON.parse(await readFile(path, 'utf8')) as { sessions?: Record<string, JournalEntry> };
        for (const [id, entry] of Object.entries(parsed.sessions ?? {})) if (typeof entry?.uploadUrl === 'string') leftovers[id] = entry;
      } catch {
        // Absent (nothing was left open) or torn by a crash mid-write (atomic writes make that unlikely).
      }
    }
    return new UploadJournal(path, leftovers);
  }

  /** Records a session before any byte is sent to it; returns its handle for `closed`. */
  async opened(uploadUrl: string, expirationDateTime?: string): Promise<string> {
    const id = randomUUID();
    this.open.set(id, { uploadUrl, expirationDateTime, openedAt: new Date().toISOString() });
    await this.save();
    return id;
  }

  /** Forgets a session that was committed or cancelled. */
  async closed(id: string): Promise<void> {
    if (this.open.delete(id)) await this.save();
  }

  /**
   * Cancels the sessions an earlier run left open, with `cancel` (DELETE on the upload URL; true
   * when the session is gone, cancelled now or expired before). Those it could not reach stay for
   * the next start. Call once at start, before any upload. Returns how many were cancelled.
   */
  async cancelLeftovers(cancel: (uploadUrl: string) => Promise<boolean>): Promise<number> {
    const ids = this.leftovers;
    this.leftovers = [];
    const gone = await Promise.all(ids.map((id) => cancel(this.open.get(id)!.uploadUrl).catch(() => false)));
    ids.forEach((id, i) => gone[i] && this.open.delete(id));
    if (ids.length > 0) await this.save();
    return gone.filter(Boolean).length;
  }

  /** How many sessions are recorded as open (tests). */
  get size(): number {
    return this.open.size;
  }

  private save(): Promise<void> {
    const path = this.path;
    if (!path) return Promise.resolve();
    // One write at a time, each of the whole current state: the last one wins, none is torn.
    const next = this.writing.then(() => writeFileAtomic(path, `${JSON.stringify({ sessions: Object.fromEntries(this.open) }, null, 1)}\n`));
    this.writing = next.catch(() => undefined);
    return next;
  }
}
