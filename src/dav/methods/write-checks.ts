import { basicChallenge } from '../access/basic-auth.js';
import type { DavRequest } from '../http/context.js';
import { DavError } from '../protocol/errors.js';

/** Refuses changes from read-only principals (anonymous visitors are asked to log in instead). */
export function writeTargetChecks(ctx: DavRequest): void {
  const { principal, state } = ctx;
  if (!principal.readOnly) return;
  if (principal.anonymous && state.auth.hasUsers) {
    throw new DavError(401, 'Anonymous access is read-only; log in to make changes.', { headers: { 'WWW-Authenticate': basicChallenge(state.realm) } });
  }
  throw new DavError(403, `User "${principal.name}" is read-only.`);
}

/** `._name` (AppleDouble) and `.DS_Store`, which Finder writes beside everything it touches. */
export function isMacMetadata(name: string): boolean {
  return name.startsWith('._') || name === '.DS_Store';
}

export function checkMacMetadata(ctx: DavRequest, name: string | undefined): void {
  if (name !== undefined && ctx.state.macMetadata === 'refuse' && isMacMetadata(name)) {
    throw new DavError(403, `macOS metadata files (${name}) are not stored on this server (macMetadata: refuse).`);
  }
}
