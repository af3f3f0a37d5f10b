import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../context.js';
import { EmulatorHttpError, sendJson } from '../request-io.js';

interface CopyJob {
  id: string;
  status: 'inProgress' | 'completed' | 'failed';
  resourceId?: string;
  error?: { code: string; message: string };
  polls: number;
}

/**
 * Asynchronous copy monitors. `POST …/copy` answers 202 with `Location: /v1.0/monitor/{id}`; the
 * monitor needs no token, reports `inProgress` (202) on the first poll and then the final
 * `completed` (with `resourceId`) or `failed` (with the error) status, as Graph's asyncJobStatus does.
 */
export class CopyMonitors {
  private readonly jobs = new Map<string, CopyJob>();

  /** Runs `work` (the copy itself) and returns the monitor id. */
  start(work: () => string): string {
    const job: CopyJob = { id: randomUUID(), status: 'inProgress', polls: 0 };
    this.jobs.set(job.id, job);
    try {
      job.resourceId = work();
      job.status = 'completed';
    } catch (err) {
      if (!(err instanceof EmulatorHttpError)) throw err;
      job.status = 'failed';
      job.error = { code: err.code, message: err.message };
    }
    return job.id;
  }

  serve(ctx: RequestContext, id: string): void {
    ctx.setRoute(`${ctx.method} /monitor/{id}`);
    if (ctx.method !== 'GET') throw new EmulatorHttpError(405, 'invalidRequest', 'Copy monitors answer GET only.');
    const job = this.jobs.get(id);
    if (!job) throw new EmulatorHttpError(404, 'itemNotFound', 'The copy operation could not be found.');
    job.polls++;
    if (job.polls === 1) {
      return sendJson(ctx.res, 202, { operation: 'ItemCopy', percentageComplete: 0.0, status: 'inProgress' });
    }
    if (job.status === 'completed') {
      return sendJson(ctx.res, 200, { operation: 'ItemCopy', percentageComplete: 100.0, resourceId: job.resourceId, status: 'completed' });
    }
    return sendJson(ctx.res, 200, { operation: 'ItemCopy', percentageComplete: 0.0, status: 'failed', error: job.error });
  }

  clear(): void {
    this.jobs.clear();
  }
}
