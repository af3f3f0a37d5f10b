import type { DriveEntry } from './types.js';

/**
 * A drive entry as made from a Graph item (GraphDrive's toEntry): an instance of this class rather
 * than an object literal, for V8's sake. V8 watches each object-literal site and, once most of its
 * objects outlive a few minor collections, allocates that site's objects straight in the old
 * generation ("allocation-site pretenuring"). Cached listings teach it that entries live long, so
 * every entry of a listing later streamed past the cache — 100,000 of them for a folder too big to
 * keep — was born old and became garbage only a full collection frees: the bulk of a big PROPFIND's
 * RSS growth (issue 16). Objects made by a class constructor are not pretenured that way; they die
 * young when nothing keeps them and are promoted like any other when the cache does.
 */
export class EntryRecord implements DriveEntry {
  // `declare`: set only when the item has them, as the literal did (no own `undefined` properties).
  declare childCount?: number;
  declare mimeType?: string;
  declare quickXorHash?: string;
  declare sha1Hash?: string;

  constructor(
    public id: string,
    public path: string,
    public name: string,
    public isFolder: boolean,
    public size: number,
    public created: Date,
    public modified: Date,
    public etag: string,
    public version: string,
  ) {}
}
