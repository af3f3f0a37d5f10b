import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/server.js';
import { DEMO_CLIENT_ID, DEMO_USER } from '../../src/emulator/directory.js';
import { emulatorCloud } from '../../src/auth/clouds.js';
import { accountFromRefreshToken } from '../../src/auth/login.js';
import { TokenStore, type StoredAccount } from '../../src/auth/token-store.js';
import { createLogger, type Logger } from '../../src/util/logger.js';

export const CONTOSO = 'contoso.onmicrosoft.com';

/** An emulator, a data folder and a log that remembers every line, for one test file. */
export class AuthFixture {
  emulator!: RunningEmulator;
  dataDir!: string;
  store!: TokenStore;
  readonly logLines: string[] = [];
  readonly logger: Logger = createLogger({ level: 'debug', format: 'json', write: (line) => this.logLines.push(line) });

  async start(options: EmulatorOptions = {}): Promise<void> {
    this.emulator = await startEmulator({ admin: true, ...options });
    this.dataDir = await mkdtemp(join(tmpdir(), 'onedav-auth-'));
    this.store = new TokenStore(this.dataDir);
  }

  async stop(): Promise<void> {
    await this.emulator.close();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  get cloud() {
    return emulatorCloud(this.emulator.url);
  }

  /** Saves an account signed in as `upn` (no browser), like `npm start` does. */
  async signedInAccount(account: string, upn = DEMO_USER): Promise<StoredAccount> {
    const refreshToken = this.emulator.identity.issueRefreshToken({ upn });
    const record = accountFromRefreshToken({ account, cloud: this.cloud, tenant: CONTOSO, clientId: DEMO_CLIENT_ID, refreshToken, user: { upn } });
    await this.store.save(record);
    return record;
  }

  /** Every token (access and refresh) found in the saved account files. */
  async savedTokens(): Promise<string[]> {
    const dir = join(this.dataDir, 'accounts');
    const files = await readdir(dir).catch(() => [] as string[]);
    const tokens: string[] = [];
    for (const file of files) {
      const record = JSON.parse(await readFile(join(dir, file), 'utf8')) as StoredAccount;
      if (record.accessToken) tokens.push(record.accessToken);
      if (record.refreshToken) tokens.push(record.refreshToken);
    }
    return tokens;
  }

  /** Throws if any of the tokens shows up in the log. */
  assertLogFreeOf(tokens: Iterable<string>): void {
    const log = this.logLines.join('');
    for (const token of tokens) {
      if (token && log.includes(token)) throw new Error('a token reached the log');
      // Also no sizeable piece of one (a token cut in half is still a leak).
      if (token && token.length > 40 && log.includes(token.slice(10, 40))) throw new Error('part of a token reached the log');
    }
  }
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure, got success');
    },
    (err: unknown) => err as Error,
  );
}
