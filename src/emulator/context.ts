import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../util/clock.js';
import type { RequestCounters, RouteCategory } from './counters.js';
import type { Directory } from './directory.js';
import type { FaultInjector } from './faults.js';
import type { AccessTokenAuthority } from './access-tokens.js';

/** Knobs tests and the admin endpoint may turn while the emulator runs. */
export interface EmulatorSettings {
  accessTokenLifetimeSec: number;
  refreshTokenLifetimeSec: number;
  /**
   * When true, using a refresh token revokes it (its successor is the only valid one). Entra itself
   * "doesn't revoke old refresh tokens when used" but tells apps to delete them and may revoke any
   * at any time (https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens), hence
   * off by default; on, it is the strictest rotation a client must survive (replicas sharing one sign-in).
   */
  revokeRefreshTokenOnRotation: boolean;
  downloadUrlLifetimeSec: number;
  /** Idle lifetime of an upload session; each accepted fragment extends it. */
  uploadSessionLifetimeSec: number;
  /** Device codes expire after this many seconds. */
  deviceCodeLifetimeSec: number;
  /** Minimum seconds between device-code polls before `slow_down`. */
  deviceCodePollIntervalSec: number;
}

export const DEFAULT_SETTINGS: EmulatorSettings = {
  accessTokenLifetimeSec: 3600,
  refreshTokenLifetimeSec: 90 * 24 * 3600,
  revokeRefreshTokenOnRotation: false,
  downloadUrlLifetimeSec: 3600,
  uploadSessionLifetimeSec: 15 * 60,
  deviceCodeLifetimeSec: 900,
  deviceCodePollIntervalSec: 5,
};

/** What every handler of the emulator shares. Identity and drive keep their own state beside it. */
export interface SharedState {
  clock: Clock;
  directory: Directory;
  tokens: AccessTokenAuthority;
  settings: EmulatorSettings;
  /** `http://127.0.0.1:port`, known once listening. */
  baseUrl: string;
  /** Where state is persisted; in-memory when absent. */
  dataDir?: string;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: URL;
  category: RouteCategory;
  /** Names the route for the counters, e.g. `GET /drives/{drive-id}/root/children`. */
  setRoute(template: string): void;
}

/** A part of the emulator that answers some requests. */
export interface EmulatorService {
  /** Answers the request and returns true, or returns false when the path is not its own. */
  handle(ctx: RequestContext): Promise<boolean>;
  /** Admin requests under `/_emulator/<name>/…`. */
  handleAdmin(ctx: RequestContext, subpath: string): Promise<boolean>;
  /** Loads persisted state from `dataDir`, if any. */
  load(): Promise<void>;
  /** Flushes persisted state (called on close). */
  flush(): Promise<void>;
}
