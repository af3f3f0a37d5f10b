import { createHash, randomBytes } from 'node:crypto';

/** A PKCE pair (RFC 7636, S256): the verifier stays here, the challenge goes to the authorize URL. */
export function newPkcePair(): { verifier: string; challenge: string; method: 'S256' } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url'), method: 'S256' };
}

/** An unguessable `state` value tying the redirect to this login attempt. */
export function newState(): string {
  return randomBytes(16).toString('base64url');
}
