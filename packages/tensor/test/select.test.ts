// Backend selection, the one log line, the fallback when a backend is missing, and the wasm build.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { availableBackends, getKernels } from '../src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function childBackend(env: Record<string, string>): { stdout: string; stderr: string } {
  const code = `import { getKernels } from './src/index.ts'; const a = getKernels(); const b = getKernels(); console.log(a.backend, b === a);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, OPENLEDGER_TENSOR_BACKEND: '', ...env },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

test('getKernels picks the best backend, honours prefer, and rejects unknown names', () => {
  const best = availableBackends()[0];
  assert.equal(getKernels().backend, best);
  assert.equal(getKernels('js').backend, 'js');
  assert.equal(getKernels('wasm').backend, 'wasm');
  assert.throws(() => getKernels('cuda' as never), /backend must be one of native, wasm, js, got cuda/);
});

test('exactly one log line naming the backend; disabled backends fall back', () => {
  const best = availableBackends()[0];
  const a = childBackend({});
  assert.equal(a.stdout, `${best} true`);
  assert.equal(a.stderr, `[tensor] backend: ${best}`);
  const b = childBackend({ OPENLEDGER_TENSOR_DISABLE: 'native' });
  assert.equal(b.stdout, 'wasm true');
  assert.equal(b.stderr, '[tensor] backend: wasm');
  const c = childBackend({ OPENLEDGER_TENSOR_DISABLE: 'native,wasm', OPENLEDGER_TENSOR_BACKEND: 'native' });
  assert.equal(c.stdout, 'js true');
  assert.match(
    c.stderr,
    /^\[tensor\] backend: js \(native unavailable: disabled by OPENLEDGER_TENSOR_DISABLE\)$/,
  );
});

test('the AssemblyScript source compiles to a SIMD module exporting the kernels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensor-wasm-'));
  try {
    const out = join(dir, 't.wasm');
    execFileSync(process.execPath, [
      join(root, 'scripts', 'build-wasm.mjs'),
      '--strict',
      '--quiet',
      '--out',
      out,
    ]);
    const WA = (
      globalThis as unknown as {
        WebAssembly: { Module: { new (b: Uint8Array): object; exports(m: object): { name: string }[] } };
      }
    ).WebAssembly;
    const mod = new WA.Module(readFileSync(out));
    const names = WA.Module.exports(mod).map((e) => e.name);
    for (const n of ['memory', 'sgemm', 'softmaxRows', 'rmsnorm', 'ropeAt', 'crossEntropy', 'adamw'])
      assert.ok(names.includes(n), n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
