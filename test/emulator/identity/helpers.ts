import { createHash, randomBytes } from 'node:crypto';

export interface JsonResponse {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

export async function getJson(url: string): Promise<JsonResponse> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Follows the authorize URL like a browser that is already signed in: returns the redirect target. */
export async function authorize(url: string): Promise<{ status: number; location?: URL; text: string }> {
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location) : undefined, text: await res.text() };
}

/** The Entra ID error body shape every failed token request must have. */
export function expectAadError(body: Record<string, any>, error: string, code: number): void {
  if (body.error !== error) throw new Error(`expected error ${error}, got ${JSON.stringify(body)}`);
  if (!Array.isArray(body.error_codes) || body.error_codes[0] !== code) throw new Error(`expected AADSTS${code}, got ${JSON.stringify(body.error_codes)}`);
  const description = String(body.error_description);
  if (!description.startsWith(`AADSTS${code}: `)) throw new Error(`description does not start with AADSTS${code}: ${description}`);
  for (const part of ['\r\nTrace ID: ', '\r\nCorrelation ID: ', '\r\nTimestamp: ']) {
    if (!description.includes(part)) throw new Error(`description lacks "${part.trim()}"`);
  }
  for (const key of ['timestamp', 'trace_id', 'correlation_id', 'error_uri']) {
    if (typeof body[key] !== 'string') throw new Error(`error body lacks ${key}`);
  }
  if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/.test(body.timestamp)) throw new Error(`timestamp not in Entra ID format: ${body.timestamp}`);
}
