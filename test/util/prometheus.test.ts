import { describe, expect, it } from 'vitest';
import { PrometheusText } from '../../src/util/prometheus.js';
import { parsePrometheus } from '../helpers/prometheus.js';

describe('Prometheus text exposition', () => {
  it('writes HELP and TYPE once per family, samples with escaped labels, and special values', () => {
    const text = new PrometheusText()
      .counter('x_total', 'Things.\nMore', 3, { mount: '/a "b"\\c' })
      .counter('x_total', 'ignored', 4, { mount: '/team' })
      .gauge('ratio', 'A ratio.', NaN)
      .gauge('big', 'Big.', Infinity)
      .toString();
    expect(text).toBe(
      [
        '# HELP x_total Things.\\nMore',
        '# TYPE x_total counter',
        'x_total{mount="/a \\"b\\"\\\\c"} 3',
        'x_total{mount="/team"} 4',
        '# HELP ratio A ratio.',
        '# TYPE ratio gauge',
        'ratio NaN',
        '# HELP big Big.',
        '# TYPE big gauge',
        'big +Inf',
        '',
      ].join('\n'),
    );
    const parsed = parsePrometheus(text);
    expect(parsed.value('x_total', { mount: '/a "b"\\c' })).toBe(3);
  });

  it('writes cumulative histogram buckets, +Inf, sum and count', () => {
    const text = new PrometheusText().histogram('d_seconds', 'Durations.', [0.1, 1], [2, 1, 3], 9.5, { method: 'GET' }).toString();
    expect(text.split('\n').slice(2, -1)).toEqual([
      'd_seconds_bucket{method="GET",le="0.1"} 2',
      'd_seconds_bucket{method="GET",le="1"} 3',
      'd_seconds_bucket{method="GET",le="+Inf"} 6',
      'd_seconds_sum{method="GET"} 9.5',
      'd_seconds_count{method="GET"} 6',
    ]);
    expect(parsePrometheus(text).types.d_seconds).toBe('histogram');
  });

  it('refuses a family declared with two types, and invalid names', () => {
    expect(() => new PrometheusText().counter('a', 'x', 1).gauge('a', 'x', 1)).toThrow(/declared as counter and gauge/);
    expect(() => new PrometheusText().counter('a-b', 'x', 1)).toThrow(/invalid metric name/);
  });
});
