import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasProgram, run, skipReason } from '../clients/tools.js';
import { Browser, type Page } from '../helpers/browser.js';
import { ADELE, MEGAN } from '../helpers/stack.js';
import { basic, propfind, startGatewayStack, type GatewayStack } from './helpers.js';

/**
 * The whole gateway as people use it: headless Chromium signs Adele and Megan in on the site (through
 * the emulator's sign-in form), each creates app passwords and reads them off the page; rclone and
 * cadaver with those passwords see only their own drive; revoking a password or the Microsoft
 * sign-in shuts the client out with 401. Screenshots of every page go to test-artifacts/gateway/.
 */
const ARTIFACTS = resolve('test-artifacts', 'gateway');
const tools = hasProgram('chromium') && hasProgram('rclone') && hasProgram('cadaver');

describe.skipIf(!tools)(`the gateway in a browser, with rclone and cadaver${skipReason('chromium')}${skipReason('rclone')}${skipReason('cadaver')}`, () => {
  let stack: GatewayStack;
  let browser: Browser;
  let home: string;
  const pages: Record<string, Page> = {};
  const passwords: Record<string, string> = {};

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    home = await mkdtemp(join(tmpdir(), 'onedav-gateway-clients-'));
    stack = await startGatewayStack();
    const emulator = stack.app.emulator!;
    await emulator.drive.putFile(emulator.drive.driveIdOf(ADELE), '/adele-only.txt', Buffer.from('for adele'));
    await emulator.drive.putFile(emulator.drive.driveIdOf(MEGAN), '/megan-only.txt', Buffer.from('for megan'));
    browser = await Browser.launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  async function signIn(page: Page, upn: string, password: string, shot?: string): Promise<void> {
    await page.goto(stack.site);
    if (shot) await page.screenshot(join(ARTIFACTS, `${shot}-signed-out.png`));
    await page.clickAndWait('#sign-in');
    expect(new URL(await page.url()).origin).toBe(stack.app.emulator!.url); // Microsoft's page, not ours
    if (shot) await page.screenshot(join(ARTIFACTS, `${shot}-microsoft-sign-in.png`));
    await page.fill('#login', upn);
    await page.fill('#passwd', password);
    await page.clickAndWait('#idSIButton9');
    expect(await page.url()).toBe(stack.site);
  }

  async function createPassword(page: Page, name: string): Promise<string> {
    await page.fill('#password-name', name);
    await page.clickAndWait('#create-password');
    const password = (await page.text('#app-password')).trim();
    expect(password).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){4}$/);
    return password;
  }

  const rclone = (user: string, password: string) =>
    run('rclone', ['obscure', password]).then(({ stdout }) =>
      run('rclone', ['lsf', 'od:'], {
        env: { RCLONE_CONFIG_OD_TYPE: 'webdav', RCLONE_CONFIG_OD_URL: `${stack.url}/`, RCLONE_CONFIG_OD_VENDOR: 'other', RCLONE_CONFIG_OD_USER: user, RCLONE_CONFIG_OD_PASS: stdout.trim(), RCLONE_CONFIG: '/dev/null' },
        timeoutMs: 60_000,
      }),
    );

  async function cadaver(user: string, password: string): Promise<string> {
    await writeFile(join(home, '.netrc'), `machine 127.0.0.1 login ${user} password ${password}\n`, { mode: 0o600 });
    const { stdout } = await run('cadaver', [`${stack.url}/`], { cwd: home, env: { HOME: home }, input: 'ls\nquit\n', timeoutMs: 60_000 });
    return stdout;
  }

  it('Adele and Megan sign in with Microsoft in their own browsers and read their app passwords off the page', async () => {
    pages.adele = await browser.newPage({ width: 1200, height: 800 }, true);
    await signIn(pages.adele, ADELE, 'adele-password', 'adele');
    expect((await pages.adele.text('#username')).trim()).toBe(ADELE);
    expect((await pages.adele.text('#webdav-url')).trim()).toBe(`${stack.url}/`);
    passwords.adele = await createPassword(pages.adele, 'laptop');
    await pages.adele.screenshot(join(ARTIFACTS, 'adele-new-password.png'));

    pages.megan = await browser.newPage({ width: 390, height: 844, mobile: true }, true);
    await signIn(pages.megan, MEGAN, 'megan-password');
    expect((await pages.megan.text('#username')).trim()).toBe(MEGAN);
    passwords.megan = await createPassword(pages.megan, 'phone');
    await pages.megan.screenshot(join(ARTIFACTS, 'megan-phone-new-password.png'));
    expect(passwords.megan).not.toBe(passwords.adele);

    const cookie = (await pages.adele.cookies()).find((c) => c.name === 'onedav-session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Lax');
  });

  it('rclone and cadaver with each password see only that person\'s drive', async () => {
    const adeleRclone = await rclone(ADELE, passwords.adele);
    expect(adeleRclone.code, adeleRclone.stderr).toBe(0);
    expect(adeleRclone.stdout).toContain('adele-only.txt');
    expect(adeleRclone.stdout).not.toContain('megan-only.txt');
    const meganRclone = await rclone(MEGAN, passwords.megan);
    expect(meganRclone.code, meganRclone.stderr).toBe(0);
    expect(meganRclone.stdout).toContain('megan-only.txt');
    expect(meganRclone.stdout).not.toContain('adele-only.txt');
    // One person's password does not open the other's name.
    expect((await rclone(MEGAN, passwords.adele)).code).not.toBe(0);

    const adeleCadaver = await cadaver(ADELE, passwords.adele);
    expect(adeleCadaver).toContain('adele-only.txt');
    expect(adeleCadaver).not.toContain('megan-only.txt');
    const meganCadaver = await cadaver(MEGAN, passwords.megan);
    expect(meganCadaver).toContain('megan-only.txt');
    expect(meganCadaver).not.toContain('adele-only.txt');

    // The list shows when each password was last used.
    await pages.adele.goto(stack.site);
    expect(await pages.adele.text('#passwords')).toMatch(/laptop\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d/);
    await pages.adele.screenshot(join(ARTIFACTS, 'adele-account.png'));
  });

  it('a revoked app password is refused with 401 at once; the person\'s other password keeps working', async () => {
    const spare = await createPassword(pages.adele, 'old tablet');
    expect((await propfind(stack, ADELE, spare)).status).toBe(207);
    await pages.adele.goto(stack.site);
    await pages.adele.clickAndWait('button[aria-label="Revoke old tablet"]');
    expect(await pages.adele.text('#passwords')).not.toContain('old tablet');
    expect((await propfind(stack, ADELE, spare)).status).toBe(401);
    expect((await propfind(stack, ADELE, passwords.adele)).status).toBe(207);
  });

  it('a refresh token Microsoft revoked: 401 pointing to the site, which says "sign in again"; signing in again lets the password work', async () => {
    expect(stack.app.emulator!.identity.revokeRefreshTokens({ upn: MEGAN })).toBeGreaterThan(0);
    // Microsoft keeps honouring the access token it already gave until it expires; move its clock past that.
    stack.clock.advance(2 * 3600_000);
    // A request that must reach Graph (a listing may still come from onedav's cache for its TTL).
    const refused = await fetch(`${stack.url}/after-revoke.txt`, { method: 'PUT', headers: { authorization: basic(MEGAN, passwords.megan) }, body: 'x' });
    expect(refused.status).toBe(401);
    const text = await refused.text();
    expect((await propfind(stack, MEGAN, passwords.megan)).status).toBe(401);
    expect(text).toContain(stack.site);
    expect(text).toMatch(/sign in again/i);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic /);
    // Adele is not affected.
    expect((await propfind(stack, ADELE, passwords.adele)).status).toBe(207);

    await pages.megan.goto(stack.site);
    expect(await pages.megan.text('#sign-in-again')).toMatch(/Sign in again/);
    await pages.megan.screenshot(join(ARTIFACTS, 'megan-phone-sign-in-again.png'));
    expect((await propfind(stack, MEGAN, passwords.megan)).status).toBe(401);

    await pages.megan.clickAndWait('#sign-in-again a');
    await pages.megan.fill('#login', MEGAN);
    await pages.megan.fill('#passwd', 'megan-password');
    await pages.megan.clickAndWait('#idSIButton9');
    expect(await pages.megan.text('body')).not.toContain('Sign in again.');
    const back = await rclone(MEGAN, passwords.megan);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain('megan-only.txt');
  });

  it('signing out ends the site session; the app password stays', async () => {
    await pages.adele.goto(stack.site);
    await pages.adele.clickAndWait('#sign-out');
    expect(await pages.adele.text('body')).toContain('You are signed out');
    await pages.adele.goto(stack.site);
    expect(await pages.adele.text('body')).toContain('Sign in with Microsoft');
    expect((await propfind(stack, ADELE, passwords.adele)).status).toBe(207);
  });
});
