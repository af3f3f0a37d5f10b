import type { ServerResponse } from 'node:http';
import { findUser, type Directory, type User } from '../directory.js';
import { escapeHtml } from './errors.js';
import type { TenantScope } from './tenancy.js';

/**
 * The emulator's sign-in page: the form Entra ID shows at the authorize endpoint when the browser has
 * no usable session or the app asks for one with `prompt=login` / `prompt=select_account`
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow, "prompt"). The
 * person types a user principal name and password from the directory; the form posts back to the same
 * authorize URL (its query keeps every parameter), where the code is issued as for `login_hint`.
 * No JavaScript: a test drives it in a real browser.
 */
export function sendSignInPage(res: ServerResponse, dir: Directory, scope: TenantScope, actionQuery: string, options: { login?: string; error?: string } = {}): void {
  const accounts = usersIn(dir, scope)
    .map((u) => `<li><code>${escapeHtml(u.userPrincipalName)}</code> (${escapeHtml(u.displayName)})</li>`)
    .join('');
  const error = options.error ? `<p id="error" role="alert">${escapeHtml(options.error)}</p>` : '';
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in to your account</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;box-sizing:border-box;padding:.45rem;font:inherit}button{margin-top:1rem;padding:.5rem 1.4rem;font:inherit;background:#0067b8;color:#fff;border:0}#error{color:#c00}small{color:#666}</style>
</head><body><h1>Sign in</h1><p><small>Microsoft identity platform (onedav emulator)</small></p>${error}
<form method="post" action="?${escapeHtml(actionQuery)}">
<label for="login">Email, phone, or Skype</label><input id="login" name="login" type="email" autocomplete="username" required value="${escapeHtml(options.login ?? '')}">
<label for="passwd">Password</label><input id="passwd" name="passwd" type="password" autocomplete="current-password" required>
<button type="submit" id="idSIButton9">Sign in</button>
</form>
<p><small>Accounts of this emulator:</small></p><ul>${accounts}</ul></body></html>`;
  res.writeHead(options.error ? 400 : 200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
  res.end(html);
}

/**
 * The user whose credentials were posted, or the message Entra ID shows under the form: AADSTS50126
 * "Error validating credentials due to invalid username or password." for a wrong password, and the
 * same words for an unknown name, so the form does not tell which accounts exist
 * (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes, 50126).
 */
export function checkCredentials(dir: Directory, login: string, password: string): { user: User } | { error: string } {
  const user = findUser(dir, login.trim());
  if (!user || user.password !== password) return { error: 'Your account or password is incorrect. (AADSTS50126: Error validating credentials due to invalid username or password.)' };
  return { user };
}

/** Who may sign in here: the tenant's users, or everyone for common/organizations/consumers as they fit. */
function usersIn(dir: Directory, scope: TenantScope): User[] {
  if (scope.kind === 'tenant' || scope.kind === 'consumers') return dir.users.filter((u) => u.tenantId === scope.tenant.id);
  if (scope.kind === 'organizations') return dir.users.filter((u) => dir.tenants.find((t) => t.id === u.tenantId)?.kind === 'organization');
  return dir.users;
}

/** Whether the authorize request asks for the sign-in form rather than the browser's session. */
export function wantsSignInForm(prompt: string | null): boolean {
  // `login`: "the user should be prompted to enter their credentials"; `select_account`: the account picker.
  return prompt === 'login' || prompt === 'select_account';
}
