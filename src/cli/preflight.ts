import { access, constants } from 'node:fs/promises';
import { clientTypeOf } from '../auth/client-type.js';
import type { SignInStore, StoredAccount } from '../auth/token-store.js';
import { checkSharedSignIn, openSignInStore } from './sign-in-store.js';
import { secretVariableOf, type AccountConfig, type Config } from '../config.js';
import { isPasswordHash } from '../dav/access/passwords.js';
import { EMULATOR_ACCOUNT } from './app.js';
import { checkRedis } from './shared-redis.js';
import { isLoopbackHost } from '../util/loopback.js';
import { gatewayProblems } from '../gateway/gateway.js';

export interface Preflight {
  /** Reasons not to start. */
  problems: string[];
  /** Things that work but an operator should know. */
  warnings: string[];
  /** How each mounted account signs in (check-config prints them). */
  notes: string[];
}

/**
 * Checks what the schema cannot: password hashes, TLS files, exposure of Basic auth over plain
 * HTTP, sign-ins that are missing. `serve` refuses to start on problems; `check-config` lists both.
 */
export async function preflight(config: Config, options: { insecureDev?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<Preflight> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];

  config.users.forEach((user, i) => {
    if (!isPasswordHash(user.password)) {
      const text = `users.${i}.password (user "${user.name}") is not a scrypt hash: run "onedav hash-password" and paste its output`;
      if (options.insecureDev) warnings.push(`${text} (accepted because of --insecure-dev)`);
      else problems.push(text);
    }
  });

  if (config.server.tls) {
    for (const [key, path] of Object.entries(config.server.tls)) {
      await access(path, constants.R_OK).catch(() => problems.push(`server.tls.${key}: cannot read ${path}`));
    }
  } else if (!isLoopbackHost(config.server.host) && (config.users.length > 0 || config.anonymous.enabled)) {
    warnings.push(
      `server.host is ${config.server.host} without TLS: Basic-auth passwords cross the network in clear text. ` +
        'Put onedav behind an HTTPS proxy or set server.tls (Windows Explorer also refuses Basic auth over plain HTTP).',
    );
  }
  if (config.anonymous.enabled && !isLoopbackHost(config.server.host)) {
    warnings.push(`anonymous access is on and server.host is ${config.server.host}: anyone who can reach this port can ${config.anonymous.readOnly ? 'read' : 'read and change'} the drive`);
  }
  if (config.server.monitoring === 'open' && !isLoopbackHost(config.server.host)) {
    warnings.push(
      `server.monitoring is "open" and server.host is ${config.server.host}: anyone who can reach this port can read /.well-known/onedav/healthz and /metrics ` +
        '(account names, mount paths, traffic counts; never tokens). Set server.monitoring to "users" to ask for a WebDAV user\'s password.',
    );
  }
  if (config.server.monitoring === 'users' && config.users.length === 0) {
    warnings.push('server.monitoring is "users" but no users are configured: /.well-known/onedav/healthz and /metrics will refuse everyone');
  }
  if (config.gateway) {
    problems.push(...gatewayProblems(config.gateway, { host: config.server.host, tls: !!config.server.tls }, options.env ?? process.env));
    notes.push(`gateway: people of ${config.gateway.tenants.join(', ')} sign in at ${config.gateway.publicUrl.replace(/\/+$/, '')}/.well-known/onedav/account/`);
  }
  if (config.users.length === 0 && !config.anonymous.enabled && !config.gateway) {
    problems.push('no users are configured and anonymous access is off: add a user (see "onedav hash-password") or enable anonymous');
  }

  const env = options.env ?? process.env;
  const shared = checkSharedSignIn(config, env);
  problems.push(...shared.problems);
  warnings.push(...shared.warnings);
  if (config.redis) {
    const redis = await checkRedis(config.redis, options.env);
    problems.push(...redis.problems);
    warnings.push(...redis.warnings);
    // An unreachable Redis is said once; the sign-in checks below would only wait for it again.
    if (redis.problems.length) return { problems, warnings, notes };
  }
  if (shared.problems.length) return { problems, warnings, notes };
  let opened;
  try {
    opened = await openSignInStore(config, { env });
  } catch (err) {
    problems.push(`redis: ${(err as Error).message}`);
    return { problems, warnings, notes };
  }
  try {
    await checkSignIns(config, opened.store, opened.files, env, { problems, warnings, notes });
  } finally {
    await opened.close();
  }
  return { problems, warnings, notes };
}

/** Every mounted account has a saved sign-in (in Redis, or a token file that serve imports into it). */
async function checkSignIns(config: Config, store: SignInStore, files: SignInStore, env: NodeJS.ProcessEnv, out: Preflight): Promise<void> {
  const { problems, warnings, notes } = out;
  for (const name of new Set(config.mounts.map((m) => m.account))) {
    if (name === EMULATOR_ACCOUNT && config.emulator.enabled && !config.accounts[name]) continue;
    const account = config.accounts[name];
    if (account) checkClient(name, account, env, { problems, warnings, notes });
    if (account?.flow === 'clientCredentials') continue;
    const load = async (from: SignInStore): Promise<StoredAccount | null | undefined> =>
      from.load(name).catch((err: Error) => {
        problems.push(err.message);
        return null;
      });
    let saved = await load(store);
    if (saved === undefined && store !== files) saved = await load(files);
    if (saved === undefined) problems.push(`account "${name}" has not signed in yet: run "onedav login --account ${name} --config <this file>"`);
    else if (saved?.signInRequired) problems.push(`account "${name}" must sign in again (${saved.signInRequired}): run "onedav login --account ${name} --config <this file>"`);
  }
}

/** Public or confidential: which secret the account sends, and whether it has it. */
function checkClient(name: string, account: AccountConfig, env: NodeJS.ProcessEnv, out: Preflight): void {
  const variable = secretVariableOf(name);
  if (clientTypeOf(account) === 'public') {
    out.notes.push(`account "${name}": public client (Mobile and desktop registration): signs in without a client secret`);
    if (env[variable]) {
      out.warnings.push(
        `${variable} is set but account "${name}" is a public client, which must not send a secret (Entra answers AADSTS700025): it is not used. ` +
          'If the app\'s redirect URI is registered under "Web", set "clientType": "confidential" on the account.',
      );
    }
    return;
  }
  const what = account.flow === 'clientCredentials' ? 'client credentials' : 'a confidential client (clientType "confidential", a "Web" redirect URI)';
  out.notes.push(`account "${name}": ${account.flow === 'clientCredentials' ? 'app-only (client credentials)' : 'confidential web app'}: sends its client secret with every token request`);
  if (!account.clientSecret) out.problems.push(`accounts.${name}: ${what} need${account.flow === 'clientCredentials' ? '' : 's'} a secret: set ${variable}`);
}
