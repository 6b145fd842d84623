// Builds the Node-API addon (native/sais.c: SA-IS suffix arrays in C). Never throws: on any problem
// it prints one line and exits 0 (or 1 with --strict), and the package uses its TypeScript SA-IS.
// OPENLEDGER_ATTRIBUTION_SKIP_NATIVE=1 skips the build (and, at run time, the addon).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../../../scripts/node-gyp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function done(ok, msg) {
  console.log(`[attribution] native suffix-array backend: ${msg}`);
  process.exit(ok || !strict ? 0 : 1);
}

if (process.env.OPENLEDGER_ATTRIBUTION_SKIP_NATIVE) {
  done(false, 'skipped (OPENLEDGER_ATTRIBUTION_SKIP_NATIVE set); using the TypeScript SA-IS');
}
const { ok, message } = buildAddon(root, 'attribution_native');
done(ok, ok ? message : `${message}; using the TypeScript SA-IS`);
