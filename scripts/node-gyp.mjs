// Builds a workspace package's Node-API addon with the node-gyp that ships inside npm, against the
// headers of the running node (no download). Shared by the packages with native code
// (@openledger/tensor, @openledger/attribution); each keeps a fallback for when this fails.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

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

/**
 * Runs `node-gyp rebuild` in `root` and reports whether `build/Release/<target>.node` came out.
 * Never throws. A stale addon from an earlier build is removed first: it must not survive a failed
 * rebuild (it could be for another node).
 * @returns {{ ok: boolean, message: string }}
 */
export function buildAddon(root, target) {
  const addon = join(root, 'build', 'Release', `${target}.node`);
  try {
    const gyp = findNodeGyp();
    if (!gyp) return { ok: false, message: 'node-gyp not found' };
    rmSync(addon, { force: true });
    const args = [gyp, 'rebuild'];
    const prefix = resolve(dirname(process.execPath), '..');
    if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
      args.push(`--nodedir=${prefix}`);
    }
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status === 0 && existsSync(addon))
      return { ok: true, message: `built build/Release/${target}.node` };
    const log = join(tmpdir(), `openledger-${target}-build.log`);
    writeFileSync(log, `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ?? ''}`);
    return { ok: false, message: `build failed (log: ${log})` };
  } catch (e) {
    return { ok: false, message: `build failed (${e instanceof Error ? e.message : e})` };
  }
}
