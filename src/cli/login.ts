import { parseArgs } from 'node:util';
import { tryOpenBrowser } from '../auth/browser-login.js';
import { cloudByName, emulatorCloud, isLoopbackUrl, NATIONAL_CLOUDS, type Cloud } from '../auth/clouds.js';
import { ClientConfigError, OAuthError, SignInRequiredError } from '../auth/errors.js';
import { login } from '../auth/login.js';
import { openSignInStore } from './sign-in-store.js';
import { ConfigError, loadConfig, type AccountConfig, type Config } from '../config.js';
import { EXIT, type Command } from './command.js';

/** Where a sign-in command writes, and how it opens a browser; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  openBrowser?: (url: string) => void | Promise<void>;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  env: process.env,
};

/** The account a command works on: `--account NAME`, or the only one configured. */
export function pickAccount(config: Config, name: string | undefined): { name: string; account: AccountConfig } {
  const names = Object.keys(config.accounts);
  if (name) {
    const account = config.accounts[name];
    if (!account) throw new ConfigError([`no account named "${name}" (configured: ${names.join(', ') || 'none'})`]);
    return { name, account };
  }
  if (names.length === 1) return { name: names[0], account: config.accounts[names[0]] };
  if (names.length === 0) throw new ConfigError(['no accounts are configured: add one under "accounts" (see README, "Signing in") and pass --config FILE']);
  throw new ConfigError([`several accounts are configured (${names.join(', ')}): pick one with --account NAME`]);
}

/**
 * The cloud to sign in to. `--authority` (or ONEDAV_AUTHORITY) pointing at a loopback URL means the
 * emulator, whatever the account's cloud; a national cloud may be given another login host.
 */
export function resolveCloud(account: Pick<AccountConfig, 'cloud'>, authority: string | undefined, config: Config, env: NodeJS.ProcessEnv): Cloud {
  const given = authority ?? env.ONEDAV_AUTHORITY;
  if (given) {
    const url = given.replace(/\/+$/, '');
    if (isLoopbackUrl(url) || account.cloud === 'emulator') return emulatorCloud(url);
    return { ...NATIONAL_CLOUDS[account.cloud], loginUrl: url };
  }
  if (account.cloud === 'emulator') {
    const url = env.ONEDAV_EMULATOR_URL ?? (config.emulator.port ? `http://127.0.0.1:${config.emulator.port}` : undefined);
    return cloudByName('emulator', url);
  }
  return cloudByName(account.cloud);
}

/** Prints a failure in words that say what to do, and picks the exit code. */
export function reportFailure(io: CliIo, err: unknown): number {
  if (err instanceof ConfigError) {
    io.err(`onedav: ${err.message}\n`);
    return EXIT.config;
  }
  if (err instanceof OAuthError) {
    io.err(`onedav: sign-in failed: ${err.description || err.error}\n`);
    return EXIT.auth;
  }
  if (err instanceof SignInRequiredError || err instanceof ClientConfigError) {
    io.err(`onedav: ${err.message}\n`);
    return EXIT.auth;
  }
  io.err(`onedav: ${(err as Error).message}\n`);
  return EXIT.failure;
}

export function formatExpiry(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return 'no access token yet (one is fetched on first use)';
  const minutes = Math.round((expiresAt - now) / 60_000);
  const when = new Date(expiresAt).toISOString();
  return minutes >= 0 ? `${when} (in ${minutes} min)` : `${when} (expired ${-minutes} min ago; refreshed on next use)`;
}

export async function runLogin(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        account: { type: 'string', short: 'a' },
        'device-code': { type: 'boolean', default: false },
        authority: { type: 'string' },
        'login-hint': { type: 'string' },
        'no-browser': { type: 'boolean', default: false },
        timeout: { type: 'string' },
      },
      strict: true,
    });
    const config = await loadConfig(values.config, io.env);
    const { name, account } = pickAccount(config, values.account);
    const cloud = resolveCloud(account, values.authority, config, io.env);
    // With `redis` in the config the sign-in goes to Redis, where every replica finds it.
    const signIns = await openSignInStore(config, { env: io.env });
    const store = signIns.store;
    const flow = values['device-code'] ? 'deviceCode' : account.flow;
    io.out(`Signing in account "${name}" (${flow === 'interactive' ? 'browser' : flow === 'deviceCode' ? 'device code' : 'client credentials'}) at ${cloud.loginUrl}/${account.tenant}\n`);
    const record = await login({
      account: name,
      settings: account,
      cloud,
      store,
      flow,
      print: (line) => io.out(`${line}\n`),
      openBrowser: values['no-browser'] ? () => {} : (io.openBrowser ?? tryOpenBrowser),
      loginHint: values['login-hint'],
      browserTimeoutMs: values.timeout ? Number(values.timeout) * 1000 : undefined,
    }).finally(() => signIns.close());
    const who = record.user ? `${record.user.name ? `${record.user.name} <${record.user.upn}>` : record.user.upn}` : '(app)';
    const kind = record.accountType === 'app' ? `app-only, serving ${who}` : `${record.accountType} account ${who}`;
    io.out(`Signed in: ${kind}; tenant ${record.tenantId ?? record.tenant}; cloud ${cloud.name}${record.tenantCloud?.name && cloud.name === 'emulator' ? ` (tenant's cloud: ${record.tenantCloud.name})` : ''}.\n`);
    const where = store === signIns.files ? `${store.where(name)} (readable by you only)` : `${store.where(name)} (every replica uses it)`;
    io.out(`Saved to ${where}. Check with: onedav whoami --account ${name}\n`);
    return EXIT.ok;
  } catch (err) {
    return reportFailure(io, err);
  }
}

export const loginCommand: Command = {
  summary: 'sign an account in (browser, --device-code, or client credentials) and save its tokens',
  usage: `Usage: onedav login [--config FILE] [--account NAME] [--device-code] [--authority URL] [--login-hint UPN] [--no-browser] [--timeout SEC]

Signs the account in with its configured flow and saves the tokens under <dataDir>/accounts/NAME.json
(mode 0600), or in Redis when the config has "redis" (every replica uses it). The browser flow listens on the account's loopback redirectUri (register it in Entra ID
under "Mobile and desktop applications"). --device-code prints a code to enter on another device.
--authority points the sign-in at another login host; a loopback URL means the built-in emulator.`,
  run: (argv) => runLogin(argv),
};
