import { join } from 'node:path';
import { cloudByName, cloudFromDiscovery, emulatorCloud } from '../auth/clouds.js';
import { secretToSend } from '../auth/client-type.js';
import { fetchOpenIdConfiguration } from '../auth/discovery.js';
import { login } from '../auth/login.js';
import { TokenRefresher } from '../auth/refresher.js';
import type { SignInStore, StoredAccount } from '../auth/token-store.js';
import { importFileSignIn, openSignInStore } from './sign-in-store.js';
import { RedisLoginThrottle } from '../dav/stores/redis-login-throttle.js';
import type { AccountConfig, Config, MountConfig } from '../config.js';
import { startDavServer, type DavServerOptions, type RunningDavServer } from '../dav/server.js';
import { createGraphDrive, DriveMemoryFile, driveMemoryKey, type GraphDrive } from '../drive/index.js';
import { AccountApi } from '../graph/account-api.js';
import { GraphClient } from '../graph/client.js';
import { graphFeaturesOf } from '../graph/features.js';
import { removeSpoolLeftovers } from '../graph/upload.js';
import { UploadJournal } from '../graph/upload-journal.js';
import { FleetCoherence } from './fleet-coherence.js';
import type { TokenSource } from '../auth/token-source.js';
import type { DriveBase } from '../graph/paths.js';
import { DEMO_USER } from '../emulator/directory.js';
import { startEmulator, type RunningEmulator } from '../emulator/server.js';
import { createMonitoring, type HealthChecker } from '../ops/index.js';
import { demoAccount } from './demo-account.js';
import { seedDemoDrive } from './demo-drive.js';
import { RedisLockSystem } from '../dav/stores/redis-lock-system.js';
import { RedisPropertyStore } from '../dav/stores/redis-property-store.js';
import { systemClock, type Clock } from '../util/clock.js';
import { keepFreedMemoryForReuse } from '../util/heap-reuse.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { accountOf } from '../gateway/people.js';

/** The name of the account `npm start` signs in to the built-in emulator. */
export const EMULATOR_ACCOUNT = 'emulator';

export interface RunningOneDav {
  url: string;
  dav: RunningDavServer;
  emulator?: RunningEmulator;
  accounts: Map<string, TokenRefresher>;
  mounts: Array<{ prefix: string; drive: GraphDrive; client: GraphClient }>;
  /** What `/.well-known/onedav/healthz` answers. */
  health: HealthChecker;
  /** Gateway mode: the people's site, passwords and drives. */
  gateway?: RunningGateway;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Start the emulator with its admin endpoint (tests, benchmarks). */
  emulatorAdmin?: boolean;
  /** The built-in emulator's clock (tests move it to expire tokens). */
  emulatorClock?: Clock;
}

/**
 * Wires config into a running server: the emulator when enabled, one token refresher per account,
 * one GraphDrive per mount, and the WebDAV server over them. The only place that knows every module.
 */
export async function startOneDav(config: Config, options: StartOptions = {}): Promise<RunningOneDav> {
  const logger = options.logger ?? silentLogger;
  keepFreedMemoryForReuse(); // a third less CPU per streamed GiB (see heap-reuse.ts)
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const fn of closers.reverse()) await fn().catch((err) => logger.warn('shutdown step failed', { error: err as Error }));
  };
  try {
    // With `redis`, every replica shares the sign-ins (and the refresh lease); files under dataDir otherwise.
    const signIns = await openSignInStore(config, { logger });
    closers.push(signIns.close);
    const store = signIns.store;
    let emulator: RunningEmulator | undefined;
    if (config.emulator.enabled) {
      emulator = await startEmulator({ port: config.emulator.port, dataDir: config.emulator.dataDir, admin: options.emulatorAdmin, clock: options.emulatorClock });
      closers.push(() => emulator!.close());
      logger.info('built-in Graph emulator started', { url: emulator.url });
    }

    // The fleet's shared state: the one Redis connection of this process, opened with the sign-ins
    // (closed after everything that uses it); undefined without `redis`.
    const shared = signIns.redis;

    const accounts = new Map<string, TokenRefresher>();
    const accountFor = async (name: string): Promise<TokenRefresher> => {
      let refresher = accounts.get(name);
      if (!refresher) {
        if (await importFileSignIn(store, signIns.files, name)) logger.info('copied the sign-in from the token file into Redis; every replica uses it now', { account: name });
        const record = await signedInRecord(name, config, store, emulator, logger);
        const account = config.accounts[name];
        refresher = new TokenRefresher({ store, record, clientSecret: account && secretToSend(account), logger });
        accounts.set(name, refresher);
        const r = refresher;
        closers.push(async () => r.close());
      }
      return refresher;
    };

    const tokenLeftovers = await signIns.files.removeLeftovers();
    if (tokenLeftovers > 0) logger.info('removed temp files of token saves an earlier run did not finish', { count: tokenLeftovers });

    const spoolDir = join(config.dataDir, 'spool');
    const leftovers = await removeSpoolLeftovers(spoolDir);
    if (leftovers > 0) logger.info('removed spool files of uploads an earlier run did not finish', { count: leftovers, dir: spoolDir });

    const uploadJournal = await UploadJournal.load(join(config.dataDir, 'upload-sessions.json'));
    const driveMemory = await DriveMemoryFile.load(join(config.dataDir, 'drives.json'), logger);
    closers.push(() => driveMemory.flushed());

    let fleet: FleetCoherence | undefined;
    if (shared) {
      const coherence = new FleetCoherence(shared, { deltaPollSeconds: config.cache.deltaPollSeconds, logger });
      fleet = coherence;
      closers.push(() => coherence.close());
    }

    const mounts: RunningOneDav['mounts'] = [];
    for (const mount of config.mounts) {
      const refresher = await accountFor(mount.account);
      const record = refresher.describe();
      const cloud = await graphCloudOf(record);
      const features = graphFeaturesOf(cloud);
      if (!features.pathAddressing) logger.info('Graph in this cloud serves no path addressing: items are addressed by id', { mount: mount.path, cloud: cloud ?? 'unknown' });
      const driveBase = await driveBaseOf(mount, config.accounts[mount.account], record.graphBaseUrl, refresher);
      const { drive, client, close: closeDrive } = createGraphDrive({
        graphBaseUrl: record.graphBaseUrl,
        tokens: refresher,
        drive: driveBase,
        cache: config.cache,
        upload: config.upload,
        spoolDir,
        features,
        // With several replicas the sessions are registered in Redis, where a live peer can cancel a dead one's.
        uploadJournal: fleet?.sessions ?? uploadJournal,
        shared: fleet?.driveState(mount.account, driveBase),
        memory: driveMemory.forDrive(driveMemoryKey(record, driveBase)),
        logger: logger.child({ mount: mount.path }),
      });
      closers.push(closeDrive);
      mounts.push({ prefix: mount.path, drive, client });
    }
    // Before the first PUT: a session an earlier run left open (it was killed mid-upload) would
    // make OneDrive for Business refuse the next upload of that file until it expires.
    if (mounts.length > 0) {
      const cancelled = await uploadJournal.cancelLeftovers((url) => mounts[0].drive.api.cancelUploadSession(url));
      if (cancelled > 0) logger.info('cancelled upload sessions an earlier run left open', { count: cancelled });
      await fleet?.start((url) => mounts[0].drive.api.cancelUploadSession(url));
    }

    // Several replicas: locks and dead properties live in the fleet's Redis; without it, files under dataDir.
    const stores: DavServerOptions['stores'] = shared && { locks: new RedisLockSystem(shared, systemClock), properties: new RedisPropertyStore(shared, config.deadProperties) };

    let gateway: RunningGateway | undefined;
    if (config.gateway) {
      const gatewayConfig = config.gateway;
      const graphCloud = gatewayConfig.app.cloud === 'emulator' ? 'global' : gatewayConfig.app.cloud;
      gateway = startGateway({
        config: gatewayConfig,
        server: { host: config.server.host, tls: !!config.server.tls },
        dataDir: config.dataDir,
        signIns: store,
        redis: shared,
        emulatorUrl: emulator?.url,
        downloadMode: config.download.mode,
        logger,
        // Each person's own drive (`/me/drive`) with their own delegated token.
        factory: (tokens, person) => {
          const drive = { type: 'me' as const };
          const created = createGraphDrive({
            graphBaseUrl: tokensCloudBase(gatewayConfig.app.cloud, emulator),
            tokens,
            drive,
            cache: config.cache,
            upload: config.upload,
            spoolDir,
            features: graphFeaturesOf(graphCloud),
            uploadJournal: fleet?.sessions ?? uploadJournal,
            shared: fleet?.driveState(accountOf(person.oid), drive),
            logger: logger.child({ person: person.upn }),
          });
          return { drive: created.drive, close: created.close };
        },
      });
      const running = gateway;
      closers.push(() => running.close());
    }

    let dav: RunningDavServer | undefined;
    const monitor = createMonitoring({ accounts, mounts: mounts.map((m, i) => ({ ...m, account: config.mounts[i].account })), dav: () => dav?.metrics });
    dav = await startDavServer({
      host: config.server.host,
      port: config.server.port,
      tls: config.server.tls,
      realm: config.server.realm,
      mounts: mounts.map(({ prefix, drive }, i) => ({ prefix, drive, download: config.mounts[i].download })),
      users: config.users,
      // Failed logins counted fleet-wide, so N replicas do not give a guesser N budgets.
      ...(shared ? { failedLogins: new RedisLoginThrottle(shared) } : {}),
      anonymous: config.anonymous,
      download: config.download,
      macMetadata: config.macMetadata,
      deadProperties: config.deadProperties,
      dataDir: config.dataDir,
      stores,
      monitoring: config.server.monitoring === 'off' ? undefined : { access: config.server.monitoring, endpoints: monitor.endpoints },
      people: gateway?.passwords,
      site: gateway?.site,
      logger,
    });
    const running = dav;
    closers.push(() => running.close());
    return { url: dav.url, dav, emulator, accounts, mounts, health: monitor.health, gateway, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Graph v1.0 root of the gateway's cloud (the embedded emulator's when the cloud is `emulator`). */
function tokensCloudBase(cloud: AccountConfig['cloud'], emulator: RunningEmulator | undefined): string {
  return (cloud === 'emulator' ? emulatorCloud(emulator?.url ?? '') : cloudByName(cloud)).graphBaseUrl;
}

/**
 * The drive a mount serves. App-only accounts have no `/me`: their "my drive" is the configured
 * user's. A site mount naming a library is resolved to that library's drive id once, at start.
 */
async function driveBaseOf(mount: MountConfig, account: AccountConfig | undefined, graphBaseUrl: string, tokens: TokenSource): Promise<DriveBase> {
  const drive = mount.drive;
  if (drive.type === 'me' && account?.flow === 'clientCredentials') {
    if (!account.user) throw new Error(`mount ${mount.path}: account "${mount.account}" signs in app-only; set its "user" or give the mount a drive`);
    return { type: 'user', user: account.user };
  }
  if (drive.type === 'site') {
    if (!drive.library) return { type: 'site', site: drive.site };
    const client = new GraphClient({ baseUrl: graphBaseUrl, tokens });
    try {
      return { type: 'id', id: await new AccountApi(client).libraryDriveId(drive.site, drive.library) };
    } catch (err) {
      throw new Error(`mount ${mount.path}: ${(err as Error).message}`);
    } finally {
      await client.close();
    }
  }
  return drive;
}

/**
 * The national cloud whose Graph serves an account's drives: the account's own; for an emulator
 * account its tenant's, as the emulator's OpenID configuration reports it (saved at sign-in, or
 * asked now). Undefined when that cannot be told (the drive is then addressed by id, which works everywhere).
 */
async function graphCloudOf(record: Pick<StoredAccount, 'cloud' | 'tenantCloud' | 'loginUrl' | 'tenant'>): Promise<string | undefined> {
  if (record.cloud !== 'emulator') return record.cloud;
  if (record.tenantCloud?.name) return record.tenantCloud.name;
  try {
    const facts = await fetchOpenIdConfiguration(record.loginUrl, record.tenant);
    return cloudFromDiscovery({ cloudInstanceName: facts.cloudInstanceName, msgraphHost: facts.msgraphHost });
  } catch {
    return undefined;
  }
}

/**
 * The saved sign-in of an account. The implicit emulator account is signed in on every start (its
 * URL changes with the port); app-only accounts need no person, so they sign themselves in.
 */
async function signedInRecord(name: string, config: Config, store: SignInStore, emulator: RunningEmulator | undefined, logger: Logger): Promise<StoredAccount> {
  const account = config.accounts[name];
  if (!account && name === EMULATOR_ACCOUNT && emulator) {
    const record = demoAccount(emulator, name);
    await store.save(record);
    await seedDemoDrive(emulator, DEMO_USER);
    return record;
  }
  const saved = await store.load(name);
  if (saved && account?.cloud === 'emulator' && emulator) {
    // A configured emulator account follows the embedded emulator wherever it listens now; saved,
    // because a shared sign-in store (Redis) is where the refresher reads the record from.
    if (saved.loginUrl === emulator.url) return saved;
    const moved = { ...saved, loginUrl: emulator.url, graphBaseUrl: `${emulator.url}/v1.0` };
    await store.save(moved);
    return moved;
  }
  if (saved) return saved;
  if (account?.flow === 'clientCredentials') {
    const cloud = account.cloud === 'emulator' ? emulatorCloud(emulator?.url ?? '') : cloudByName(account.cloud);
    logger.info('signing in app-only', { account: name });
    return login({ account: name, settings: account, cloud, store, print: (line) => logger.info(line) });
  }
  throw new Error(`account "${name}" has not signed in yet. Run: onedav login --account ${name}${config.accounts[name] ? ' --config <your config file>' : ''}`);
}
