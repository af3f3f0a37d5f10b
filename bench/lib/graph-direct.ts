import { request } from 'undici';
import { agent, patternBuffer } from './http.js';

/**
 * What a well-behaved Graph client does without onedav: one upload session, `fragment`-byte
 * fragments in order, the same pattern buffer every time. With `relay`, the fragments go to the
 * upload URL through it (the floor for a proxy process).
 */
export async function uploadDirect(graph: string, token: string, path: string, size: number, fragment: number, relay?: { via(url: string): string }): Promise<void> {
  const created = await request(`${graph}/me/drive/root:${path}:/createUploadSession`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ item: { '@microsoft.graph.conflictBehavior': 'replace' } }),
    dispatcher: agent,
  });
  const session = (await created.body.json()) as { uploadUrl?: string };
  if (!session.uploadUrl) throw new Error(`createUploadSession answered ${created.statusCode}`);
  const uploadUrl = relay ? relay.via(session.uploadUrl) : session.uploadUrl;
  const bytes = patternBuffer(fragment);
  for (let offset = 0; offset < size; offset += fragment) {
    const length = Math.min(fragment, size - offset);
    const res = await request(uploadUrl, {
      method: 'PUT',
      headers: { 'content-range': `bytes ${offset}-${offset + length - 1}/${size}`, 'content-length': String(length) },
      body: length === fragment ? bytes : bytes.subarray(0, length),
      dispatcher: agent,
    });
    await res.body.dump();
    if (res.statusCode >= 300) throw new Error(`fragment at ${offset} answered ${res.statusCode}`);
  }
}

/** The item's pre-authenticated download URL, straight from Graph. */
export async function downloadUrlOf(graph: string, token: string, path: string): Promise<string> {
  const res = await request(`${graph}/me/drive/root:${path}:?$select=id,@microsoft.graph.downloadUrl`, { headers: { authorization: `Bearer ${token}` }, dispatcher: agent });
  const item = (await res.body.json()) as { '@microsoft.graph.downloadUrl'?: string };
  if (!item['@microsoft.graph.downloadUrl']) throw new Error(`no downloadUrl for ${path} (HTTP ${res.statusCode})`);
  return item['@microsoft.graph.downloadUrl'];
}

/** Deletes the item at `path` straight on Graph (the emulator frees its content). */
export async function deleteDirect(graph: string, token: string, path: string): Promise<void> {
  const res = await request(`${graph}/me/drive/root:${path}:`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` }, dispatcher: agent });
  await res.body.dump();
  if (res.statusCode !== 204) throw new Error(`DELETE ${path} answered ${res.statusCode}`);
}
