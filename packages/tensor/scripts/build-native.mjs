// Builds the Node-API addon (native/tensor.c over OpenBLAS) with node-gyp. Never throws: on any
// problem it prints one line and exits 0 (or 1 with --strict), and the package falls back to wasm/js.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../../../scripts/node-gyp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function done(ok, msg) {
  console.log(`[tensor] native backend: ${msg}`);
  process.exit(ok || !strict ? 0 : 1);
}

function hasOpenBlas() {
  const libDirs = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  const incDirs = [
    '/usr/include/x86_64-linux-gnu',
    '/usr/include/aarch64-linux-gnu',
    '/usr/include',
    '/usr/local/include',
  ];
  return (
    libDirs.some((d) => existsSync(join(d, 'libopenblas.so'))) &&
    incDirs.some((d) => existsSync(join(d, 'cblas.h')))
  );
}

if (process.env.OPENLEDGER_TENSOR_SKIP_NATIVE) done(false, 'skipped (OPENLEDGER_TENSOR_SKIP_NATIVE set)');
if (!hasOpenBlas())
  done(false, 'libopenblas-dev not found (apt-get install libopenblas-dev); using the wasm/js fallback');
const { ok, message } = buildAddon(root, 'tensor_native');
done(ok, ok ? message : `${message}; using the wasm/js fallback`);
