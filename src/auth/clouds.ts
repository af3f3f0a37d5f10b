/**
 * The Microsoft clouds onedav can sign in to. Each national cloud has its own login host and Graph
 * host; a token from one is worthless in another. The built-in emulator is one more cloud whose
 * hosts are a loopback URL known only at run time.
 */
export type CloudName = 'global' | 'china' | 'usgov' | 'usgovdod' | 'emulator';

export interface Cloud {
  name: CloudName;
  displayName: string;
  /** Login host root, no trailing slash: `https://login.microsoftonline.com`. */
  loginUrl: string;
  /** Graph host root: `https://graph.microsoft.com`. */
  graphUrl: string;
  /** Graph v1.0 root that requests go to: `https://graph.microsoft.com/v1.0`. */
  graphBaseUrl: string;
  /** The resource scopes name (`{graphResource}/Files.ReadWrite.All`, `{graphResource}/.default`). */
  graphResource: string;
  /** `cloud_instance_name` in this cloud's OpenID configuration. */
  instanceName: string;
}

function cloud(name: CloudName, displayName: string, loginUrl: string, graphUrl: string, instanceName: string): Cloud {
  return { name, displayName, loginUrl, graphUrl, graphBaseUrl: `${graphUrl}/v1.0`, graphResource: graphUrl, instanceName };
}

export const NATIONAL_CLOUDS: Record<Exclude<CloudName, 'emulator'>, Cloud> = {
  global: cloud('global', 'Microsoft global cloud', 'https://login.microsoftonline.com', 'https://graph.microsoft.com', 'microsoftonline.com'),
  china: cloud('china', 'Microsoft 365 operated by 21Vianet (China)', 'https://login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn', 'partner.microsoftonline.cn'),
  usgov: cloud('usgov', 'US Government L4 (GCC High)', 'https://login.microsoftonline.us', 'https://graph.microsoft.us', 'microsoftonline.us'),
  usgovdod: cloud('usgovdod', 'US Government L5 (DoD)', 'https://login.microsoftonline.us', 'https://dod-graph.microsoft.us', 'microsoftonline.us'),
};

/**
 * The emulator as a cloud: login and Graph on one loopback URL (Graph under `/v1.0`). Its tokens
 * are for `https://graph.microsoft.com`, as the emulator issues them.
 */
export function emulatorCloud(url: string): Cloud {
  const root = url.replace(/\/+$/, '');
  return { name: 'emulator', displayName: `Built-in emulator at ${root}`, loginUrl: root, graphUrl: root, graphBaseUrl: `${root}/v1.0`, graphResource: 'https://graph.microsoft.com', instanceName: 'emulator' };
}

/** A cloud by name; the emulator needs its URL. */
export function cloudByName(name: CloudName, emulatorUrl?: string): Cloud {
  if (name !== 'emulator') return NATIONAL_CLOUDS[name];
  if (!emulatorUrl) throw new Error('The emulator cloud needs the emulator URL: pass --authority http://127.0.0.1:PORT (see "onedav emulator").');
  return emulatorCloud(emulatorUrl);
}

/**
 * Which national cloud an OpenID configuration describes, from `msgraph_host` first (it tells
 * GCC High from DoD, which share `cloud_instance_name`), then `cloud_instance_name`.
 */
export function cloudFromDiscovery(facts: { cloudInstanceName?: string | null; msgraphHost?: string | null }): Exclude<CloudName, 'emulator'> | undefined {
  const host = facts.msgraphHost?.toLowerCase();
  for (const c of Object.values(NATIONAL_CLOUDS)) if (host && new URL(c.graphUrl).host === host) return c.name as Exclude<CloudName, 'emulator'>;
  const instance = facts.cloudInstanceName?.toLowerCase();
  for (const c of Object.values(NATIONAL_CLOUDS)) if (instance && c.instanceName === instance) return c.name as Exclude<CloudName, 'emulator'>;
  return undefined;
}

export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  } catch {
    return false;
  }
}
