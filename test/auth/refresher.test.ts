import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET } from '../../src/emulator/directory.js';
import { ClientConfigError, SignInRequiredError, TransientAuthError } from '../../src/auth/errors.js';
import { TokenRefresher } from '../../src/auth/refresher.js';
import { ManualTimers, systemTimers, type Timers } from '../../src/auth/timers.js';
import type { StoredAccount } from '../../src/auth/token-store.js';
import { ManualClock } from '../../src/util/clock.js';
import { AuthFixture, failure } from './helpers.js';

const fx = new AuthFixture();
const clock = new ManualClock(Date.UTC(2025, 2, 1));
const seen = new Set<string>();

beforeAll(async () => {
  await fx.start({ clock });
});
afterAll(async () => {
  for (const t of await fx.savedTokens()) seen.add(t);
  fx.assertLogFreeOf(seen);
  await fx.stop();
});
beforeEach(() => {
  fx.emulator.faults.setPlan(null);
  Object.assign(fx.emulator.state.settings, { accessTokenLifetimeSec: 3600, revokeRefreshTokenOnRotation: false });
  fx.emulator.identity.resetStats();
});

function refresher(timers: Timers = new ManualTimers(clock), extra: Partial<ConstructorParameters<typeof TokenRefresher>[0]> = {}) {
  return (record: StoredAccount) => new TokenRefresher({ store: fx.store, record, clock, timers, logger: fx.logger, ...extra });
}

const valid = (token: string) => fx.emulator.state.tokens.check(`Bearer ${token}`).ok;

describe('TokenRefresher', () => {
  it('serves 200 requests over a minute of 5-second tokens with no expired token and one refresh per 4 s', async () => {
    fx.emulator.state.settings.accessTokenLifetimeSec = 5;
    const timers = new ManualTimers(clock);
    const tokens = refresher(timers)(await fx.signedInAccount('minute'));
    const settle = () => tokens.whenIdle();
    let expired = 0;
    const stepMs = 300;
    for (let i = 0; i < 200; i++) {
      await timers.advance(stepMs, settle);
      const token = await tokens.getAccessToken();
      seen.add(token);
      if (!valid(token)) expired++;
    }
    tokens.close();
    // First request at 300 ms gets the first token; then the timer refreshes at 80% of each 5 s lifetime.
    const expected = 1 + Math.floor((200 * stepMs - stepMs) / 4000);
    expect(expired).toBe(0);
    expect(fx.emulator.identity.stats().grants.refresh_token).toBe(expected);
    expect(tokens.refreshCount).toBe(expected);
    expect(tokens.health()).toMatchObject({ state: 'ok', account: 'minute' });
  });

  it('makes one token request for 100 concurrent callers', async () => {
    const tokens = refresher()(await fx.signedInAccount('crowd'));
    const results = await Promise.all(Array.from({ length: 100 }, () => tokens.getAccessToken()));
    results.forEach((t) => seen.add(t));
    expect(new Set(results).size).toBe(1);
    expect(fx.emulator.identity.stats().grants.refresh_token).toBe(1);

    // 100 callers whose requests were all rejected with the same token: one more refresh, not 100.
    const rejected = results[0];
    const after = await Promise.all(Array.from({ length: 100 }, () => tokens.refreshAfterRejection(rejected)));
    after.forEach((t) => seen.add(t));
    expect(new Set(after).size).toBe(1);
    expect(after[0]).not.toBe(rejected);
    expect(fx.emulator.identity.stats().grants.refresh_token).toBe(2);

    // A rejection of an already replaced token returns the current one without a new request.
    expect(await tokens.refreshAfterRejection(rejected)).toBe(after[0]);
    expect(fx.emulator.identity.stats().grants.refresh_token).toBe(2);
    tokens.close();
  });

  it('persists the rotated refresh token, and a new instance (a restart) uses it', async () => {
    fx.emulator.state.settings.revokeRefreshTokenOnRotation = true;
    const original = await fx.signedInAccount('rotate');
    const first = refresher()(original);
    seen.add(await first.getAccessToken());
    first.close();
    const saved = (await fx.store.load('rotate'))!;
    expect(saved.refreshToken).toBeTruthy();
    expect(saved.refreshToken).not.toBe(original.refreshToken);

    const restarted = await TokenRefresher.open(fx.store, 'rotate', { clock, timers: new ManualTimers(clock), logger: fx.logger });
    const token = await restarted.refresh();
    seen.add(token);
    expect(valid(token)).toBe(true);
    expect(fx.emulator.identity.stats().grants.refresh_token).toBe(2);
    expect(fx.emulator.identity.stats().failures).toEqual({});
    restarted.close();

    // The original (rotated away and revoked) no longer works: proof the restart used the saved one.
    const stale = refresher()({ ...original, account: 'stale' });
    await expect(stale.refresh()).rejects.toBeInstanceOf(SignInRequiredError);
  });

  it('stops on a revoked refresh token: unhealthy, names the command, no retry loop', async () => {
    const timers = new ManualTimers(clock);
    const tokens = refresher(timers)(await fx.signedInAccount('revoked'));
    seen.add(await tokens.getAccessToken());
    expect(fx.emulator.identity.revokeRefreshTokens({ upn: 'adele@contoso.onmicrosoft.com' })).toBeGreaterThan(0);

    const err = await failure(tokens.refresh());
    expect(err).toBeInstanceOf(SignInRequiredError);
    expect(err.message).toContain('onedav login --account revoked');
    expect(err.message).toContain('AADSTS50173');
    expect(tokens.health()).toMatchObject({ state: 'unhealthy' });
    expect(tokens.health().reason).toContain('onedav login --account revoked');

    // Every later caller gets the same answer at once; time passing triggers nothing.
    await expect(tokens.getAccessToken()).rejects.toBe(err);
    await expect(tokens.refreshAfterRejection('whatever')).rejects.toBe(err);
    expect(timers.scheduled).toBe(0);
    await timers.advance(24 * 3600 * 1000, () => tokens.whenIdle());
    expect(fx.emulator.identity.stats().failures).toEqual({ invalid_grant: 1 });
    expect((await fx.store.load('revoked'))!.signInRequired).toContain('AADSTS50173');
  });

  it('picks up a new sign-in written by `onedav login` while it runs, without a restart', async () => {
    const timers = new ManualTimers(clock);
    const tokens = refresher(timers)(await fx.signedInAccount('relogin'));
    seen.add(await tokens.getAccessToken());
    fx.emulator.identity.revokeRefreshTokens({ upn: 'adele@contoso.onmicrosoft.com' });
    const err = await failure(tokens.refresh());
    expect(err).toBeInstanceOf(SignInRequiredError);

    // Nothing new in the token file yet: still unhealthy, and the file is not re-read on every call.
    clock.advance(6_000);
    await expect(tokens.getAccessToken()).rejects.toBe(err);

    await fx.signedInAccount('relogin'); // what `onedav login --account relogin` saves
    await expect(tokens.getAccessToken()).rejects.toBe(err); // checked less than 5 s ago
    clock.advance(6_000);
    const token = await tokens.getAccessToken();
    seen.add(token);
    expect(valid(token)).toBe(true);
    expect(tokens.health()).toMatchObject({ state: 'ok' });
    expect((await fx.store.load('relogin'))!.signInRequired).toBeUndefined();
    tokens.close();
  });

  it('retries network resets with backoff, then succeeds', async () => {
    const tokens = refresher(systemTimers, { retry: { baseDelayMs: 5, maxDelayMs: 50 } })(await fx.signedInAccount('flaky'));
    const before = fx.emulator.faults.injected.reset;
    fx.emulator.faults.setPlan({ rules: [{ match: { category: 'identity' }, action: { type: 'reset' }, times: 2 }] });
    const token = await tokens.getAccessToken();
    seen.add(token);
    expect(valid(token)).toBe(true);
    expect(fx.emulator.faults.injected.reset - before).toBe(2);
    expect(fx.emulator.identity.stats().grants.refresh_token).toBe(1);
    const retries = fx.logLines.filter((l) => l.includes('"account":"flaky"') && l.includes('retrying'));
    expect(retries).toHaveLength(2);
    tokens.close();
  });

  it('gives up after its attempts on a dead network but stays healthy for the next try', async () => {
    const tokens = refresher(systemTimers, { retry: { attempts: 3, baseDelayMs: 2, maxDelayMs: 10 } })(await fx.signedInAccount('offline'));
    fx.emulator.faults.setPlan({ rules: [{ match: { category: 'identity' }, action: { type: 'status', status: 503 } }] });
    const err = await failure(tokens.getAccessToken());
    expect(err).toBeInstanceOf(TransientAuthError);
    expect(tokens.health().state).toBe('ok');
    expect(tokens.health().reason).toContain('after 3 tries');
    fx.emulator.faults.setPlan(null);
    seen.add(await tokens.getAccessToken());
    expect(fx.emulator.identity.stats().grants.refresh_token).toBe(1);
    tokens.close();
  });

  it('re-acquires app-only tokens with client credentials, and reports a bad secret as a config problem', async () => {
    const base = await fx.signedInAccount('daemon');
    const app: StoredAccount = { ...base, account: 'daemon', clientId: WEB_APP_CLIENT_ID, clientType: 'confidential', flow: 'clientCredentials', refreshToken: undefined, tenant: 'contoso.onmicrosoft.com' };
    const good = refresher(new ManualTimers(clock), { clientSecret: WEB_APP_CLIENT_SECRET })(app);
    const t1 = await good.refresh();
    const t2 = await good.refresh();
    seen.add(t1).add(t2);
    expect(t1).not.toBe(t2);
    expect(fx.emulator.identity.stats().grants.client_credentials).toBe(2);
    good.close();

    const bad = refresher(new ManualTimers(clock), { clientSecret: 'not-the-secret' })({ ...app, account: 'daemon-bad' });
    const err = await failure(bad.refresh());
    expect(err).toBeInstanceOf(ClientConfigError);
    expect(err.message).toContain('AADSTS7000215');
    expect(err.message).not.toContain('not-the-secret');
    expect(bad.health().state).toBe('unhealthy');
  });

  it('refreshes a public-client sign-in without a secret even when it holds one (Entra: AADSTS700025)', async () => {
    const record = await fx.signedInAccount('public-with-secret');
    expect(record.clientType).toBe('public');
    const tokens = refresher(new ManualTimers(clock), { clientSecret: WEB_APP_CLIENT_SECRET })(record);
    seen.add(await tokens.refresh());
    expect(fx.emulator.identity.stats()).toMatchObject({ grants: { refresh_token: 1 }, clientAuthentication: { none: 1, secret: 0 }, failures: {} });
    expect(tokens.health().state).toBe('ok');
    tokens.close();
  });

  it('writes token files with mode 0600', async () => {
    await fx.signedInAccount('mode');
    const info = await stat(fx.store.pathFor('mode'));
    expect(info.mode & 0o777).toBe(0o600);
  });
});
