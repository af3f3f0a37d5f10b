/**
 * A strict reader of the Prometheus text format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/)
 * for assertions: every line is a HELP, a TYPE, a sample or empty (empty lines are ignored); HELP
 * and TYPE come once per family, before its samples; a family's lines form one group; no series
 * twice; a histogram's buckets carry `le`, are cumulative, and end with +Inf equal to its _count.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  types: Record<string, string>;
  /** Sum of the samples named `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
  /** The one sample named `name` with exactly these labels (undefined if absent). */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

export function parsePrometheus(text: string): Scrape {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const samples: Sample[] = [];
  const types: Record<string, string> = {};
  const helps = new Set<string>();
  const seenSamplesOf = new Set<string>();
  const series = new Set<string>();
  let currentFamily: string | undefined;
  const closed = new Set<string>();
  const enter = (family: string) => {
    if (family === currentFamily) return;
    if (closed.has(family)) throw new Error(`the lines of ${family} are not one group`);
    if (currentFamily) closed.add(currentFamily);
    currentFamily = family;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      enter(name);
      if (seenSamplesOf.has(name)) throw new Error(`${kind} of ${name} after its samples`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`two HELP lines for ${name}`);
        helps.add(name);
      } else {
        if (types[name]) throw new Error(`two TYPE lines for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type ${rest}`);
        types[name] = rest;
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name, rawLabels, rawValue] = match;
    const labels: Record<string, string> = {};
    if (rawLabels) {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let m = LABEL.exec(rawLabels); m; m = LABEL.exec(rawLabels)) {
        labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        consumed = LABEL.lastIndex;
      }
      if (consumed !== rawLabels.length) throw new Error(`bad labels: ${rawLabels}`);
    }
    const value = rawValue === 'NaN' ? NaN : rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
    if (rawValue !== 'NaN' && Number.isNaN(value)) throw new Error(`bad value in ${line}`);
    const family = familyOf(name, types);
    if (!types[family]) throw new Error(`sample ${name} has no TYPE line`);
    enter(family);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (series.has(key)) throw new Error(`series ${key} twice`);
    series.add(key);
    seenSamplesOf.add(family);
    samples.push({ name, labels, value });
  }
  for (const [family, type] of Object.entries(types)) if (type === 'histogram') checkHistogram(family, samples);
  const fits = (s: Sample, name: string, labels: Record<string, string>) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    samples,
    types,
    sum: (name, labels = {}) => samples.filter((s) => fits(s, name, labels)).reduce((a, s) => a + s.value, 0),
    value: (name, labels = {}) => samples.find((s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && fits(s, name, labels))?.value,
  };
}

function checkHistogram(family: string, samples: Sample[]): void {
  const groups = new Map<string, { buckets: Sample[]; count?: number }>();
  const groupOf = (labels: Record<string, string>) => {
    const key = JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { buckets: [] }));
    return group;
  };
  for (const s of samples) {
    if (s.name === `${family}_bucket`) {
      if (s.labels.le === undefined) throw new Error(`${family}_bucket without le`);
      groupOf(s.labels).buckets.push(s);
    } else if (s.name === `${family}_count`) groupOf(s.labels).count = s.value;
  }
  for (const [key, { buckets, count }] of groups) {
    const last = buckets.at(-1);
    if (last?.labels.le !== '+Inf' || last.value !== count) throw new Error(`${family}${key}: the +Inf bucket must be last and equal _count`);
    for (let i = 1; i < buckets.length; i++) {
      if (Number(buckets[i].labels.le) <= Number(buckets[i - 1].labels.le) && buckets[i].labels.le !== '+Inf') throw new Error(`${family}${key}: le not increasing`);
      if (buckets[i].value < buckets[i - 1].value) throw new Error(`${family}${key}: buckets not cumulative`);
    }
  }
}

function familyOf(name: string, types: Record<string, string>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types[base] === 'histogram' || types[base] === 'summary') return base;
    }
  }
  return name;
}
