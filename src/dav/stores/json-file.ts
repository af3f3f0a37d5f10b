import { readFile } from 'node:fs/promises';
import { removeAtomicLeftoversOf, writeFileAtomic } from '../../util/atomic-file.js';
import type { Logger } from '../../util/logger.js';

/**
 * A JSON document kept in one file: loaded once, saved atomically (0600) after changes.
 * Saves are serialised and coalesced: many changes in a burst cost one or two writes.
 * Without a path it lives in memory only.
 */
export class JsonFile<T> {
  private dirty = false;
  private saving: Promise<void> | undefined;

  private constructor(
    private readonly path: string | undefined,
    private readonly logger: Logger,
  ) {}

  static async load<T>(path: string | undefined, fallback: T, logger: Logger): Promise<{ file: JsonFile<T>; data: T }> {
    const file = new JsonFile<T>(path, logger);
    if (!path) return { file, data: fallback };
    const leftovers = await removeAtomicLeftoversOf(path);
    if (leftovers > 0) logger.info('removed temp files of a WebDAV store save an earlier run did not finish', { path, count: leftovers });
    try {
      return { file, data: JSON.parse(await readFile(path, 'utf8')) as T };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('could not read a WebDAV store file; starting empty', { path, error: err as Error });
      return { file, data: fallback };
    }
  }

  /** Schedules a save of `snapshot()`; resolves when a save that includes this change is done. */
  save(snapshot: () => T): Promise<void> {
    if (!this.path) return Promise.resolve();
    this.dirty = true;
    if (!this.saving) this.saving = this.loop(snapshot);
    return this.saving;
  }

  async flush(): Promise<void> {
    await this.saving;
  }

  private async loop(snapshot: () => T): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        try {
          await writeFileAtomic(this.path!, `${JSON.stringify(snapshot())}\n`);
        } catch (err) {
          this.logger.error('could not save a WebDAV store file', { path: this.path, error: err as Error });
        }
      }
    } finally {
      this.saving = undefined;
    }
  }
}
