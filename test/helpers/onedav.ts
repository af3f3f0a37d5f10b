import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emulatorCloud } from '../../src/auth/clouds.js';
import { accountFromRefreshToken } from '../../src/auth/login.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { startOneDav, type RunningOneDav } from '../../src/cli/app.js';
import { parseConfig } from '../../src/config.js';
import { DEMO_CLIENT_ID, findUser, WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { startEmulator } from '../../src/emulator/server.js';
import type { Logger } from '../../src/util/logger.js';
import { MEGAN } from './stack.js';

/**
 * onedav as `serve` builds it (startOneDav from a parsed Config) on the embedded emulator, with
 * delegated accounts already signed in: a first emulator run on the same data folder issues each
 * user's refresh token (as `onedav login` would get it) and the token store saves it; the second
 * run is the one startOneDav starts, and the saved accounts follow it to its new port. App-only
 * accounts (clientCredentials) sign themselves in at start, as in production.
 */
export interface ConfiguredOneDav {
  app: RunningOneDav;
  dir: string;
  close(): Promise<void>;
}

/**
 * Config accounts on the embedded emulator: `adele` signs in delegated (a public client, signed in
 * through `signedIn`); `daemon` is an app-only client (client credentials) serving Megan's OneDrive.
 */
export const EMULATOR_ACCOUNTS = {
  adele: { cloud: 'emulator', tenant: 'contoso.onmicrosoft.com', clientId: DEMO_CLIENT_ID },
  daemon: { cloud: 'emulator', tenant: 'contoso.onmicrosoft.com', clientId: WEB_APP_CLIENT_ID, clientSecret: WEB_APP_CLIENT_SECRET, flow: 'clientCredentials', user: MEGAN },
};

export async function startConfiguredOneDav(raw: Record<string, unknown> & { accounts: Record<string, Record<string, unknown>> }, options: { signedIn: Record<string, string>; logger?: Logger }): Promise<ConfiguredOneDav> {
  const dir = await mkdtemp(join(tmpdir(), 'onedav-app-'));
  const emulatorDir = join(dir, 'emulator');
  const dataDir = join(dir, 'data');

  const first = await startEmulator({ port: 0, dataDir: emulatorDir });
  try {
    const store = new TokenStore(dataDir);
    for (const [account, upn] of Object.entries(options.signedIn)) {
      const user = findUser(first.state.directory, upn);
      if (!user) throw new Error(`the emulator has no user ${upn}`);
      const settings = raw.accounts[account];
      await store.save(
        accountFromRefreshToken({
          account,
          cloud: emulatorCloud(first.url),
          tenant: user.tenantId,
          clientId: String(settings?.clientId ?? DEMO_CLIENT_ID),
          refreshToken: first.identity.issueRefreshToken({ upn, clientId: String(settings?.clientId ?? DEMO_CLIENT_ID) }),
          clientType: settings?.clientType === 'confidential' ? 'confidential' : 'public',
          user: { upn: user.userPrincipalName, name: user.displayName, id: user.id },
        }),
      );
    }
  } finally {
    await first.close();
  }

  const config = parseConfig({ server: { port: 0 }, anonymous: { enabled: true, readOnly: false }, ...raw, dataDir, emulator: { enabled: true, port: 0, dataDir: emulatorDir } }, {});
  const app = await startOneDav(config, { logger: options.logger, emulatorAdmin: true });
  return {
    app,
    dir,
    async close() {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
