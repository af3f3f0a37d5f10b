import { readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { removeAtomicLeftovers, writeFileAtomic } from '../util/atomic-file.js';
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
}

/** One JSON file per account under `<dataDir>/accounts/`, written atomically with mode 0600. */
export class TokenStore {
  constructor(readonly dataDir: string) {}

  pathFor(account: string): string {
    const safe = /^[A-Za-z0-9._-]+$/.test(account) && !account.startsWith('.') ? account : encodeURIComponent(account).replace(/\./g, '%2E');
    return join(this.dataDir, 'accounts', `${safe}.json`);
  }

  async load(account: string): Promise<StoredAccount | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathFor(account), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
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
