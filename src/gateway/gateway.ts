import { join } from 'node:path';
import { cloudByName } from '../auth/clouds.js';
import type { SignInStore } from '../auth/token-store.js';
import type { GatewayConfig } from '../config.js';
import { GATEWAY_SECRET_VARIABLE } from '../config.js';
import type { DownloadMode } from '../dav/http/download-mode.js';
import type { SharedRedis } from '../redis/connection.js';
import { SecretBox, STATE_KEY_VARIABLE } from '../redis/secret-box.js';
import { systemClock, type Clock } from '../util/clock.js';
import { isLoopbackHost } from '../util/loopback.js';
import type { Logger } from '../util/logger.js';
import { AppPasswordAuth } from './people-auth.js';
import { Audit } from './audit.js';
import { FileGatewayKv, RedisGatewayKv, type GatewayKv } from './kv.js';
import { issuerTemplateOf, resolveTenantIds, type OidcSettings } from './oidc.js';
import { People } from './people.js';
import { PersonDrives, type PersonDriveFactory } from './person-drives.js';
import { SealedSignInStore } from './sealed-sign-ins.js';
import { CALLBACK_PATH, GatewaySite, SITE_PREFIX } from './site.js';

export { SITE_PREFIX, CALLBACK_PATH } from './site.js';

export interface GatewayDeps {
  config: GatewayConfig;
  server: { host: string; tls: boolean };
  dataDir: string;
  /** The sign-in store of the server (files or Redis); file stores get their tokens sealed here. */
  signIns: SignInStore;
  redis?: SharedRedis;
  emulatorUrl?: string;
  factory: PersonDriveFactory;
  downloadMode: DownloadMode;
  logger: Logger;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** How long a person's drive stays open without requests (default 10 min). */
  idleMs?: number;
}

export interface RunningGateway {
  site: GatewaySite;
  passwords: AppPasswordAuth;
  people: People;
  drives: PersonDrives;
  close(): Promise<void>;
}

/**
 * Why the gateway must not start: no client secret, no state key to seal people's tokens, or the
 * site (where people receive passwords) on plain HTTP beyond loopback without a TLS proxy in front.
 */
export function gatewayProblems(config: GatewayConfig, server: { host: string; tls: boolean }, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  if (!config.app.clientSecret) problems.push(`gateway.app: the web app's client secret is missing: set ${GATEWAY_SECRET_VARIABLE}`);
  try {
    if (!SecretBox.fromEnvironment(env)) problems.push(`gateway: ${STATE_KEY_VARIABLE} is not set: people's refresh tokens must be stored sealed (make a key with: openssl rand -base64 32)`);
  } catch (err) {
    problems.push(`gateway: ${(err as Error).message}`);
  }
  const publicUrl = new URL(config.publicUrl);
  if (!config.behindTls) {
    if (!server.tls && !isLoopbackHost(server.host)) {
      problems.push(`gateway: server.host is ${server.host} without TLS: the sign-in site hands out passwords and refuses plain HTTP beyond loopback. Set server.tls, or put an HTTPS proxy in front and set gateway.behindTls`);
    }
    if (publicUrl.protocol !== 'https:' && !isLoopbackHost(publicUrl.hostname)) {
      problems.push(`gateway.publicUrl ${config.publicUrl} is plain HTTP: use https:// (behind a TLS proxy, set gateway.behindTls)`);
    }
  }
  return problems;
}

/** The gateway's records: the fleet's Redis when there is one, files under `<dataDir>/gateway/` otherwise. */
export function openGatewayKv(dataDir: string, redis: SharedRedis | undefined, clock: Clock = systemClock): GatewayKv {
  return redis ? new RedisGatewayKv(redis) : new FileGatewayKv(join(dataDir, 'gateway'), clock);
}

export function startGateway(deps: GatewayDeps): RunningGateway {
  const { config, logger } = deps;
  const env = deps.env ?? process.env;
  const problems = gatewayProblems(config, deps.server, env);
  if (problems.length) throw new Error(problems.join('; '));
  const clock = deps.clock ?? systemClock;
  const box = SecretBox.fromEnvironment(env)!;
  // Redis seals by itself (RedisTokenStore with the same box); token files are sealed here.
  const signIns = deps.signIns.shared ? deps.signIns : new SealedSignInStore(deps.signIns, box);
  const cloud = cloudByName(config.app.cloud, deps.emulatorUrl);
  const publicUrl = config.publicUrl.replace(/\/+$/, '');
  const authority = config.authority ?? (config.tenants.length === 1 ? config.tenants[0] : 'organizations');
  const oidc: OidcSettings = { cloud, authority, clientId: config.app.clientId, clientSecret: config.app.clientSecret!, redirectUri: `${publicUrl}${CALLBACK_PATH}`, scopes: config.scopes };
  const audit = new Audit(logger.child({ component: 'gateway' }));
  const people = new People(openGatewayKv(deps.dataDir, deps.redis, clock));
  const drives = new PersonDrives({
    signIns,
    clientSecret: oidc.clientSecret,
    factory: deps.factory,
    downloadMode: deps.downloadMode,
    logger,
    clock,
    idleMs: deps.idleMs,
    // A revoked person's refresher must not save their tokens back (its own timer would, at expiry).
    stillThere: async (oid) => (await people.get(oid)) !== undefined,
    async onSignInRequired(person, reason) {
      const updated = await people.update(person.oid, (p) => (p && !p.signInRequired ? { ...p, signInRequired: reason } : false));
      if (updated) audit.event('sign-in required', person, { reason });
    },
  });
  let tenants: Promise<ReadonlySet<string>> | undefined;
  let issuer: Promise<string> | undefined;
  const once = <T>(get: () => Promise<T>, keep: (p: Promise<T> | undefined) => void): Promise<T> => {
    const p = get();
    keep(p);
    p.catch(() => keep(undefined)); // a failed lookup (Microsoft unreachable) is tried again next time
    return p;
  };
  const site = new GatewaySite({
    people,
    drives,
    signIns,
    audit,
    oidc,
    cloud,
    allowedTenants: () => tenants ?? once(() => resolveTenantIds(cloud, config.tenants), (p) => (tenants = p)),
    issuerTemplate: () => issuer ?? once(() => issuerTemplateOf(cloud, authority), (p) => (issuer = p)),
    publicUrl,
    secureCookies: publicUrl.startsWith('https:'),
    sessionMs: config.sessionHours * 3600_000,
    maxAppPasswords: config.maxAppPasswords,
    clock,
    logger,
  });
  const passwords = new AppPasswordAuth(people, drives, audit, clock, `${publicUrl}${SITE_PREFIX}`);
  logger.info('gateway: people sign in on the site', { url: `${publicUrl}${SITE_PREFIX}`, tenants: config.tenants.join(' '), authority });
  return { site, passwords, people, drives, close: () => drives.close() };
}
