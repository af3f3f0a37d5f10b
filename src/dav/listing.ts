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

export function renderListing(title: string, parentHref: string | undefined, rows: readonly ListingRow[]): string {
  const sorted = [...rows].sort((a, b) => {
    if (a.isCollection !== b.isCollection) return a.isCollection ? -1 : 1;
    return a.name.localeCompare(b.name, undefined, { sensitivity: 'base', numeric: true }) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
  const lines = sorted.map((row) => {
    const name = escapeHtml(row.isCollection ? `${row.name}/` : row.name);
    const size = row.isCollection || row.size === undefined ? '' : formatSize(row.size);
    const date = row.modified ? row.modified.toISOString().replace('T', ' ').slice(0, 16) : '';
    return `<tr><td><a href="${escapeHtml(row.href)}">${name}</a></td><td class="n">${size}</td><td>${escapeHtml(date)}</td></tr>`;
  });
  const parent = parentHref ? `<tr><td><a href="${escapeHtml(parentHref)}">../</a></td><td></td><td></td></tr>` : '';
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td{padding:.2em 1.2em .2em 0}.n{text-align:right}th{text-align:left;border-bottom:1px solid #ccc}</style>
</head><body><h1>${escapeHtml(title)}</h1>
<table><thead><tr><th>Name</th><th class="n">Size</th><th>Modified (UTC)</th></tr></thead><tbody>
${parent}${lines.join('\n')}
</tbody></table><p>${sorted.length} item${sorted.length === 1 ? '' : 's'}</p></body></html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
