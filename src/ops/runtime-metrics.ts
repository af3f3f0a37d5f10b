import { collectDefaultMetrics, Registry } from 'prom-client';

let runtime: Registry | undefined;

/**
 * prom-client's Node runtime metrics (event-loop lag, GC durations, heap, open handles and file
 * descriptors, CPU, memory, start time), in one registry for the process: they describe the
 * process, not a server, and each collection installs a GC observer and an event-loop-delay
 * histogram that live as long as the process, so several servers in one process share one set.
 *
 * Standard names, no `onedav_` prefix: `process_*` are the names every Prometheus client exports
 * (https://prometheus.io/docs/instrumenting/writing_clientlibs/#standard-and-runtime-collectors),
 * onedav already exported `process_resident_memory_bytes` and `process_start_time_seconds` under
 * them, and `nodejs_*` is what Node dashboards and alerts query; `job`/`instance` say it is onedav.
 */
export function runtimeMetrics(): Registry {
  if (!runtime) {
    runtime = new Registry();
    collectDefaultMetrics({ register: runtime });
  }
  return runtime;
}
