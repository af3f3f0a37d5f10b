/** Whether `host` (a config's host, or a URL's hostname with IPv6 in brackets) names this machine. */
export function isLoopbackHost(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i.test(host);
}
