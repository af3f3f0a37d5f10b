import { SignInRequiredError } from '../auth/errors.js';
import { TokenRefresher } from '../auth/refresher.js';
import type { TokenSource } from '../auth/token-source.js';
import type { SignInStore } from '../auth/token-store.js';
import { downloadModeOf, type DownloadMode } from '../dav/http/download-mode.js';
import { MountTable } from '../dav/http/mounts.js';
import type { RemoteDrive } from '../drive/index.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { accountOf, type Person } from './people.js';

/** Makes the drive of one person (`/me/drive` with their token); the wiring (cli/app.ts) knows how. */
export type PersonDriveFactory = (tokens: TokenSource, person: Person) => { drive: RemoteDrive; close(): Promise<void> };

interface Open {
  table: MountTable;
  refresher: TokenRefresher;
  close(): Promise<void>;
  lastUsed: number;
}

export interface PersonDrivesOptions {
  signIns: SignInStore;
  clientSecret: string;
  factory: PersonDriveFactory;
  downloadMode: DownloadMode;
  /** Called once when Microsoft refuses the person's refresh token (the site then says "sign in again"). */
  onSignInRequired(person: Person, reason: string): Promise<void>;
  logger: Logger;
  clock?: Clock;
  /** A person's drive and token refresher are closed after this long without a request (default 10 min). */
  idleMs?: number;
  /** False once the person was revoked (`onedav users revoke`, maybe by another process): their drive closes at the next sweep. */
  stillThere?(oid: string): Promise<boolean>;
}

/**
 * The open drives of the people who are active now: one token refresher and one GraphDrive each,
 * opened at their first WebDAV request and closed after `idleMs` without one. A refresher
 * refreshes ahead of expiry only while open, so idle people cost no token requests at all (no
 * refresh storm when a thousand people went home).
 */
export class PersonDrives {
  private readonly open = new Map<string, Promise<Open>>();
  private readonly clock: Clock;
  private readonly idleMs: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: PersonDrivesOptions) {
    this.clock = options.clock ?? systemClock;
    this.idleMs = options.idleMs ?? 10 * 60_000;
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, this.idleMs));
    this.sweeper.unref();
  }

  /** The person's mount table: their drive at `/`, its locks and properties apart from everyone else's. */
  async tableFor(person: Person): Promise<MountTable> {
    let entry = this.open.get(person.oid);
    if (!entry) {
      entry = this.openFor(person);
      this.open.set(person.oid, entry);
      entry.catch(() => this.open.delete(person.oid));
    }
    const opened = await entry;
    opened.lastUsed = this.clock.now();
    return opened.table;
  }

  private async openFor(person: Person): Promise<Open> {
    const logger = this.options.logger.child({ person: person.upn });
    const refresher = await TokenRefresher.open(this.options.signIns, accountOf(person.oid), { clientSecret: this.options.clientSecret, logger, clock: this.clock });
    const tokens = new PersonTokens(refresher, (reason) => this.options.onSignInRequired(person, reason));
    const { drive, close } = this.options.factory(tokens, person);
    const mount = { prefix: '/', drive, storeScope: `person:${person.oid}` };
    const table = new MountTable([mount], (m) => downloadModeOf(m, this.options.downloadMode, logger));
    return {
      table,
      refresher,
      lastUsed: this.clock.now(),
      close: async () => {
        refresher.close();
        await close();
      },
    };
  }

  /** Closes a person's drive now (signed in anew, revoked). */
  async forget(oid: string): Promise<void> {
    const entry = this.open.get(oid);
    this.open.delete(oid);
    if (entry) await (await entry.catch(() => undefined))?.close();
  }

  /** People with an open drive (tests, `users list` of a live server). */
  get openCount(): number {
    return this.open.size;
  }

  async sweep(): Promise<void> {
    const horizon = this.clock.now() - this.idleMs;
    for (const [oid, entry] of this.open) {
      const opened = await entry.catch(() => undefined);
      const gone = opened && this.options.stillThere ? !(await this.options.stillThere(oid).catch(() => true)) : false;
      if (opened && (gone || opened.lastUsed <= horizon) && this.open.get(oid) === entry) {
        this.open.delete(oid);
        await opened.close().catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const oid of [...this.open.keys()]) await this.forget(oid);
  }
}

/** The refresher, with one addition: a refusal that needs the person marks them "sign in again". */
class PersonTokens implements TokenSource {
  constructor(
    private readonly refresher: TokenRefresher,
    private readonly signInRequired: (reason: string) => Promise<void>,
  ) {}

  getAccessToken(): Promise<string> {
    return this.refresher.getAccessToken().catch((err) => this.failed(err));
  }

  refreshAfterRejection(rejected: string): Promise<string> {
    return this.refresher.refreshAfterRejection(rejected).catch((err) => this.failed(err));
  }

  private async failed(err: unknown): Promise<never> {
    if (err instanceof SignInRequiredError) await this.signInRequired(err.reason).catch(() => {});
    throw err;
  }
}
