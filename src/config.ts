import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { clientTypeOf } from './auth/client-type.js';

/**
 * The one config schema. Every module receives typed options cut from it; nothing else reads
 * config files or the environment. Validation messages name the field and say what to fix.
 */
export const FRAGMENT_UNIT = 327_680; // 320 KiB: Graph wants upload fragments in multiples of this.
/** Short enough that an outside change shows through WebDAV within 5 s (issue 13), with room for Graph's own lag. */
export const DEFAULT_DELTA_POLL_SECONDS = 2;

const MiB = 1024 * 1024;

const cloudName = z.enum(['global', 'china', 'usgov', 'usgovdod', 'emulator']);

const accountSchema = z
  .object({
    cloud: cloudName.default('global'),
    /** `common`, `organizations`, `consumers`, a tenant id or a domain. */
    tenant: z.string().min(1).default('common'),
    clientId: z.string().min(1, 'set the Application (client) ID of your app registration'),
    /**
     * `public` (default for interactive and deviceCode): a "Mobile and desktop applications" registration;
     * never sends a secret. `confidential` (always for clientCredentials): a "Web" redirect URI and a client
     * secret sent with every token request. See src/auth/client-type.ts.
     */
    clientType: z.enum(['public', 'confidential']).optional(),
    /** Only for confidential clients. Prefer the ONEDAV_CLIENT_SECRET environment variable over writing it here. */
    clientSecret: z.string().min(1).optional(),
    redirectUri: z.url({ message: 'must be a URL such as http://localhost:53682/' }).default('http://localhost:53682/'),
    flow: z.enum(['interactive', 'deviceCode', 'clientCredentials']).default('interactive'),
    scopes: z.array(z.string()).default(['Files.ReadWrite.All', 'offline_access', 'User.Read']),
    /** With clientCredentials: the user whose drive to serve (UPN or object id). */
    user: z.string().optional(),
  })
  .strict()
  .superRefine((account, ctx) => {
    // Entra answers these with AADSTS700025 / AADSTS7000218 at the first token request; say so at start instead.
    if (account.flow === 'clientCredentials' && account.clientType === 'public') {
      ctx.addIssue({ code: 'custom', path: ['clientType'], message: 'client credentials are a confidential-client flow: remove "clientType" or set it to "confidential"' });
    }
    if (account.flow === 'deviceCode' && account.clientType === 'confidential') {
      ctx.addIssue({ code: 'custom', path: ['clientType'], message: 'the device-code flow is for public clients ("Mobile and desktop" registration, "Allow public client flows"): use "flow": "interactive" with a confidential app' });
    }
    if (account.clientSecret && account.flow !== 'clientCredentials' && account.clientType !== 'confidential') {
      ctx.addIssue({
        code: 'custom',
        path: ['clientSecret'],
        message: 'a public client sends no secret (Entra refuses it: AADSTS700025): remove it, or set "clientType": "confidential" if the redirect URI is registered under "Web"',
      });
    }
  });

const driveSelector = z.discriminatedUnion('type', [
  z.object({ type: z.literal('me') }).strict(),
  z.object({ type: z.literal('id'), id: z.string().min(1) }).strict(),
  z.object({ type: z.literal('user'), user: z.string().min(1) }).strict(),
  z.object({ type: z.literal('site'), site: z.string().min(1).describe('host:/sites/path or a site id'), library: z.string().optional() }).strict(),
]);

/** How a file GET is answered (see src/dav/http/download-mode.ts). */
const downloadMode = z.enum(['redirect', 'proxy', 'auto']);

const mountSchema = z
  .object({
    path: z.string().regex(/^\/([^/]+(\/[^/]+)*)?$/, 'must start with / and have no trailing slash, e.g. "/" or "/team"'),
    account: z.string().min(1),
    drive: driveSelector.default({ type: 'me' }),
    /** This mount's own download mode; the top-level `download.mode` when absent. */
    download: z.object({ mode: downloadMode }).strict().optional(),
  })
  .strict();

const userSchema = z
  .object({
    name: z.string().min(1).regex(/^[^:]+$/, 'must not contain ":"'),
    /** scrypt hash from `onedav hash-password`. */
    password: z.string().min(1),
    /** Folder inside the mount this user sees as `/`. */
    root: z.string().default('/'),
    readOnly: z.boolean().default(false),
  })
  .strict();

/**
 * Gateway mode (docs/gateway.md): the organisation's people sign in with their own Microsoft
 * accounts on onedav's site (`/.well-known/onedav/account/`) and get app passwords; WebDAV with
 * `UPN + app password` serves that person's own drive with their own delegated token.
 */
const gatewaySchema = z
  .object({
    /** The address people and WebDAV clients use, e.g. https://dav.example.org (its sign-in redirect URI is `<publicUrl>/.well-known/onedav/account/callback`). */
    publicUrl: z.url({ message: 'must be the URL people use, e.g. https://dav.example.org' }).refine((u) => /^https?:\/\/[^/]+\/?$/.test(u), 'must be an origin without a path, e.g. https://dav.example.org'),
    /** Tenants whose people may sign in: tenant ids (GUIDs) or verified domains (contoso.com). */
    tenants: z.array(z.string().min(1)).min(1, 'name at least one tenant id or domain whose people may sign in'),
    /** Tenant path segment of the sign-in: the one tenant when there is one, `organizations` when there are several. */
    authority: z.string().min(1).optional(),
    app: z
      .object({
        clientId: z.string().min(1, 'set the Application (client) ID of the web app registration'),
        /** Prefer ONEDAV_GATEWAY_CLIENT_SECRET over writing it here. */
        clientSecret: z.string().min(1).optional(),
        cloud: cloudName.default('global'),
      })
      .strict(),
    /** Delegated permissions asked of each person (`openid profile` are added). */
    scopes: z.array(z.string()).default(['Files.ReadWrite', 'offline_access', 'User.Read']),
    /** True when a TLS-terminating proxy sits in front of a plain-HTTP onedav (the site refuses plain HTTP beyond loopback otherwise). */
    behindTls: z.boolean().default(false),
    /** How long a browser session on the site lasts. */
    sessionHours: z.number().positive().max(24 * 30).default(8),
    /** App passwords one person may hold. */
    maxAppPasswords: z.number().int().min(1).max(100).default(20),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
        realm: z.string().default('onedav'),
        /** `/.well-known/onedav/healthz` and `/metrics`: open to whoever reaches the port, configured users only, or off. */
        monitoring: z.enum(['open', 'users', 'off']).default('open'),
      })
      .strict()
      .prefault({}),
    /** Tokens, locks and dead properties live here. */
    dataDir: z.string().default(join(homedir(), '.local', 'share', 'onedav')),
    accounts: z.record(z.string(), accountSchema).default({}),
    mounts: z.array(mountSchema).default([]),
    users: z.array(userSchema).default([]),
    anonymous: z.object({ enabled: z.boolean().default(false), readOnly: z.boolean().default(true) }).strict().prefault({}),
    cache: z
      .object({
        ttlSeconds: z.number().min(0).default(60),
        maxEntries: z.number().int().positive().default(200_000),
        maxBytes: z.number().int().positive().default(128 * MiB),
        /**
         * Poll Graph's delta feed this often (0 = off) to see remote changes before the TTL: with
         * the default a change made elsewhere shows within 5 s, for one Graph call per poll when
         * nothing changed. Where the cloud has no delta feed (21Vianet) the TTL applies alone.
         */
        deltaPollSeconds: z.number().min(0).default(DEFAULT_DELTA_POLL_SECONDS),
      })
      .strict()
      .prefault({}),
    /** The download mode of every mount that sets none. */
    download: z.object({ mode: downloadMode.default('auto') }).strict().prefault({}),
    upload: z
      .object({
        simpleMax: z.number().int().min(0).max(4 * MiB, 'Graph takes simple uploads up to 4 MiB').default(4 * MiB),
        fragmentSize: z
          .number()
          .int()
          .positive()
          .max(60 * MiB, 'Graph takes at most 60 MiB per fragment')
          .refine((n) => n % FRAGMENT_UNIT === 0, `must be a multiple of ${FRAGMENT_UNIT} bytes (320 KiB), e.g. ${32 * FRAGMENT_UNIT}`)
          .default(32 * FRAGMENT_UNIT),
      })
      .strict()
      .prefault({}),
    /** Bounds on the dead-property store (PROPPATCH): beyond them writes get 507. See docs/configuration.md. */
    deadProperties: z
      .object({
        maxPerResource: z.number().int().positive().default(100),
        maxBytesPerResource: z.number().int().positive().default(64 * 1024),
        maxPerUser: z.number().int().positive().default(20_000),
        maxBytesPerUser: z.number().int().positive().default(4 * MiB),
      })
      .strict()
      .prefault({}),
    /**
     * Shared state for several replicas behind a load balancer (docs/deploy.md). Absent: one
     * process keeps its state in files under dataDir. The AUTH password may come from
     * ONEDAV_REDIS_PASSWORD instead of the URL; secrets kept in Redis are sealed with ONEDAV_STATE_KEY.
     */
    redis: z
      .object({
        url: z
          .string()
          .refine((u) => /^rediss?:\/\/[^/]/.test(u), 'must be redis://host:port or rediss://host:port (TLS), optionally with user:password@ and /db'),
        keyPrefix: z.string().min(1).default('onedav:'),
      })
      .strict()
      .optional(),
    gateway: gatewaySchema.optional(),
    /** How to treat macOS `._*` AppleDouble files and `.DS_Store`. */
    macMetadata: z.enum(['store', 'refuse']).default('store'),
    emulator: z
      .object({
        /** Start the built-in Graph emulator and serve its drive. */
        enabled: z.boolean().default(false),
        port: z.number().int().min(0).max(65535).default(0),
        dataDir: z.string().optional(),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
        /** `auto`: pretty on a terminal, JSON when standard error is a pipe or a file. */
        format: z.enum(['auto', 'pretty', 'json']).default('auto'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type AccountConfig = z.infer<typeof accountSchema>;
export type MountConfig = z.infer<typeof mountSchema>;
export type UserConfig = z.infer<typeof userSchema>;
export type GatewayConfig = z.infer<typeof gatewaySchema>;

/** Where the gateway's client secret comes from when the config file leaves it out. */
export const GATEWAY_SECRET_VARIABLE = 'ONEDAV_GATEWAY_CLIENT_SECRET';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates raw JSON into a Config, with secrets from the environment filled in. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(withoutComments(raw));
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const config = result.data;
  for (const [name, account] of Object.entries(config.accounts)) {
    // Public clients must not send a secret, so one in the environment is not theirs (canonical/authd#1881).
    if (clientTypeOf(account) !== 'confidential') continue;
    const fromEnv = env[secretVariableOf(name)] ?? env.ONEDAV_CLIENT_SECRET;
    if (!account.clientSecret && fromEnv) account.clientSecret = fromEnv;
  }
  if (config.gateway && !config.gateway.app.clientSecret && env[GATEWAY_SECRET_VARIABLE]) config.gateway.app.clientSecret = env[GATEWAY_SECRET_VARIABLE];
  const problems: string[] = [];
  config.mounts.forEach((mount, i) => {
    if (!config.accounts[mount.account] && !(config.emulator.enabled && mount.account === 'emulator')) {
      problems.push(`mounts.${i}.account: no account named "${mount.account}" (known: ${Object.keys(config.accounts).join(', ') || 'none'})`);
    }
  });
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** The environment variable that gives one account its secret. */
export function secretVariableOf(account: string): string {
  return `ONEDAV_CLIENT_SECRET_${account.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Keys starting with `//` are comments (JSON has none), as in config.example.json. */
function withoutComments(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutComments);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith('//'))
      .map(([key, inner]) => [key, withoutComments(inner)]),
  );
}

/** The config `npm start` uses with no file: the built-in emulator, served on loopback. */
export function defaultConfig(): Config {
  return parseConfig({
    emulator: { enabled: true },
    mounts: [{ path: '/', account: 'emulator' }],
    anonymous: { enabled: true, readOnly: false },
    dataDir: resolve('.onedav'),
  });
}

export async function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  if (!path) return defaultConfig();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${path}: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${path} is not valid JSON: ${(err as Error).message}`]);
  }
  return parseConfig(raw, env);
}
