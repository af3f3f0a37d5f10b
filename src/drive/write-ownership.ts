/**
 * Who may write a path fleet-wide. Within one process GraphDrive already lets one write of a path
 * run at a time; with several replicas the same holds across them through a shared lease, because
 * OneDrive for Business takes one open upload session per file (OneDrive/onedrive-api-docs#747).
 */
export interface WriteOwnership {
  /**
   * Runs `work` while this replica alone writes `key` (a drive and a case-folded path). `busy`
   * when another replica kept it past the wait bound, or shared state is out of reach: the client
   * is told to retry after `retryAfter` seconds.
   */
  run<T>(key: string, work: () => Promise<T>): Promise<{ value: T } | { busy: string; retryAfter: number }>;
}
