import type { TokenSource } from '../../src/auth/token-source.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/server.js';
import { findUser } from '../../src/emulator/directory.js';

export const ADELE = 'adele@contoso.onmicrosoft.com';

/** A TokenSource issuing emulator tokens for a user directly, counting refreshes. */
export class EmulatorTokens implements TokenSource {
  refreshes = 0;
  issued = 0;
  private current: string;

  constructor(
    private readonly emulator: RunningEmulator,
    private readonly upn = ADELE,
    first?: string,
  ) {
    this.current = first ?? this.issue();
  }

  issue(lifetimeSec = 3600): string {
    const user = findUser(this.emulator.state.directory, this.upn);
    if (!user) throw new Error(`no user ${this.upn}`);
    this.issued++;
    return this.emulator.state.tokens.issue(
      { tenantId: user.tenantId, clientId: 'test-client', userId: user.id, scopes: ['Files.ReadWrite.All'], appOnly: false },
      lifetimeSec,
    ).token;
  }

  /** Makes the next getAccessToken answer a token Graph will reject. */
  poison(): void {
    this.current = `${this.current.slice(0, -4)}AAAA`;
  }

  async getAccessToken(): Promise<string> {
    return this.current;
  }

  async refreshAfterRejection(rejected: string): Promise<string> {
    if (rejected === this.current) {
      this.refreshes++;
      this.current = this.issue();
    }
    return this.current;
  }
}

export async function withEmulator(options: EmulatorOptions = {}): Promise<{ emulator: RunningEmulator; tokens: EmulatorTokens; driveId: string }> {
  const emulator = await startEmulator({ port: 0, ...options });
  const tokens = new EmulatorTokens(emulator);
  return { emulator, tokens, driveId: emulator.drive.driveIdOf(ADELE) };
}

/** Requests the emulator answered for routes containing `part` (any status). */
export function routeCount(emulator: RunningEmulator, part: string, status?: number): number {
  const snap = emulator.counters.snapshot();
  if (status === undefined) {
    return Object.entries(snap.byRoute)
      .filter(([route]) => route.includes(part))
      .reduce((n, [, c]) => n + c, 0);
  }
  // byStatus is per category; count by route isn't split by status, so use the category view.
  return snap.byStatus[`${part}: ${status}`] ?? 0;
}
