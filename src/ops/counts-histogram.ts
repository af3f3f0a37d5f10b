import { validateMetricName, type Histogram, type Registry } from 'prom-client';

export interface HistogramCounts {
  labels: Record<string, string>;
  /** Per-bucket counts, not cumulative: `counts[i]` fell in (bounds[i-1], bounds[i]]; the last is +Inf. */
  counts: readonly number[];
  sum: number;
}

/**
 * A histogram family whose counts are kept elsewhere and read when scraped. prom-client's own
 * Histogram learns only through observe(), which would count every request a second time on the
 * hot path; this object answers the registry's side of a metric, get(), and prom-client writes
 * the text (HELP/TYPE, cumulative `_bucket{le}` up to +Inf, `_sum`, `_count`, escaping).
 */
export function registerCountsHistogram(registry: Registry, family: { name: string; help: string; bounds: readonly number[]; read: () => Iterable<HistogramCounts> }): void {
  const { name, help, bounds, read } = family;
  if (!validateMetricName(name)) throw new Error(`invalid metric name ${name}`);
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    async get() {
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const { labels, counts, sum } of read()) {
        let cumulative = 0;
        bounds.forEach((bound, i) => {
          cumulative += counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
        });
        cumulative += counts[bounds.length] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels, value: sum });
        values.push({ metricName: `${name}_count`, labels, value: cumulative });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  // The registry needs only name, get() and reset(); prom-client's types name its own classes.
  registry.registerMetric(metric as unknown as Histogram);
}
