import { inBinaryUnits } from '../../util/binary-units.js';

/**
 * The HTML page a browser gets for GET on a folder: names (links), sizes, dates; folders first,
 * then files, each sorted by name. Everything is HTML-escaped; hrefs are percent-encoded paths on
 * this server (never download URLs, so no pre-authenticated token ever reaches the page).
 */
export interface ListingRow {
  name: string;
  href: string;
  isCollection: boolean;
  size?: number;
  modified?: Date;
}

/** One link of the heading's path: `onedav / Music / Live`. */
export interface Crumb {
  name: string;
  href: string;
}

export const LISTING_STYLE = `
:root{color-scheme:light dark;--muted:#6b7280;--line:#8883;--accent:#0b57d0}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",sans-serif;margin:0;padding:1.5rem 2rem;max-width:64rem}
h1{font-size:1.3rem;font-weight:600;margin:0 0 1rem;overflow-wrap:anywhere}
h1 a{color:inherit;text-decoration:none}h1 a:hover{text-decoration:underline}h1 .sep{color:var(--muted);margin:0 .3em}
table{border-collapse:collapse;width:100%}
th,td{padding:.4rem .8rem;text-align:left;white-space:nowrap;border-bottom:1px solid var(--line)}
th{font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);border-bottom-width:2px}
td.name{white-space:normal;overflow-wrap:anywhere;width:100%}
tbody tr:hover{background:#8881}
.n{text-align:right;font-variant-numeric:tabular-nums}
td.date{font-variant-numeric:tabular-nums;color:var(--muted)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
td.name a::before{content:"";display:inline-block;width:.8em;height:1em;margin-right:.6em;vertical-align:-.12em;border:1.5px solid var(--muted);border-radius:2px}
tr.dir td.name a{font-weight:600}
tr.dir td.name a::before{width:1.05em;height:.8em;border:none;border-radius:2px 2px 3px 3px;background:#e8a93b;vertical-align:-.05em}
tr.up td.name a::before{display:none}
footer{margin-top:.9rem;color:var(--muted);font-size:.85rem}
`;

/**
 * `title` is the decoded path (`/Music/Live/`); `crumbs`, when given, link each folder of it in the
 * heading. Sizes are rounded (the exact byte count is the cell's tooltip); dates are UTC minutes
 * inside `<time datetime>`.
 */
export function renderListing(title: string, parentHref: string | undefined, rows: readonly ListingRow[], crumbs?: readonly Crumb[]): string {
  const sorted = [...rows].sort((a, b) => {
    if (a.isCollection !== b.isCollection) return a.isCollection ? -1 : 1;
    return a.name.localeCompare(b.name, undefined, { sensitivity: 'base', numeric: true }) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
  const lines = sorted.map((row) => {
    const name = escapeHtml(row.isCollection ? `${row.name}/` : row.name);
    const size = row.isCollection || row.size === undefined ? '<td class="n"></td>' : `<td class="n" title="${row.size} bytes">${formatSize(row.size)}</td>`;
    const date = row.modified
      ? `<td class="date"><time datetime="${row.modified.toISOString()}">${row.modified.toISOString().replace('T', ' ').slice(0, 16)}</time></td>`
      : '<td class="date"></td>';
    return `<tr class="${row.isCollection ? 'dir' : 'file'}"><td class="name"><a href="${escapeHtml(row.href)}">${name}</a></td>${size}${date}</tr>`;
  });
  const parent = parentHref ? `<tr class="up"><td class="name"><a href="${escapeHtml(parentHref)}" title="Parent folder">../</a></td><td class="n"></td><td class="date"></td></tr>\n` : '';
  const heading = crumbs?.length
    ? crumbs.map((c, i) => (i === crumbs.length - 1 ? escapeHtml(c.name) : `<a href="${escapeHtml(c.href)}">${escapeHtml(c.name)}</a>`)).join('<span class="sep">/</span>')
    : escapeHtml(title);
  const folders = sorted.filter((r) => r.isCollection).length;
  const files = sorted.length - folders;
  const bytes = sorted.reduce((sum, r) => sum + (r.isCollection ? 0 : (r.size ?? 0)), 0);
  const summary = `${folders} folder${folders === 1 ? '' : 's'}, ${files} file${files === 1 ? '' : 's'}${files ? ` (${formatSize(bytes)})` : ''}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${LISTING_STYLE}</style>
</head><body><h1>${heading}</h1>
<table><thead><tr><th>Name</th><th class="n">Size</th><th>Modified (UTC)</th></tr></thead><tbody>
${parent}${lines.join('\n')}
</tbody></table><footer>${summary}</footer></body></html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function formatSize(bytes: number): string {
  const { value, unit } = inBinaryUnits(bytes);
  if (unit === 'B') return `${bytes} B`;
  return `${value.toFixed(value < 10 ? 1 : 0)} ${unit}`;
}
