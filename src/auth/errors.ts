/**
 * Errors of the sign-in side. None of them ever carries a token, a code or a secret: messages are
 * built from the server's `error`/AADSTS text and our own words.
 */

/** The identity platform said no (a 4xx with an OAuth error body). */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    /** OAuth `error`: invalid_grant, invalid_client, authorization_pending, … */
    readonly error: string,
    /** First line of `error_description`, e.g. `AADSTS50173: The provided grant has expired…`. */
    readonly description: string,
    readonly aadsts?: number,
    readonly correlationId?: string,
  ) {
    super(description ? `${error}: ${description}` : error);
    this.name = 'OAuthError';
  }
}

/** The request never got a usable answer (reset, timeout, 5xx, 429): worth trying again. */
export class TransientAuthError extends Error {
  /** Marks the failure as one that may pass by itself (see TokenSource). */
  readonly transient = true;

  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterSec?: number,
  ) {
    super(message);
    this.name = 'TransientAuthError';
  }
}

/** The account must sign in again; retrying will not help. The message names the command to run. */
export class SignInRequiredError extends Error {
  constructor(
    readonly account: string,
    readonly reason: string,
  ) {
    super(`Account "${account}" must sign in again: ${reason}. Run: onedav login --account ${account}`);
    this.name = 'SignInRequiredError';
  }

  get command(): string {
    return `onedav login --account ${this.account}`;
  }
}

/** The app registration or its secret is wrong (client credentials): a config fix, not a sign-in. */
export class ClientConfigError extends Error {
  constructor(
    readonly account: string,
    reason: string,
  ) {
    super(`Account "${account}" cannot get a token: ${reason}. Check accounts.${account}.clientId and the client secret (ONEDAV_CLIENT_SECRET), then run: onedav login --account ${account}`);
    this.name = 'ClientConfigError';
  }
}
