import type { RouteCategory } from './counters.js';

/**
 * A fault plan: which requests the emulator answers badly, as Graph sometimes does.
 * Rules are tried in order; the first one whose match fits and whose dice roll hits is applied.
 */
export interface FaultRule {
  match?: {
    category?: RouteCategory | RouteCategory[];
    method?: string;
    /** Substring of the request path (before the query). */
    pathIncludes?: string;
  };
  action:
    /** Answered before the request reaches its handler (nothing changes); `code`/`message` default to Graph's for the status. */
    | { type: 'status'; status: number; retryAfter?: number; code?: string; message?: string }
    | { type: 'reset' }
    /** Does the work, then drops the connection instead of answering: the caller cannot know it happened. */
    | { type: 'resetAfter' }
    /** Does the work, then holds the answer `ms`: a caller that gives up meanwhile cannot know it happened. */
    | { type: 'slowAnswer'; ms: number }
    | { type: 'latency'; ms: number };
  /** Chance this rule fires on a matching request (0..1), default 1. */
  probability?: number;
  /** How many times it may still fire; unlimited when absent. */
  times?: number;
  /** Matching requests to let through untouched before the rule may fire: aims a fault at one step of an operation. */
  skip?: number;
}

export interface FaultPlan {
  rules: FaultRule[];
  /** Seed for the dice, so a run can be replayed. */
  seed?: number;
}

export interface FaultDecision {
  rule: FaultRule;
  /** Latency rules add delay and let the request go on; `resetAfter` and `slowAnswer` let it run, then lose or hold its answer; the others end it. */
  delayMs: number;
  terminal: FaultRule['action'] | null;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private random: () => number = Math.random;
  /** How many faults were injected, by action type: the soak test's denominator. */
  readonly injected = { status: 0, reset: 0, resetAfter: 0, slowAnswer: 0, latency: 0 };

  setPlan(plan: FaultPlan | null): void {
    this.rules = plan ? plan.rules.map((r) => ({ ...r })) : [];
    this.random = plan?.seed !== undefined ? mulberry32(plan.seed) : Math.random;
  }

  get plan(): FaultPlan {
    return { rules: this.rules.map((r) => ({ ...r })) };
  }

  /** Decides what happens to one request. */
  decide(category: RouteCategory, method: string, path: string): FaultDecision | null {
    if (category === 'admin') return null;
    let delayMs = 0;
    for (const rule of this.rules) {
      if (rule.times !== undefined && rule.times <= 0) continue;
      if (!matches(rule, category, method, path)) continue;
      if (rule.skip !== undefined && rule.skip > 0) {
        rule.skip--;
        continue;
      }
      if (this.random() >= (rule.probability ?? 1)) continue;
      if (rule.times !== undefined) rule.times--;
      this.injected[rule.action.type]++;
      if (rule.action.type === 'latency') {
        delayMs += rule.action.ms;
        continue;
      }
      return { rule, delayMs, terminal: rule.action };
    }
    return delayMs > 0 ? { rule: this.rules[0], delayMs, terminal: null } : null;
  }
}

function matches(rule: FaultRule, category: RouteCategory, method: string, path: string): boolean {
  const m = rule.match;
  if (!m) return true;
  if (m.category !== undefined) {
    const cats = Array.isArray(m.category) ? m.category : [m.category];
    if (!cats.includes(category)) return false;
  }
  if (m.method !== undefined && m.method.toUpperCase() !== method) return false;
  if (m.pathIncludes !== undefined && !path.includes(m.pathIncludes)) return false;
  return true;
}

/** Small seeded PRNG, good enough for dice. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
