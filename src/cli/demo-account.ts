import { emulatorCloud } from '../auth/clouds.js';
import { accountFromRefreshToken } from '../auth/login.js';
import type { StoredAccount } from '../auth/token-store.js';
import { DEMO_CLIENT_ID, DEMO_USER, findUser } from '../emulator/directory.js';
import type { RunningEmulator } from '../emulator/server.js';

/**
 * The emulator's demo user (or `upn`) signed in as `account` without a browser: a refresh token the
 * emulator issues, saved as `onedav login` would save it. What `npm start` signs in with.
 */
export function demoAccount(emulator: RunningEmulator, account: string, upn = DEMO_USER): StoredAccount {
  const user = findUser(emulator.state.directory, upn);
  if (!user) throw new Error(`the emulator has no user ${upn}`);
  return accountFromRefreshToken({
    account,
    cloud: emulatorCloud(emulator.url),
    tenant: user.tenantId,
    clientId: DEMO_CLIENT_ID,
    refreshToken: emulator.identity.issueRefreshToken({ upn, clientId: DEMO_CLIENT_ID }),
    user: { upn: user.userPrincipalName, name: user.displayName, id: user.id },
    accountType: 'organizational',
    // The demo app is a public client (desktop registration): its refresh carries no secret.
    clientType: 'public',
  });
}
