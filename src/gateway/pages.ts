import { escapeHtml } from '../dav/http/listing.js';
import type { AppPasswordRecord, Person } from './people.js';

/**
 * The site's pages: plain server-rendered HTML, no JavaScript, one small inline style (allowed by
 * its hash in the CSP). Same look as the folder listing (dav/http/listing.ts): system font, the
 * same greys and accent, light and dark; one column that fits a phone.
 */
/** The site's one stylesheet; its CSP allows exactly this text, by hash (dav/http/security-headers.ts). */
export const SITE_STYLE = `
:root{color-scheme:light dark;--muted:#6b7280;--line:#8883;--accent:#0b57d0;--warn:#b45309}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",sans-serif;margin:0;padding:1.5rem 1.25rem;max-width:46rem;margin-inline:auto}
h1{font-size:1.3rem;font-weight:600;margin:0 0 1rem}
h2{font-size:1rem;font-weight:600;margin:1.6rem 0 .5rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
p{margin:.5rem 0}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}
dt{color:var(--muted)}dd.plain{font-family:inherit!important}dd{margin:0;overflow-wrap:anywhere;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
table{border-collapse:collapse;width:100%}
th,td{padding:.4rem .6rem;text-align:left;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);border-bottom-width:2px;white-space:nowrap}
td.date{font-variant-numeric:tabular-nums;color:var(--muted);white-space:nowrap}
td.name{overflow-wrap:anywhere;width:100%}
form.inline{display:inline;margin:0}
form.create{margin:.6rem 0 1rem}
.row{display:flex;gap:.5rem;flex-wrap:wrap}
input[type=text]{font:inherit;padding:.45rem .6rem;border:1px solid var(--line);border-radius:6px;flex:1 1 12rem;min-width:0;background:transparent;color:inherit}
button,.button{font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;display:inline-block}
button.quiet{background:transparent;color:var(--accent)}
button.danger{background:transparent;border-color:#c2410c;color:#c2410c;padding:.25rem .7rem}
.secret{font:600 1.35rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.04em;padding:.8rem 1rem;border:2px dashed var(--accent);border-radius:8px;overflow-wrap:anywhere;user-select:all;margin:.8rem 0}
.notice{border-left:4px solid var(--warn);padding:.5rem .8rem;background:#f59e0b1a;margin:1rem 0}
.muted{color:var(--muted)}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap;border-bottom:1px solid var(--line);padding-bottom:.6rem;margin-bottom:1rem}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
@media (max-width:30rem){.created{display:none}dl{grid-template-columns:1fr;gap:0}dd{margin-bottom:.5rem}}
`;


function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="same-origin"><title>${escapeHtml(title)}</title>
<style>${SITE_STYLE}</style>
</head><body>
${body}
<footer>onedav · your OneDrive over WebDAV</footer></body></html>
`;
}

function when(ms: number | undefined): string {
  if (ms === undefined) return '<span class="muted">never</span>';
  const d = new Date(ms);
  return `<time datetime="${d.toISOString()}">${d.toISOString().replace('T', ' ').slice(0, 16)}</time>`;
}

export interface PageLinks {
  /** `/.well-known/onedav/account/` */
  base: string;
}

/** Signed out: one button. `message` explains why the person is here (signed out, sign-in failed). */
export function signedOutPage(links: PageLinks, message?: string): string {
  const notice = message ? `<p class="notice" role="status">${escapeHtml(message)}</p>` : '';
  return page(
    'Sign in · onedav',
    `<h1>Your OneDrive as a network drive</h1>${notice}
<p>Sign in with your work account. You then get an <strong>app password</strong> for the WebDAV client on your computer or phone (Windows Explorer, Finder, Files, rclone…).</p>
<p><a class="button" id="sign-in" href="${escapeHtml(links.base)}sign-in">Sign in with Microsoft</a></p>
<p class="muted">onedav never sees your Microsoft password: you type it on Microsoft’s page.</p>`,
  );
}

export interface AccountView {
  person: Person;
  webdavUrl: string;
  csrf: string;
  /** A password just made, shown this once. */
  created?: { name: string; password: string };
  message?: string;
}

function hidden(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
}

export function accountPage(links: PageLinks, view: AccountView): string {
  const { person, csrf } = view;
  const again = person.signInRequired
    ? `<div class="notice" role="alert" id="sign-in-again"><p><strong>Sign in again.</strong> Microsoft no longer accepts your earlier sign-in, so your WebDAV clients are refused until you do. Your app passwords stay as they are.</p><p><a class="button" href="${escapeHtml(links.base)}sign-in">Sign in again with Microsoft</a></p></div>`
    : '';
  const created = view.created
    ? `<section id="new-password"><h2>New app password: ${escapeHtml(view.created.name)}</h2><p>Copy it into your WebDAV client now. It is shown only this once; onedav keeps only a hash of it.</p><div class="secret" id="app-password">${escapeHtml(view.created.password)}</div></section>`
    : '';
  const message = view.message ? `<p class="notice" role="status">${escapeHtml(view.message)}</p>` : '';
  const rows = person.appPasswords.map((p: AppPasswordRecord) => `<tr><td class="name">${escapeHtml(p.name)}</td><td class="date created">${when(p.createdAt)}</td><td class="date">${when(p.lastUsedAt)}</td><td><form class="inline" method="post" action="${escapeHtml(links.base)}passwords/revoke">${hidden(csrf)}<input type="hidden" name="id" value="${escapeHtml(p.id)}"><button class="danger" type="submit" aria-label="Revoke ${escapeHtml(p.name)}">Revoke</button></form></td></tr>`);
  const table = rows.length
    ? `<table id="passwords"><thead><tr><th>Name</th><th class="date created">Created (UTC)</th><th class="date">Last used</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table>`
    : '<p class="muted" id="passwords">No app passwords yet.</p>';
  return page(
    'Your WebDAV access · onedav',
    `<header><h1>${escapeHtml(person.name ?? person.upn)}</h1><form class="inline" method="post" action="${escapeHtml(links.base)}sign-out">${hidden(csrf)}<button class="quiet" type="submit" id="sign-out">Sign out</button></form></header>
${again}${message}${created}
<h2>Connect</h2>
<dl><dt>Address</dt><dd id="webdav-url">${escapeHtml(view.webdavUrl)}</dd><dt>User name</dt><dd id="username">${escapeHtml(person.upn)}</dd><dt>Password</dt><dd class="plain">an app password from below</dd></dl>
<h2>App passwords</h2>
<p>One per device, so you can revoke one without touching the others.</p>
<form class="create" method="post" action="${escapeHtml(links.base)}passwords">${hidden(csrf)}<div class="row"><input type="text" name="name" id="password-name" required maxlength="60" placeholder="Name, e.g. laptop" aria-label="Name of the new app password"><button type="submit" id="create-password">Create app password</button></div></form>
${table}`,
  );
}

export function errorPage(links: PageLinks, title: string, message: string): string {
  return page(`${title} · onedav`, `<h1>${escapeHtml(title)}</h1><p class="notice" role="alert">${escapeHtml(message)}</p><p><a href="${escapeHtml(links.base)}">Back</a></p>`);
}
