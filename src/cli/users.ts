import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { Audit } from '../gateway/audit.js';
import { openGatewayKv } from '../gateway/gateway.js';
import { accountOf, People, type Person } from '../gateway/people.js';
import { createLogger, type Logger } from '../util/logger.js';
import { openSignInStore } from './sign-in-store.js';
import { processIo, reportFailure, type CliIo } from './login.js';
import { EXIT, type Command } from './command.js';

const USAGE = `Usage: onedav users list --config FILE [--json]
       onedav users revoke UPN --config FILE

Gateway mode (docs/gateway.md): the people who signed in on the site.
  list     who is signed in, their app passwords and when they last used WebDAV
  revoke   removes a person's Microsoft tokens and app passwords and ends their site sessions;
           their WebDAV clients are refused from the next request (also on a running server).`;

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

function describe(p: Person): Record<string, unknown> {
  return {
    upn: p.upn,
    name: p.name,
    oid: p.oid,
    tenantId: p.tid,
    signedInAt: new Date(p.signedInAt).toISOString(),
    lastSeenAt: p.lastSeenAt === undefined ? null : new Date(p.lastSeenAt).toISOString(),
    signInRequired: p.signInRequired ?? null,
    appPasswords: p.appPasswords.map((a) => ({ name: a.name, createdAt: new Date(a.createdAt).toISOString(), lastUsedAt: a.lastUsedAt === undefined ? null : new Date(a.lastUsedAt).toISOString() })),
  };
}

export async function runUsers(argv: string[], io: CliIo = processIo, logger?: Logger): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
    const [action, upn] = positionals;
    if ((action !== 'list' && action !== 'revoke') || (action === 'revoke' && !upn) || !values.config) {
      io.err(`${USAGE}\n`);
      return EXIT.usage;
    }
    const config = await loadConfig(values.config, io.env);
    if (!config.gateway) {
      io.err(`onedav: ${values.config} has no "gateway" section: people sign in only in gateway mode (docs/gateway.md)\n`);
      return EXIT.config;
    }
    const signIns = await openSignInStore(config, { env: io.env });
    try {
      const people = new People(openGatewayKv(config.dataDir, signIns.redis));
      if (action === 'list') {
        const all = await people.list();
        if (values.json) {
          io.out(`${JSON.stringify(all.map(describe), null, 2)}\n`);
          return EXIT.ok;
        }
        if (all.length === 0) {
          io.out('Nobody has signed in yet.\n');
          return EXIT.ok;
        }
        const rows = all.map((p) => [p.upn, iso(p.signedInAt), iso(p.lastSeenAt), String(p.appPasswords.length), p.signInRequired ? 'must sign in again' : 'ok']);
        const head = ['USER', 'SIGNED IN (UTC)', 'LAST USE (UTC)', 'APP PASSWORDS', 'STATE'];
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
        for (const row of [head, ...rows]) io.out(`${row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
        return EXIT.ok;
      }
      const person = await people.byUpn(upn);
      if (!person) {
        io.err(`onedav: nobody signed in as ${upn}\n`);
        return EXIT.failure;
      }
      await people.endSessionsOf(person);
      await people.update(person.oid, () => undefined);
      await signIns.store.remove(accountOf(person.oid));
      const audit = new Audit(logger ?? createLogger({ level: config.log.level, format: config.log.format }));
      audit.event('revoked by admin', person, { appPasswords: person.appPasswords.length });
      io.out(`Revoked ${person.upn}: ${person.appPasswords.length} app password(s), ${person.sessions.length} site session(s) and the Microsoft sign-in are gone.\n`);
      return EXIT.ok;
    } finally {
      await signIns.close();
    }
  } catch (err) {
    return reportFailure(io, err);
  }
}

export const usersCommand: Command = {
  summary: 'gateway mode: list the people who signed in, or revoke one',
  usage: USAGE,
  run: (argv) => runUsers(argv),
};
