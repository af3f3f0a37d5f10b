import { parseArgs } from 'node:util';
import { secretToSend } from '../auth/client-type.js';
import { NATIONAL_CLOUDS } from '../auth/clouds.js';
import { discover, DiscoveryCache, type Discovery } from '../auth/discovery.js';
import { TokenRefresher } from '../auth/refresher.js';
import { TokenStore, type StoredAccount } from '../auth/token-store.js';
import { loadConfig, type Config } from '../config.js';
import { AccountApi, type DriveOwner, type DriveSummary } from '../graph/account-api.js';
import { GraphClient } from '../graph/client.js';
import { inBinaryUnits } from '../util/binary-units.js';
import { pickAccount, processIo, reportFailure, resolveCloud, type CliIo } from './login.js';
import { EXIT, type Command } from './command.js';

/** A drive as `discover` shows it; `site` names the site a document library belongs to. */
interface DriveView extends DriveSummary {
  site?: string;
}

export interface SignedInView {
  account: string;
  user?: string;
  myFiles?: DriveView;
  rootSite?: { id?: string; webUrl?: string; displayName?: string };
  drives: DriveView[];
  /** Calls that failed, with Graph's message. */
  problems: string[];
}

/** What a signed-in account can mount: MyFiles, the root site, its drives and those of followed sites. */
async function signedInView(record: StoredAccount, graph: GraphClient): Promise<SignedInView> {
  const view: SignedInView = { account: record.account, user: record.user?.upn, drives: [], problems: [] };
  const account = new AccountApi(graph);
  const owner: DriveOwner = record.accountType === 'app' ? { by: 'user', upn: record.user?.upn ?? '' } : { by: 'me' };
  const attempt = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (err) {
      view.problems.push(`${what}: ${(err as Error).message}`);
      return undefined;
    }
  };
  view.myFiles = await attempt('MyFiles', () => account.defaultDrive(owner));
  if (record.accountType !== 'personal') view.rootSite = await attempt('RootSite', () => account.rootSite());
  const seen = new Set<string>();
  const add = (d: DriveView) => {
    if (!seen.has(d.id)) view.drives.push(d);
    seen.add(d.id);
  };
  for (const d of (await attempt('drives', () => account.drives(owner))) ?? []) add(d);
  if (record.accountType === 'organizational') {
    for (const site of (await attempt('followed sites', () => account.followedSites())) ?? []) {
      const name = site.displayName ?? site.id;
      for (const d of (await attempt(`drives of ${name}`, () => account.siteDrives(site.id))) ?? []) add({ ...d, site: site.displayName ?? site.webUrl ?? site.id });
    }
  }
  return view;
}

function bytes(n: number | undefined): string {
  if (n === undefined) return '?';
  const { value, unit } = inBinaryUnits(n);
  return `${value.toFixed(value >= 10 || unit === 'B' ? 0 : 1)} ${unit}`;
}

function formatDiscovery(d: Discovery): string {
  const region = [d.regionScope, d.regionSubScope].filter(Boolean).join('/');
  const rows: Array<[string, string]> = [
    ['Domain', d.domain],
    ['Account type', d.accountType === 'personal' ? 'personal Microsoft account' : `work or school (${d.organization ?? 'Microsoft Entra ID'})`],
    ['Tenant', d.accountType === 'personal' ? `${d.tenantId} (consumers)` : d.tenantId],
    ['Cloud', `${d.cloud}: ${d.cloudDisplayName} (${d.cloudInstanceName}${region ? `, region ${region}` : ''})`],
    ['Authority', d.authority],
    ['Token endpoint', d.tokenEndpoint],
    ['Graph', `${d.graphHost}; requests go to ${d.graphBaseUrl}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}\n`).join('');
}

function formatSignedIn(view: SignedInView): string {
  const out: string[] = [`\nSigned in as ${view.user ?? '(app)'} (account "${view.account}"):\n`];
  const mf = view.myFiles;
  if (mf) out.push(`  MyFiles:  ${mf.webUrl ?? '?'} (${mf.driveType ?? '?'}, ${bytes(mf.quota?.used)} of ${bytes(mf.quota?.total)} used)\n`);
  if (view.rootSite) out.push(`  RootSite: ${view.rootSite.webUrl ?? '?'}${view.rootSite.displayName ? ` (${view.rootSite.displayName})` : ''}\n`);
  out.push('  Drives you can mount (use {"type":"id","id":…} as a mount\'s drive):\n');
  for (const d of view.drives) out.push(`    - ${d.name ?? '?'} [${d.driveType ?? '?'}]${d.site ? ` in site ${d.site}` : ''}  id=${d.id}\n`);
  if (view.drives.length === 0) out.push('    (none found)\n');
  for (const p of view.problems) out.push(`  Could not read ${p}\n`);
  return out.join('');
}

/** The saved account to list drives with: `--account`, else one signed in as this email or in this tenant. */
async function findSavedAccount(store: TokenStore, name: string | undefined, d: Discovery): Promise<StoredAccount | undefined> {
  if (name) return store.load(name);
  const candidates: StoredAccount[] = [];
  for (const saved of await store.list()) {
    const record = await store.load(saved).catch(() => undefined);
    if (record) candidates.push(record);
  }
  const email = d.input.includes('@') ? d.input.trim().toLowerCase() : undefined;
  return (
    (email ? candidates.find((r) => r.user?.upn.toLowerCase() === email) : undefined) ??
    (email ? undefined : candidates.find((r) => r.tenantId === d.tenantId && r.accountType !== 'personal'))
  );
}

function loginUrlFor(config: Config, accountName: string | undefined, authority: string | undefined, env: NodeJS.ProcessEnv): string {
  if (authority) return authority.replace(/\/+$/, '');
  if (env.ONEDAV_AUTHORITY) return env.ONEDAV_AUTHORITY.replace(/\/+$/, '');
  if (Object.keys(config.accounts).length > 0 && (accountName || Object.keys(config.accounts).length === 1)) {
    const { account } = pickAccount(config, accountName);
    return resolveCloud(account, undefined, config, env).loginUrl;
  }
  return NATIONAL_CLOUDS.global.loginUrl;
}

export async function runDiscover(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        account: { type: 'string', short: 'a' },
        authority: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) {
      io.err(`${discoverCommand.usage}\n`);
      return EXIT.usage;
    }
    const config = await loadConfig(values.config, io.env);
    const loginUrl = loginUrlFor(config, values.account, values.authority, io.env);
    const result = await discover(positionals[0], { loginUrl });
    await new DiscoveryCache(config.dataDir).put(result).catch(() => {});
    const store = new TokenStore(config.dataDir);
    const saved = await findSavedAccount(store, values.account, result);
    let view: SignedInView | undefined;
    if (saved) {
      const account = config.accounts[saved.account];
      const secret = account && secretToSend(account);
      const tokens = new TokenRefresher({ store, record: saved, clientSecret: secret });
      const graph = new GraphClient({ baseUrl: saved.graphBaseUrl, tokens });
      try {
        view = await signedInView(saved, graph);
      } finally {
        tokens.close();
        await graph.close();
      }
    }
    if (values.json) {
      io.out(`${JSON.stringify({ discovery: result, signedIn: view ?? null }, null, 2)}\n`);
    } else {
      io.out(formatDiscovery(result));
      if (view) io.out(formatSignedIn(view));
      else io.out(`\nTo list the drives you can mount, sign in first: onedav login${values.account ? ` --account ${values.account}` : ''}\n`);
    }
    return EXIT.ok;
  } catch (err) {
    return reportFailure(io, err);
  }
}

export const discoverCommand: Command = {
  summary: 'find the tenant, national cloud, endpoints and (once signed in) the mountable drives of an email or domain',
  usage: `Usage: onedav discover <email|domain> [--json] [--authority URL] [--config FILE] [--account NAME]

Asks the Microsoft identity platform (user realm + OpenID configuration) whether the address is a
work/school tenant or a personal account, which national cloud it lives in, and which endpoints and
Graph host to use. When an account with a saved sign-in matches (or --account names one), it also
lists MyFiles, the root site and the drives you can mount. --authority asks another login host
(a loopback URL: the built-in emulator).`,
  run: (argv) => runDiscover(argv),
};
