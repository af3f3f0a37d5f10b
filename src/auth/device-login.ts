import { systemClock, type Clock } from '../util/clock.js';
import { OAuthError, TransientAuthError } from './errors.js';
import { postForm, type IdentityHttpOptions, type TokenResponse } from './identity-http.js';
import type { AuthorityEndpoints } from './endpoints.js';

export interface DeviceCodeStart {
  user_code: string;
  device_code: string;
  verification_uri: string;
  expires_in: number;
  interval: number;
  message: string;
}

export interface DeviceLoginOptions {
  endpoints: AuthorityEndpoints;
  /** A public client: the device-code flow never sends a secret (Entra would answer AADSTS700025). */
  clientId: string;
  scopes: string[];
  print: (line: string) => void;
  clock?: Clock;
  /** How to wait between polls (tests move a ManualClock instead). */
  sleep?: (ms: number) => Promise<void>;
  http?: IdentityHttpOptions;
}

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Device authorization grant (RFC 8628): prints the code to enter elsewhere, then polls at the
 * interval the server asked for, 5 s slower after each `slow_down`, until approved, declined or expired.
 */
export async function deviceCodeLogin(options: DeviceLoginOptions): Promise<TokenResponse> {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const start = await postForm<DeviceCodeStart>(options.endpoints.deviceCode, { client_id: options.clientId, scope: options.scopes.join(' ') }, options.http);
  options.print(start.message);
  const deadline = clock.now() + start.expires_in * 1000;
  let interval = Math.max(0, start.interval) * 1000;
  const expired = () => new Error('The code expired before anyone signed in with it. Run the login again.');
  for (;;) {
    // The server says expired_token on its own; this bound only guards against one that never does.
    if (clock.now() > deadline + 60_000) throw expired();
    await sleep(interval);
    try {
      return await postForm(
        options.endpoints.token,
        { grant_type: DEVICE_CODE_GRANT, client_id: options.clientId, device_code: start.device_code },
        options.http,
      );
    } catch (err) {
      if (err instanceof OAuthError) {
        if (err.error === 'authorization_pending') continue;
        if (err.error === 'slow_down') {
          interval += 5_000;
          continue;
        }
        if (err.error === 'expired_token' || err.error === 'code_expired') throw expired();
        if (err.error === 'authorization_declined' || err.error === 'access_denied') throw new Error('The sign-in was declined at the device login page.');
        throw err;
      }
      if (err instanceof TransientAuthError && clock.now() < deadline) continue;
      throw err;
    }
  }
}
