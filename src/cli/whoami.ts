import { parseArgs } from 'node:util';
import { SignInRequiredError } from '../auth/errors.js';
import type { SignInStore, StoredAccount } from '../auth/token-store.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { openSignInStore } from './sign-in-store.js';
import { formatExpiry, processIo, reportFailure, type CliIo } from './login.js';
import { EXIT, type Command } from './command.js';

/** The saved account as people read it: never a token, only whether there is one. */
function describeAccount(record: StoredAccount, file: string, now: number): Record<string, unknown> {
  return {
    account: record.account,
    user: record.user ? { upn: record.user.upn, name: record.user.name, id: record.user.id } : undefined,
    accountType: record.accountType,
    tenantId: record.tenantId ?? record.tenant,
    cloud: record.cloud,
    loginUrl: record.loginUrl,
    tenantCloud: record.tenantCloud,
    graphBaseUrl: record.graphBaseUrl,
    flow: record.flow,
    clientId: record.clientId,
    scopes: record.scopes,
    accessTokenExpiresAt: record.expiresAt !== undefined ? new Date(record.expiresAt).toISOString() : null,
    accessTokenValid: record.expiresAt !== undefined && record.expiresAt > now,
    hasRefreshToken: !!record.refreshToken,
    signInRequired: record.signInRequired ?? null,
    file,
  };
}

export async function runWhoami(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, account: { type: 'string', short: 'a' }, json: { type: 'boolean', default: false } },
      strict: true,
    });
    const config = await loadConfig(values.config, io.env);
    const signIns = await openSignInStore(config, { env: io.env });
    try {
      return await whoami(signIns.store, config, values, io);
    } finally {
      await signIns.close();
    }
  } catch (err) {
    return reportFailure(io, err);
  }
}

async function whoami(store: SignInStore, config: Config, values: { account?: string; json?: boolean }, io: CliIo): Promise<number> {
  let name = values.account;
  if (!name) {
    const configured = Object.keys(config.accounts);
    const saved = await store.list();
    if (configured.length === 1) name = configured[0];
    else if (saved.length === 1) name = saved[0];
    else throw new ConfigError([`pick an account with --account NAME (saved sign-ins: ${saved.join(', ') || 'none'})`]);
  }
  const record = await store.load(name);
  if (!record) throw new SignInRequiredError(name, 'it has not signed in yet');
  const now = Date.now();
  const info = describeAccount(record, store.where(name), now);
  if (values.json) {
    io.out(`${JSON.stringify(info, null, 2)}\n`);
    return record.signInRequired ? EXIT.auth : EXIT.ok;
  }
  const lines: Array<[string, string]> = [
    ['Account', record.account],
    ['User', record.user ? (record.user.name ? `${record.user.name} <${record.user.upn}>` : record.user.upn) : '(none)'],
    ['Type', record.accountType === 'app' ? 'app-only (client credentials)' : record.accountType],
    ['Tenant', record.tenantId ?? record.tenant],
    ['Cloud', record.cloud === 'emulator' ? `emulator at ${record.loginUrl}` : record.cloud],
  ];
  if (record.tenantCloud?.instanceName) lines.push(["Tenant's cloud", `${record.tenantCloud.name ?? 'unknown'} (${record.tenantCloud.instanceName}, Graph ${record.tenantCloud.graphHost ?? '?'})`]);
  lines.push(['Graph', record.graphBaseUrl], ['Sign-in flow', `${record.flow} (${record.clientType ?? (record.flow === 'clientCredentials' ? 'confidential' : 'public')} client ${record.clientId})`], ['Access token', formatExpiry(record.expiresAt, now)]);
  lines.push(['Refresh token', record.refreshToken ? 'saved' : record.flow === 'clientCredentials' ? 'none (app-only tokens are re-acquired)' : 'missing']);
  if (record.signInRequired) lines.push(['Needs sign-in', `${record.signInRequired.replace(/\.\s*$/, '')}. Run: onedav login --account ${record.account}`]);
  lines.push([store.shared ? 'Stored' : 'File', store.where(name)]);
  const width = Math.max(...lines.map(([k]) => k.length));
  io.out(lines.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}\n`).join(''));
  return record.signInRequired ? EXIT.auth : EXIT.ok;
}

export const whoamiCommand: Command = {
  summary: 'show who an account is signed in as (user, tenant, cloud, token expiry; never the token)',
  usage: `Usage: onedav whoami [--config FILE] [--account NAME] [--json]

Reads the saved sign-in of the account and prints the user, tenant, cloud, Graph endpoint and when
the access token expires. Exit code 4 when the account must sign in again.`,
  run: (argv) => runWhoami(argv),
};
