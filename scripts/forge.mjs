#!/usr/bin/env node
// Runs Foundry's `forge <args>` (from npm) inside contracts/, offline, with the solc-js shim.
// `node scripts/forge.mjs test` is what `npm run test:contracts` runs; it always ends with the
// line "N tests passed, N failed, N skipped (N total tests)" that scripts/test.mjs parses.
// Usage: node scripts/forge.mjs <forge args...>     e.g. node scripts/forge.mjs build --sizes
import { spawn } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const contracts = join(root, 'contracts');
const require = createRequire(join(root, 'package.json'));

function forgeBinary() {
  // Prefer the platform binary directly (skips the npm wrapper's extra node process).
  const pkg = `@foundry-rs/forge-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  try {
    const bin = join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'forge');
    if (existsSync(bin)) return bin;
  } catch {}
  const wrapper = join(root, 'node_modules', '.bin', 'forge');
  if (existsSync(wrapper)) return wrapper;
  throw new Error('forge not found: run `npm install` (needs @foundry-rs/forge)');
}

const shim = join(contracts, 'bin', 'solc');
try {
  chmodSync(shim, 0o755); // git checkouts on some systems drop the executable bit
} catch {}

const args = process.argv.slice(2);
const env = {
  ...process.env,
  FOUNDRY_OFFLINE: 'true',
  FOUNDRY_SOLC: shim,
  // Same mapping as foundry.toml's, but absolute: with the relative "../node_modules" form forge
  // names OpenZeppelin files two ways (relative and absolute) and compiles them twice.
  FOUNDRY_REMAPPINGS: `@openzeppelin/contracts/=${join(root, 'node_modules', '@openzeppelin', 'contracts')}/`,
  FOUNDRY_DISABLE_NIGHTLY_WARNING: '1',
  NO_COLOR: process.env.NO_COLOR ?? '1',
};
// Put this node first on PATH so the shim's `#!/usr/bin/env node` finds the same runtime.
env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ''}`;

const child = spawn(forgeBinary(), args, { cwd: contracts, env, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
