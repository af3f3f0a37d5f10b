#!/usr/bin/env node
// Runs the compiled CLI with node alone. dist/ is built by `npm run build` (`npm pack` builds it
// first); from a checkout, `npm start` and `npm run onedav` run the TypeScript source through tsx.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  const { runAsProcess } = await import(compiled.href);
  runAsProcess();
} else {
  process.stderr.write('onedav: the compiled program (dist/) is missing: run "npm run build" in this checkout, or "npm run onedav -- <command>" to run the source.\n');
  process.exitCode = 1;
}
