// npm `install` script of @openledger/tensor: builds the native addon and the wasm module. Never fails
// the install: a backend that cannot build is reported in one line and the package falls back.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const script of ['build-native.mjs', 'build-wasm.mjs']) {
  spawnSync(process.execPath, [join(here, script)], { stdio: 'inherit' });
}
