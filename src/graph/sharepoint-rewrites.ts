/**
 * SharePoint-backed storage (OneDrive for Business, document libraries) rewrites some files as
 * they are committed: it writes its own metadata into them, so the stored size and hashes differ
 * from the bytes that were sent. Reported for Office documents, PDF and HTML
 * (OneDrive/onedrive-api-docs#935; abraunegg/onedrive#2654, abraunegg/onedrive#3032;
 * rclone docs/content/onedrive.md "Unexpected file size/hash differences on Sharepoint") and for
 * JPEG images, which grow by about 12 bytes (microsoftgraph/microsoft-graph-docs-contrib#8903).
 * Plain text is stored as sent (OneDrive/onedrive-api-docs#935). Personal OneDrive stores every
 * file as sent.
 */
const REWRITTEN_EXTENSIONS = new Set([
  // Word, Excel, PowerPoint: binary and Open XML formats, with macros, templates and shows
  'doc', 'docx', 'docm', 'dot', 'dotx', 'dotm',
  'xls', 'xlsx', 'xlsm', 'xlsb', 'xlt', 'xltx', 'xltm',
  'ppt', 'pptx', 'pptm', 'pot', 'potx', 'potm', 'pps', 'ppsx', 'ppsm',
  'pdf', 'htm', 'html',
  'jpg', 'jpeg',
]);

/** Whether SharePoint may store a file of this name with content of its own (by extension, any case). */
export function isRewrittenBySharePoint(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && REWRITTEN_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}
