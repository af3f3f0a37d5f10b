import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A free loopback port (the listener is closed before the caller's server takes it). */
export async function freePort(): Promise<number> {
  return bindable(0);
}

/**
 * A free loopback port for a server that is killed and started again on it (a replica, Redis).
 * Taken below the kernel's ephemeral range, which every `listen(0)` and outgoing connection draws
 * from: a port from freePort, free while its server is down, can be handed to another test file's
 * server meanwhile, and the balancer would then send this test's requests to a stranger.
 */
export async function restartablePort(): Promise<number> {
  const below = ephemeralStart();
  const low = Math.max(1024, below - 12_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (below - low));
    try {
      return await bindable(port);
    } catch {
      // taken: try another
    }
  }
  throw new Error(`no free port between ${low} and ${below - 1} after 50 tries`);
}

function ephemeralStart(): number {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(start) && start > 2048) return start;
  } catch {
    // not Linux: the IANA range starts at 49152
    return 49_152;
  }
  return 32_768;
}

async function bindable(port: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return bound;
}
