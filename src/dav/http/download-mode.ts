import type { RemoteDrive } from '../../drive/types.js';
import type { Logger } from '../../util/logger.js';

/** How a file GET is answered: a 302 to the drive's download URL, the bytes through onedav, or by client. */
export type DownloadMode = 'redirect' | 'proxy' | 'auto';

/**
 * `download.mode: auto` answers a file GET with a 302 to OneDrive's pre-authenticated URL only
 * for clients known to follow it (bytes then flow straight from Microsoft's CDN), and streams the
 * bytes through onedav for everyone else. Unknown clients get the proxy: a client that does not
 * follow the redirect sees an error, a client that would have followed it merely costs bandwidth.
 *
 * Evidence (see the report of the WebDAV room for links):
 * - rclone (`rclone/v…`): Go's net/http follows up to 10 redirects for GET and drops the
 *   Authorization header on cross-host hops; verified by test/clients/rclone.test.ts in redirect mode.
 * - ffmpeg/ffprobe (`Lavf/…`), VLC (`VLC/`, `LibVLC/`), Kodi (`Kodi/`, libcurl with
 *   FOLLOWLOCATION), mpv (`libmpv`, its default --user-agent; uses ffmpeg's http) and browsers
 *   (`Mozilla/…`): follow 3xx for media and downloads; ffprobe verified by
 *   test/clients/ffprobe.test.ts and mpv seeking by test/clients/mpv.test.ts in redirect mode.
 * - neon-based clients — cadaver, davfs2, litmus (`neon/`): neon follows no redirect unless the
 *   application registers its redirect module, and then only reports it → proxy.
 * - Windows WebClient (`Microsoft-WebDAV-MiniRedir/…`): mishandles 3xx on WebDAV requests (the
 *   reason Apache ships `redirect-carefully` for it), and mapped drives of 302-redirecting servers
 *   (alist/OpenList "302 mode") list folders but cannot copy files → proxy.
 * - macOS Finder (`WebDAVFS/…`): webdavfs asks CFNetwork to follow redirects on GET
 *   (apple-oss-distributions/webdavfs webdav_network.c, stream_get_transaction and network_read set
 *   kCFStreamPropertyHTTPShouldAutoredirect; test/personas/macos-webdavfs.test.ts replays it on a
 *   redirect mount), but a real Mac following a cross-host 302 with credentials is unverified → proxy.
 * - GNOME gvfs (`gvfs/`), KDE KIO (`KIO/`, says `Mozilla/` first), davx5,
 *   Cyberduck, WinSCP, curl without -L: no reliable evidence that a cross-host 302 on GET works → proxy.
 * - With Basic credentials, ffprobe follows the first 302 but seeks by re-opening the original URL
 *   without them (401, "partial file": seen with ffprobe 5.1 against onedav). Players built the same
 *   way (mpv on ffmpeg; VLC and Kodi unverified) therefore get the proxy when the request carried
 *   credentials; anonymous shares still redirect them.
 */
const FOLLOWS_REDIRECTS: RegExp[] = [/^rclone\//i, /\bLavf\//, /\b(VLC|LibVLC)\//i, /\bKodi\//i, /\b(lib)?mpv\b/i, /^Mozilla\//];

/** Clients that must never get a redirect even if another rule matched (e.g. Mozilla-like UAs). */
const NEVER_REDIRECT: RegExp[] = [/Microsoft-WebDAV-MiniRedir/i, /WebDAVFS/i, /\bneon\//i, /\bgvfs\//i, /davfs2/i, /\bKIO\//];

/** Media players that lose Basic credentials once redirected (see above). */
const DROPS_CREDENTIALS: RegExp[] = [/\bLavf\//, /\b(VLC|LibVLC)\//i, /\bKodi\//i, /\b(lib)?mpv\b/i];

export function shouldRedirect(mode: DownloadMode, userAgent: string | undefined, withCredentials = false): boolean {
  if (mode === 'redirect') return true;
  if (mode === 'proxy') return false;
  const ua = userAgent ?? '';
  if (NEVER_REDIRECT.some((r) => r.test(ua))) return false;
  if (withCredentials && DROPS_CREDENTIALS.some((r) => r.test(ua))) return false;
  return FOLLOWS_REDIRECTS.some((r) => r.test(ua));
}

/**
 * The mode a mount's GETs use: its own, else the server's. A drive without download URLs
 * (`capabilities.downloadUrl` false, e.g. MemoryDrive) always proxies. A mount that asks for
 * `redirect` itself on such a drive is refused: the operator chose redirects for that mount
 * (to spare onedav's bandwidth) and would silently get the opposite. The server-wide mode is a
 * default for every mount, so a drive that cannot redirect only gets a warning there.
 */
export function downloadModeOf(mount: { prefix: string; drive: RemoteDrive; download?: { mode: DownloadMode } }, serverMode: DownloadMode, logger: Logger): DownloadMode {
  const own = mount.download?.mode;
  if (mount.drive.capabilities.downloadUrl) return own ?? serverMode;
  if (own === 'redirect') {
    throw new Error(`mount ${mount.prefix}: download.mode "redirect" needs a drive with download URLs, and this drive has none (its files can only be streamed through onedav): set "proxy" or "auto", or remove it`);
  }
  if (own === undefined && serverMode === 'redirect') {
    logger.warn('this mount\'s drive has no download URLs: its files are streamed through onedav despite download.mode "redirect"', { mount: mount.prefix });
  }
  return 'proxy';
}
