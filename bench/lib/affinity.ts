import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';

/**
 * CPU placement for a bench run: the emulator stands in for Microsoft Graph, which in production
 * runs on Microsoft's machines and never takes CPU from onedav. On a small machine the two compete
 * for the same cores, so a ratio against a direct transfer also measures that competition.
 * `graphApart` gives the emulator (all its threads) the last core and everything else the others,
 * with `taskset` (util-linux); threads made later inherit it. Linux only.
 */
export interface CoreLayout {
  /** What the table says about it, e.g. "emulator on core 1; bench driver and onedav on core 0". */
  description: string;
  /** Gives this process its cores back (the children end with the stack). */
  undo(): void;
}

export function graphApart(emulatorPid: number, otherPids: number[]): CoreLayout {
  const count = cpus().length;
  if (count < 2) throw new Error('placing the emulator on a core of its own needs at least 2 cores');
  const last = count - 1;
  const rest = last === 1 ? '0' : `0-${last - 1}`;
  pin(emulatorPid, String(last));
  for (const pid of [process.pid, ...otherPids]) pin(pid, rest);
  return {
    description: `emulator (Graph's stand-in) alone on core ${last}; bench driver and onedav on core${last === 1 ? '' : 's'} ${rest}`,
    undo: () => pin(process.pid, `0-${last}`),
  };
}

function pin(pid: number, cores: string): void {
  try {
    execFileSync('taskset', ['--all-tasks', '--pid', '--cpu-list', cores, String(pid)], { stdio: 'ignore' });
  } catch (err) {
    throw new Error(`taskset could not place process ${pid} on cores ${cores} (is util-linux installed?): ${(err as Error).message}`);
  }
}
