/**
 * Prometheus text exposition format 0.0.4, written by hand: `# HELP`/`# TYPE` once per family,
 * then one `name{label="value"} number` line per sample. Families are declared once even when
 * their samples come from several sources (one client per mount), as the format requires.
 */
export type Labels = Record<string, string>;
export type MetricType = 'counter' | 'gauge' | 'histogram';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Family {
  help: string;
  type: MetricType;
  lines: string[];
}

export class PrometheusText {
  private readonly families = new Map<string, Family>();

  counter(name: string, help: string, value: number, labels: Labels = {}): this {
    return this.sample(name, 'counter', help, name, value, labels);
  }

  gauge(name: string, help: string, value: number, labels: Labels = {}): this {
    return this.sample(name, 'gauge', help, name, value, labels);
  }

  /**
   * A histogram from per-bucket counts (not cumulative): `counts[i]` observations fell at or below
   * `bounds[i]` and above `bounds[i-1]`; `counts[bounds.length]` is the +Inf bucket.
   */
  histogram(name: string, help: string, bounds: readonly number[], counts: readonly number[], sum: number, labels: Labels = {}): this {
    let cumulative = 0;
    bounds.forEach((bound, i) => {
      cumulative += counts[i] ?? 0;
      this.sample(name, 'histogram', help, `${name}_bucket`, cumulative, { ...labels, le: formatNumber(bound) });
    });
    cumulative += counts[bounds.length] ?? 0;
    this.sample(name, 'histogram', help, `${name}_bucket`, cumulative, { ...labels, le: '+Inf' });
    this.sample(name, 'histogram', help, `${name}_sum`, sum, labels);
    return this.sample(name, 'histogram', help, `${name}_count`, cumulative, labels);
  }

  /** Declares a family with no samples yet, so scrapers see it from the start. */
  declare(name: string, type: MetricType, help: string): this {
    this.family(name, type, help);
    return this;
  }

  toString(): string {
    const out: string[] = [];
    for (const [name, family] of this.families) {
      out.push(`# HELP ${name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      out.push(`# TYPE ${name} ${family.type}`);
      out.push(...family.lines);
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }

  private sample(family: string, type: MetricType, help: string, name: string, value: number, labels: Labels): this {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    this.family(family, type, help).lines.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatNumber(value)}`);
    return this;
  }

  private family(name: string, type: MetricType, help: string): Family {
    let family = this.families.get(name);
    if (!family) {
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${name}`);
      this.families.set(name, (family = { help, type, lines: [] }));
    } else if (family.type !== type) {
      throw new Error(`metric ${name} declared as ${family.type} and ${type}`);
    }
    return family;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
