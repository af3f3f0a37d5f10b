import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readTextIfExists, removeAtomicLeftovers, writeFileAtomic } from '../util/atomic-file.js';
import type { ClientType } from './client-type.js';
import type { CloudName } from './clouds.js';

export type SignInFlow = 'interactive' | 'deviceCode' | 'clientCredentials';
export type AccountType = 'personal' | 'organizational' | 'app';

/** What onedav remembers about one signed-in account: one JSON file, mode 0600. */
export interface StoredAccount {
  version: 1;
  account: string;
  cloud: CloudName;
  /** Login host root the tokens come from (`https://login.microsoftonline.com`, or the emulator URL). */
  loginUrl: string;
  /** Graph v1.0 root the tokens are for. */
  graphBaseUrl: string;
  /** Resource prefix of scopes (`https://graph.microsoft.com`). */
  graphResource: string;
  /** Tenant path segment for token requests: the tenant id once known. */
  tenant: string;
  tenantId?: string;
  clientId: string;
  /** How the app signs in (absent in files from before it was recorded: public for delegated flows). */
  clientType?: ClientType;
  flow: SignInFlow;
  scopes: string[];
  accountType: AccountType;
  /** The national cloud the tenant lives in, from its OpenID configuration (also when served by the emulator). */
  tenantCloud?: { name?: string; instanceName?: string; graphHost?: string; regionScope?: string };
  /** Signed-in user; for app-only accounts the user whose drive is served. */
  user?: { upn: string; name?: string; id?: string };
  refreshToken?: string;
  accessToken?: string;
  /** Epoch ms. */
  expiresAt?: number;
  obtainedAt?: number;
  /** Set when a refresh failed for good; cleared by the next login. */
  signInRequired?: string;
  /**
   * Version of the shared record (Redis store only): each save makes a new one, and a refresher's
   * save succeeds only on the version it read, so a stale refresher cannot overwrite a newer sign-in.
   */
  generation?: number;
}

/** Where sign-ins are kept: files under dataDir (one process) or Redis (a fleet of replicas). */
export interface SignInStore {
  load(account: string): Promise<StoredAccount | undefined>;
  /** Saves unconditionally (a new sign-in from `onedav login`). */
  save(record: StoredAccount): Promise<void>;
  /** Names of the accounts with a saved sign-in. */
  list(): Promise<string[]>;
  remove(account: string): Promise<void>;
  /** Where an account's sign-in lives, for logs and errors (a file path, a Redis key). */
  where(account: string): string;
  /** Present when several processes share the store: they must agree on who refreshes (see refresher.ts). */
  readonly shared?: SharedRefresh;
}

/** The lease and the fence that let exactly one replica refresh an account's token at a time. */
export interface SharedRefresh {
  /** Takes the account's refresh lease for `ttlMs`, or undefined when another replica holds it. */
  acquireLease(account: string, ttlMs: number): Promise<RefreshLease | undefined>;
  /** Saves only when the stored generation is still `expected`; the new generation, or undefined when fenced off. */
  saveIfGeneration(record: StoredAccount, expected: number): Promise<number | undefined>;
}

export interface RefreshLease {
  /** False when the lease has run out and maybe another replica holds it now. */
  extend(ttlMs: number): Promise<boolean>;
  release(): Promise<void>;
}

/** One JSON file per account under `<dataDir>/accounts/`, written atomically with mode 0600. */
export class TokenStore implements SignInStore {
  constructor(readonly dataDir: string) {}

  where(account: string): string {
    return this.pathFor(account);
  }

  pathFor(account: string): string {
    const safe = /^[A-Za-z0-9._-]+$/.test(account) && !account.startsWith('.') ? account : encodeURIComponent(account).replace(/\./g, '%2E');
    return join(this.dataDir, 'accounts', `${safe}.json`);
  }

  async load(account: string): Promise<StoredAccount | undefined> {
    const text = await readTextIfExists(this.pathFor(account));
    if (text === undefined) return undefined;
    try {
      const record = JSON.parse(text) as StoredAccount;
      if (record.version !== 1) throw new Error(`unknown version ${String(record.version)}`);
      return record;
    } catch (err) {
      throw new Error(`The token file ${this.pathFor(account)} is damaged (${(err as Error).message}). Run: onedav login --account ${account}`);
    }
  }

  async save(record: StoredAccount): Promise<void> {
    await writeFileAtomic(this.pathFor(record.account), `${JSON.stringify(record, null, 2)}\n`, 0o600);
  }

  /** Removes temp files of token saves an earlier run did not finish; returns how many. */
  removeLeftovers(): Promise<number> {
    return removeAtomicLeftovers(join(this.dataDir, 'accounts'), (name) => name.endsWith('.json'));
  }

  /** Names of the accounts with a saved sign-in. */
  async list(): Promise<string[]> {
    const files = await readdir(join(this.dataDir, 'accounts')).catch(() => [] as string[]);
    return files.filter((f) => f.endsWith('.json')).map((f) => decodeURIComponent(f.slice(0, -'.json'.length))).sort();
  }

  async remove(account: string): Promise<void> {
    await unlink(this.pathFor(account)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
