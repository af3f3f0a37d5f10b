import { access, constants } from 'node:fs/promises';
import { TokenStore } from '../auth/token-store.js';
import type { Config } from '../config.js';
import { isPasswordHash } from '../dav/passwords.js';
import { EMULATOR_ACCOUNT } from './app.js';

export interface Preflight {
  /** Reasons not to start. */
  problems: string[];
  /** Things that work but an operator should know. */
  warnings: string[];
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

/**
 * Checks what the schema cannot: password hashes, TLS files, exposure of Basic auth over plain
 * HTTP, sign-ins that are missing. `serve` refuses to start on problems; `check-config` lists both.
 */
export async function preflight(config: Config, options: { insecureDev?: boolean } = {}): Promise<Preflight> {
  const problems: string[] = [];
  const warnings: string[] = [];

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
  } else if (!LOOPBACK.test(config.server.host) && (config.users.length > 0 || config.anonymous.enabled)) {
    warnings.push(
      `server.host is ${config.server.host} without TLS: Basic-auth passwords cross the network in clear text. ` +
        'Put onedav behind an HTTPS proxy or set server.tls (Windows Explorer also refuses Basic auth over plain HTTP).',
    );
  }
  if (config.anonymous.enabled && !LOOPBACK.test(config.server.host)) {
    warnings.push(`anonymous access is on and server.host is ${config.server.host}: anyone who can reach this port can ${config.anonymous.readOnly ? 'read' : 'read and change'} the drive`);
  }
  if (config.server.monitoring === 'open' && !LOOPBACK.test(config.server.host)) {
    warnings.push(
      `server.monitoring is "open" and server.host is ${config.server.host}: anyone who can reach this port can read /.well-known/onedav/healthz and /metrics ` +
        '(account names, mount paths, traffic counts; never tokens). Set server.monitoring to "users" to ask for a WebDAV user\'s password.',
    );
  }
  if (config.server.monitoring === 'users' && config.users.length === 0) {
    warnings.push('server.monitoring is "users" but no users are configured: /.well-known/onedav/healthz and /metrics will refuse everyone');
  }
  if (config.users.length === 0 && !config.anonymous.enabled) {
    problems.push('no users are configured and anonymous access is off: add a user (see "onedav hash-password") or enable anonymous');
  }

  const store = new TokenStore(config.dataDir);
  for (const name of new Set(config.mounts.map((m) => m.account))) {
    if (name === EMULATOR_ACCOUNT && config.emulator.enabled && !config.accounts[name]) continue;
    const account = config.accounts[name];
    if (account?.flow === 'clientCredentials') {
      if (!account.clientSecret) problems.push(`accounts.${name}: client credentials need a secret: set ONEDAV_CLIENT_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`);
      continue;
    }
    const saved = await store.load(name).catch((err: Error) => {
      problems.push(err.message);
      return null;
    });
    if (saved === undefined) problems.push(`account "${name}" has not signed in yet: run "onedav login --account ${name} --config <this file>"`);
    else if (saved?.signInRequired) problems.push(`account "${name}" must sign in again (${saved.signInRequired}): run "onedav login --account ${name} --config <this file>"`);
  }
  return { problems, warnings };
}
