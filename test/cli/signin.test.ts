import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { DEMO_CLIENT_ID, WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { runDiscover } from '../../src/cli/discover.js';
import { runLogin, type CliIo } from '../../src/cli/login.js';
import { runWhoami } from '../../src/cli/whoami.js';
import { main } from '../../src/cli/main.js';
import type { StoredAccount } from '../../src/auth/token-store.js';

let emulator: RunningEmulator;
let dir: string;
let configFile: string;
const transcript: string[] = [];

function io(extra: Partial<CliIo> = {}): CliIo & { text: () => string } {
  const lines: string[] = [];
  const write = (t: string) => {
    lines.push(t);
    transcript.push(t);
  };
  return { out: write, err: write, env: {}, text: () => lines.join(''), ...extra };
}

/** A browser that is already signed in: follows the authorize redirect to the login listener. */
async function browser(url: string): Promise<void> {
  const auth = await fetch(url, { redirect: 'manual' });
  const back = await fetch(auth.headers.get('location')!);
  expect(back.status).toBe(200);
}

beforeAll(async () => {
  emulator = await startEmulator({ settings: { deviceCodePollIntervalSec: 0 } });
  dir = await mkdtemp(join(tmpdir(), 'onedav-cli-'));
  configFile = join(dir, 'config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      accounts: {
        work: { cloud: 'emulator', tenant: 'contoso.onmicrosoft.com', clientId: DEMO_CLIENT_ID, redirectUri: 'http://127.0.0.1:0/' },
        gov: { cloud: 'usgov', tenant: 'tailspin.onmicrosoft.us', clientId: DEMO_CLIENT_ID, flow: 'deviceCode' },
        daemon: { cloud: 'emulator', tenant: 'contoso.onmicrosoft.com', clientId: WEB_APP_CLIENT_ID, flow: 'clientCredentials', user: 'megan@contoso.onmicrosoft.com' },
      },
    }),
  );
});

afterAll(async () => {
  // No command ever printed a token.
  const saved = await Promise.all(['work', 'gov', 'daemon'].map((a) => readFile(join(dir, 'data', 'accounts', `${a}.json`), 'utf8').catch(() => '')));
  const all = transcript.join('');
  for (const text of saved.filter(Boolean)) {
    const record = JSON.parse(text) as StoredAccount;
    for (const token of [record.accessToken, record.refreshToken]) if (token) expect(all.includes(token)).toBe(false);
  }
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

describe('onedav login / whoami / discover', () => {
  it('logs in through the browser flow and saves a 0600 token file', async () => {
    const out = io({ openBrowser: browser });
    const code = await runLogin(['--config', configFile, '--account', 'work', '--authority', emulator.url], out);
    expect(out.text()).toContain('Signed in: organizational account Adele Vance <adele@contoso.onmicrosoft.com>');
    expect(code).toBe(0);
    const info = await stat(join(dir, 'data', 'accounts', 'work.json'));
    expect(info.mode & 0o777).toBe(0o600);
  });

  it('whoami prints user, tenant, cloud and expiry, never the token', async () => {
    const out = io();
    expect(await runWhoami(['--config', configFile, '--account', 'work'], out)).toBe(0);
    const text = out.text();
    expect(text).toContain('Adele Vance <adele@contoso.onmicrosoft.com>');
    expect(text).toContain(emulator.state.directory.tenants[0].id);
    expect(text).toContain(`emulator at ${emulator.url}`);
    expect(text).toMatch(/Access token:\s+\d{4}-\d{2}-\d{2}T.*\(in \d+ min\)/);
    expect(text).toMatch(/Refresh token:\s+saved/);
    const json = io();
    await runWhoami(['--config', configFile, '--account', 'work', '--json'], json);
    const parsed = JSON.parse(json.text());
    expect(parsed).toMatchObject({ accountType: 'organizational', hasRefreshToken: true, accessTokenValid: true, tenantCloud: { name: 'global' } });
    expect(JSON.stringify(parsed)).not.toMatch(/"(access|refresh)Token"/);
  });

  it('discover lists MyFiles, the root site and the mountable drives once signed in', async () => {
    const out = io();
    expect(await runDiscover(['adele@contoso.onmicrosoft.com', '--config', configFile, '--authority', emulator.url, '--json'], out)).toBe(0);
    const { discovery, signedIn } = JSON.parse(out.text());
    expect(discovery).toMatchObject({ accountType: 'organizational', cloud: 'global', graphBaseUrl: `${emulator.url}/v1.0` });
    expect(signedIn.account).toBe('work');
    expect(signedIn.problems).toEqual([]);
    expect(signedIn.myFiles).toMatchObject({ driveType: 'business' });
    expect(signedIn.myFiles.quota.total).toBeGreaterThan(0);
    expect(signedIn.rootSite.webUrl).toMatch(/contoso\.sharepoint\.com/);
    const ids = signedIn.drives.map((d: { id: string }) => d.id);
    expect(ids).toContain('b!contoso-adele');

    const text = io();
    await runDiscover(['adele@contoso.onmicrosoft.com', '--config', configFile, '--authority', emulator.url], text);
    expect(text.text()).toContain('MyFiles:');
    expect(text.text()).toContain('RootSite:');
    expect(text.text()).toContain('Drives you can mount');
  });

  it.each([
    ['lei@fabrikam.partner.onmschina.cn', 'china', 'microsoftgraph.chinacloudapi.cn'],
    ['sam@tailspin.onmicrosoft.us', 'usgov', 'graph.microsoft.us'],
    ['pat@wingtip.onmicrosoft.us', 'usgovdod', 'dod-graph.microsoft.us'],
    ['alex@outlook.com', 'global', 'graph.microsoft.com'],
  ])('discover %s before any sign-in names its cloud and says to log in', async (email, cloud, graphHost) => {
    const out = io();
    expect(await runDiscover([email, '--config', configFile, '--authority', emulator.url], out)).toBe(0);
    expect(out.text()).toMatch(new RegExp(`Cloud:\\s+${cloud}: `));
    expect(out.text()).toContain(graphHost);
    expect(out.text()).toContain('sign in first: onedav login');
  });

  it('discover explains an unknown domain and exits non-zero', async () => {
    const out = io();
    expect(await runDiscover(['nobody@unknown.example', '--config', configFile, '--authority', emulator.url], out)).toBe(1);
    expect(out.text()).toContain('No Microsoft Entra tenant or personal Microsoft account is known');
  });

  it('logs in with --device-code, approved on the emulator page', async () => {
    const out = io({
      out: (t) => {
        transcript.push(t);
        const code = /enter the code (\S+)/.exec(t)?.[1];
        if (code) void fetch(`${emulator.url}/devicelogin?code=${code}&user=sam@tailspin.onmicrosoft.us`);
      },
    });
    const code = await runLogin(['--config', configFile, '--account', 'gov', '--device-code', '--authority', emulator.url], out);
    expect(code).toBe(0);
    const who = io();
    await runWhoami(['--config', configFile, '--account', 'gov'], who);
    expect(who.text()).toContain('sam@tailspin.onmicrosoft.us');
    expect(who.text()).toMatch(/Tenant's cloud:\s+usgov \(microsoftonline\.us, Graph graph\.microsoft\.us\)/);
  });

  it('logs an app in with client credentials from the environment', async () => {
    const bad = io({ env: { ONEDAV_CLIENT_SECRET: 'nope' } });
    expect(await runLogin(['--config', configFile, '--account', 'daemon', '--authority', emulator.url], bad)).toBe(4);
    expect(bad.text()).toContain('AADSTS7000215');
    const good = io({ env: { ONEDAV_CLIENT_SECRET: WEB_APP_CLIENT_SECRET } });
    expect(await runLogin(['--config', configFile, '--account', 'daemon', '--authority', emulator.url], good)).toBe(0);
    expect(good.text()).toContain('app-only, serving megan@contoso.onmicrosoft.com');
  });

  it('whoami says what to run for an account that never signed in', async () => {
    await writeFile(join(dir, 'other.json'), JSON.stringify({ dataDir: join(dir, 'empty'), accounts: { solo: { clientId: DEMO_CLIENT_ID } } }));
    const out = io();
    expect(await runWhoami(['--config', join(dir, 'other.json')], out)).toBe(4);
    expect(out.text()).toContain('onedav login --account solo');
  });

  it('is registered in the command map', async () => {
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      await main(['--help']);
    } finally {
      process.stdout.write = original;
    }
    const help = writes.join('');
    for (const name of ['login', 'discover', 'whoami']) expect(help).toMatch(new RegExp(`\\n  ${name}\\s`));
  });
});
