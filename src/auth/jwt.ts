/**
 * Reads the claims of an id token. The token came straight from the token endpoint over the
 * channel we chose, so (like MSAL) we read it without checking its signature. Access tokens are
 * opaque to us and never go through here.
 */
export function readIdTokenClaims(idToken: string | undefined): Record<string, unknown> | undefined {
  if (!idToken) return undefined;
  const parts = idToken.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
