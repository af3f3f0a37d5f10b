import { GraphError } from '../graph/errors.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { AccountSource, MountSource } from './sources.js';

export interface AccountHealth {
  state: 'ok' | 'refreshing' | 'unhealthy';
  reason?: string;
  lastRefresh?: string;
  expiresAt?: string;
}

export type GraphReachability =
  | { checked: true; ok: boolean; throttled?: boolean; status?: number; error?: string; ms: number; checkedAt: string }
  | { checked: false; reason: string };

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  accounts: Record<string, AccountHealth>;
  mounts: Record<string, { account: string; graph: GraphReachability }>;
}

export interface HealthOptions {
  clock?: Clock;
  /** How long a Graph probe's answer is reused (default 15 s), so frequent probes cost few Graph calls. */
  probeTtlMs?: number;
  /** How long a probe may take (default 5 s). */
  probeTimeoutMs?: number;
}

/**
 * The `/healthz` answer: every account's token state (from its refresher) and, per mount, whether
 * Graph answers a cheap request for its drive. Unhealthy (503) when an account needs a person
 * (its refresh token was revoked or expired, its app secret is wrong) or a drive's probe failed;
 * a throttled probe still counts as reachable. Probes are single-flight and cached briefly.
 */
export class HealthChecker {
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly probes = new Map<string, { at: number; result: Promise<GraphReachability> }>();

  constructor(
    private readonly accounts: readonly AccountSource[],
    private readonly mounts: readonly MountSource[],
    options: HealthOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.ttlMs = options.probeTtlMs ?? 15_000;
    this.timeoutMs = options.probeTimeoutMs ?? 5_000;
  }

  async check(): Promise<HealthReport> {
    const needsSignIn = new Set(this.accounts.filter((a) => a.health().state === 'unhealthy').map((a) => a.name));
    const mounts: HealthReport['mounts'] = {};
    await Promise.all(
      this.mounts.map(async (mount) => {
        const graph: GraphReachability = needsSignIn.has(mount.account) ? { checked: false, reason: `account "${mount.account}" needs to sign in again` } : await this.probe(mount);
        mounts[mount.prefix] = { account: mount.account, graph };
      }),
    );
    // Read after the probes: a probe may have fetched the first token, or learnt it was refused.
    const accounts: HealthReport['accounts'] = {};
    for (const account of this.accounts) {
      const h = account.health();
      accounts[account.name] = {
        state: h.state,
        ...(h.reason ? { reason: h.reason } : {}),
        ...(h.lastRefresh !== undefined ? { lastRefresh: iso(h.lastRefresh) } : {}),
        ...(h.expiresAt !== undefined ? { expiresAt: iso(h.expiresAt) } : {}),
      };
    }
    const healthy = Object.values(accounts).every((a) => a.state !== 'unhealthy') && Object.values(mounts).every((m) => !m.graph.checked || m.graph.ok);
    return { status: healthy ? 'ok' : 'unhealthy', accounts, mounts };
  }

  /** The HTTP answer: 200 when healthy, 503 otherwise, with the report as JSON either way. */
  async response(): Promise<{ status: number; contentType: string; body: string }> {
    const report = await this.check();
    return { status: report.status === 'ok' ? 200 : 503, contentType: 'application/json; charset=utf-8', body: `${JSON.stringify(report, null, 2)}\n` };
  }

  private probe(mount: MountSource): Promise<GraphReachability> {
    const now = this.clock.now();
    const cached = this.probes.get(mount.prefix);
    if (cached && now - cached.at < this.ttlMs) return cached.result;
    const result = this.runProbe(mount);
    this.probes.set(mount.prefix, { at: now, result });
    return result;
  }

  private async runProbe(mount: MountSource): Promise<GraphReachability> {
    const started = this.clock.now();
    const checkedAt = iso(started);
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      await mount.probe(signal);
      return { checked: true, ok: true, status: 200, ms: this.clock.now() - started, checkedAt };
    } catch (err) {
      const ms = this.clock.now() - started;
      if (signal.aborted) return { checked: true, ok: false, error: `Graph did not answer within ${this.timeoutMs / 1000} s`, ms, checkedAt };
      if (err instanceof GraphError) {
        if (err.isThrottled || (err.status === 503 && err.retryAfter !== undefined)) return { checked: true, ok: true, throttled: true, status: err.status, ms, checkedAt };
        return { checked: true, ok: false, ...(err.status ? { status: err.status } : {}), error: err.message, ms, checkedAt };
      }
      return { checked: true, ok: false, error: (err as Error)?.message ?? String(err), ms, checkedAt };
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
