/** A CLI command: parses its own arguments, returns the exit code. */
export interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Exit codes, the same for every command: 3 a config problem (systemd does not retry it, docs/deploy.md), 4 someone must sign in again. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, auth: 4 } as const;
