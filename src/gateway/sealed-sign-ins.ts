import type { SignInStore, StoredAccount } from '../auth/token-store.js';
import { isSealed, type SecretBox } from '../redis/secret-box.js';

type TokenField = 'accessToken' | 'refreshToken';
const FIELDS: TokenField[] = ['accessToken', 'refreshToken'];

/**
 * The people's sign-ins in token files, with their tokens sealed by ONEDAV_STATE_KEY (the Redis
 * store seals by itself): a copy of the data folder (a backup) does not hand out anyone's drive.
 * Each value is bound to its account and field, so a token moved to another person's file does not open.
 */
export class SealedSignInStore implements SignInStore {
  constructor(
    private readonly inner: SignInStore,
    private readonly box: SecretBox,
  ) {}

  where(account: string): string {
    return this.inner.where(account);
  }

  async load(account: string): Promise<StoredAccount | undefined> {
    const record = await this.inner.load(account);
    if (!record) return undefined;
    const opened = { ...record };
    for (const field of FIELDS) {
      const value = record[field];
      if (value === undefined) continue;
      if (!isSealed(value)) throw new Error(`The sign-in at ${this.where(account)} holds a token that is not sealed; the person must sign in again.`);
      opened[field] = this.box.open(value, context(account, field));
    }
    return opened;
  }

  async save(record: StoredAccount): Promise<void> {
    const sealed = { ...record };
    for (const field of FIELDS) {
      const value = record[field];
      if (value !== undefined) sealed[field] = this.box.seal(value, context(record.account, field));
    }
    await this.inner.save(sealed);
  }

  list(): Promise<string[]> {
    return this.inner.list();
  }

  remove(account: string): Promise<void> {
    return this.inner.remove(account);
  }
}

function context(account: string, field: TokenField): string {
  return `gateway-sign-in:${account}#${field}`;
}
