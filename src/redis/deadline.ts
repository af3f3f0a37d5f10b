/**
 * How long a Redis operation may go unanswered before it counts as an outage, in time the event
 * loop was free to read the answer.
 */
export const REDIS_DEADLINE_MS = 2000;

/** The deadline advances in steps of this; each step counts only its own length, however late its timer fired. */
const STEP_MS = 100;

/**
 * Rejects with `onTimeout()` when `work` has not settled after `ms` of event-loop time; settles as
 * `work` otherwise.
 *
 * A plain timer (ioredis's commandTimeout) counts wall time: when the replica is saturated (many
 * concurrent Depth 1 PROPFINDs of a big folder, a long synchronous stretch) its timer fires before
 * the loop reads a reply that arrived long ago, and a healthy Redis is taken for a dead one (503s
 * that are not). Here the time runs in steps whose late firing counts only the step: each step
 * gives the loop one more turn to read the reply, so a reply that came is always read before the
 * deadline. A Redis that is down is noticed at once (the connection closes; commands fail without
 * waiting); one that hangs, after `ms` on a free loop, later on a saturated one.
 */
export function withinDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let counted = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const step = () => {
      timer = setTimeout(() => {
        counted += STEP_MS;
        if (counted < ms) return step();
        // The last step too leaves the loop one turn (its poll phase) to read an answer already there.
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(onTimeout());
        });
      }, Math.min(STEP_MS, ms));
    };
    step();
    work.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
