/**
 * Polls `check` until it holds, a bounded number of times, and throws `never happened: <what>`
 * otherwise. The bound only turns a hang into a clear failure; nothing asserts how long it took.
 */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, { tries = 400, everyMs = 25 } = {}): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`never happened: ${what}`);
}
