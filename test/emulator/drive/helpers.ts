import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../src/emulator/server.js';
import { CONSUMERS_TENANT_ID } from '../../../src/emulator/directory.js';

export const ADELE = 'adele@contoso.onmicrosoft.com';
export const MEGAN = 'megan@contoso.onmicrosoft.com';
export const ALEX = 'alex@outlook.com';
export const LEI = 'lei@fabrikam.partner.onmschina.cn';

export async function startDrive(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startEmulator({ admin: true, ...options });
}

/** A delegated (or app-only) access token minted directly, as the identity half would issue it. */
export function tokenFor(
  emu: RunningEmulator,
  upn: string,
  options: { appOnly?: boolean; scopes?: string[]; lifetimeSec?: number; tenantId?: string } = {},
): string {
  const user = emu.state.directory.users.find((u) => u.userPrincipalName === upn);
  const tenantId = options.tenantId ?? user?.tenantId ?? CONSUMERS_TENANT_ID;
  const { token } = emu.state.tokens.issue(
    {
      tenantId,
      clientId: '3c1d5e7f-2a4b-4c6d-8e0f-0a1b2c3d4e5f',
      userId: options.appOnly ? undefined : user?.id,
      scopes: options.scopes ?? (options.appOnly ? ['Files.ReadWrite.All', 'Sites.ReadWrite.All'] : ['Files.ReadWrite.All', 'User.Read']),
      appOnly: options.appOnly ?? false,
    },
    options.lifetimeSec ?? 3600,
  );
  return token;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One Graph call (relative to `/v1.0` unless absolute); JSON bodies are encoded, redirects are not followed. */
export async function call(emu: RunningEmulator, method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const url = path.startsWith('http') ? path : `${emu.url}/v1.0${path}`;
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof Uint8Array || typeof options.body === 'string') body = options.body as BodyInit;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  return fetch(url, { method, headers, body, redirect: 'manual' });
}

export async function json(res: Response): Promise<any> {
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

/** Calls and expects a status; returns the parsed body. */
export async function expectStatus(res: Promise<Response> | Response, status: number): Promise<any> {
  const r = await res;
  const body = await json(r).catch(() => undefined);
  if (r.status !== status) throw new Error(`Expected ${status}, got ${r.status}: ${JSON.stringify(body)}`);
  return body;
}

export function bytes(n: number, seed = 1): Buffer {
  const buf = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}
