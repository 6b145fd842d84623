// Builds the Node-API addon (native/tensor.c over OpenBLAS) with node-gyp. Never throws: on any
// problem it prints one line and exits 0 (or 1 with --strict), and the package falls back to wasm/js.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((p) => p && existsSync(p));
}

if (process.env.OPENLEDGER_TENSOR_SKIP_NATIVE) done(false, 'skipped (OPENLEDGER_TENSOR_SKIP_NATIVE set)');
if (!hasOpenBlas())
  done(false, 'libopenblas-dev not found (apt-get install libopenblas-dev); using the wasm/js fallback');
const gyp = findNodeGyp();
if (!gyp) done(false, 'node-gyp not found; using the wasm/js fallback');

const args = [gyp, 'rebuild'];
// Use the headers installed next to this node (no download) unless a nodedir is configured.
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
if (r.status === 0 && existsSync(join(root, 'build', 'Release', 'tensor_native.node'))) {
  done(true, 'built build/Release/tensor_native.node');
}
const log = join(tmpdir(), 'openledger-tensor-native-build.log');
writeFileSync(log, `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ?? ''}`);
done(false, `build failed (log: ${log}); using the wasm/js fallback`);
