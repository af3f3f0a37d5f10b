import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsers } from '../../src/cli/users.js';
import { WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { createLogger } from '../../src/util/logger.js';
import { ADELE, MEGAN } from '../helpers/stack.js';
import { cookieHeader, createAppPassword, propfind, signInWithFetch, startGatewayStack, STATE_KEY, type GatewayStack } from './helpers.js';

/** `onedav users list|revoke` against the records of a running gateway (file stores under its dataDir). */
let stack: GatewayStack;
let configFile: string;
beforeAll(async () => {
  stack = await startGatewayStack();
  configFile = join(stack.dataDir, 'config.json');
  await writeFile(configFile, JSON.stringify({ dataDir: stack.dataDir, gateway: { publicUrl: stack.url, tenants: ['contoso.onmicrosoft.com'], app: { clientId: WEB_APP_CLIENT_ID, cloud: 'emulator' } } }));
});
afterAll(async () => {
  await stack?.close();
});

function cli(argv: string[], lines: string[] = []) {
  let out = '';
  let err = '';
  const logger = createLogger({ format: 'json', write: (l) => lines.push(l) });
  return runUsers(argv, { out: (t) => (out += t), err: (t) => (err += t), env: { ONEDAV_STATE_KEY: STATE_KEY } }, logger).then((code) => ({ code, out, err }));
}

describe('onedav users', () => {
  it('lists who signed in, with their app passwords and last use; revoke shuts one person out everywhere', async () => {
    const adele = await signInWithFetch(stack, ADELE, 'adele-password');
    const megan = await signInWithFetch(stack, MEGAN, 'megan-password');
    const adelePassword = await createAppPassword(stack, adele, 'laptop');
    const meganPassword = await createAppPassword(stack, megan, 'phone');
    expect((await propfind(stack, ADELE, adelePassword)).status).toBe(207);
    expect((await propfind(stack, MEGAN, meganPassword)).status).toBe(207);

    const listed = await cli(['list', '--config', configFile]);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(new RegExp(`${ADELE}\\s+\\S+ \\S+\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+1\\s+ok`));
    expect(listed.out).toMatch(new RegExp(`${MEGAN}\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+1\\s+ok`));
    const json = JSON.parse((await cli(['list', '--json', '--config', configFile])).out) as Array<{ upn: string; appPasswords: Array<{ name: string; lastUsedAt: string | null }> }>;
    expect(json.find((p) => p.upn === ADELE)!.appPasswords[0]).toMatchObject({ name: 'laptop' });
    expect(json.find((p) => p.upn === ADELE)!.appPasswords[0].lastUsedAt).not.toBeNull();
    expect(JSON.stringify(json)).not.toContain('scrypt$');

    const oid = (await stack.app.gateway!.people.byUpn(ADELE))!.oid;
    const audit: string[] = [];
    const revoked = await cli(['revoke', ADELE, '--config', configFile], audit);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toContain('Revoked adele@contoso.onmicrosoft.com: 1 app password(s)');
    expect(audit.some((l) => l.includes('audit: revoked by admin') && l.includes(ADELE))).toBe(true);

    // The running server refuses her at the next request; her site session is over; her tokens are gone.
    expect((await propfind(stack, ADELE, adelePassword)).status).toBe(401);
    const page = await (await fetch(stack.site, { headers: { cookie: cookieHeader(adele.cookies) } })).text();
    expect(page).toContain('Sign in with Microsoft');
    await expect(access(join(stack.dataDir, 'accounts', `person%3A${oid.replace(/\./g, '%2E')}.json`))).rejects.toThrow();
    // Her drive and token refresher close at the next sweep (their timer must not save her tokens back).
    expect(stack.app.gateway!.drives.openCount).toBe(2);
    await stack.app.gateway!.drives.sweep();
    expect(stack.app.gateway!.drives.openCount).toBe(1);
    // Megan is untouched.
    expect((await propfind(stack, MEGAN, meganPassword)).status).toBe(207);
    expect((await cli(['list', '--config', configFile])).out).not.toContain(ADELE);
    expect((await cli(['revoke', ADELE, '--config', configFile])).code).toBe(1);
  });

  it('says how to use it', async () => {
    expect((await cli(['frobnicate', '--config', configFile])).code).toBe(2);
    expect((await cli(['revoke', '--config', configFile])).code).toBe(2);
  });
});

void WEB_APP_CLIENT_SECRET;
