// Compiles assembly/index.ts (AssemblyScript, SIMD) to wasm/tensor.wasm (or --out FILE). Never throws: on failure it
// prints one line and exits 0 (or 1 with --strict); src/wasm.ts also calls it lazily when the file is missing.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const quiet = process.argv.includes('--quiet');
const outAt = process.argv.indexOf('--out');
const outFile = outAt > 0 ? resolve(process.argv[outAt + 1]) : join(root, 'wasm', 'tensor.wasm');
try {
  const asc = await import('assemblyscript/asc');
  mkdirSync(dirname(outFile), { recursive: true });
  const out = [];
  const { error } = await asc.main(
    [
      join(root, 'assembly', 'index.ts'),
      '--outFile',
      outFile,
      '-O3',
      '--noAssert',
      '--runtime',
      'stub',
      '--enable',
      'simd',
      '--initialMemory',
      '16',
    ],
    { stdout: { write: (s) => out.push(String(s)) }, stderr: { write: (s) => out.push(String(s)) } },
  );
  if (error) throw new Error(`${error.message}\n${out.join('')}`);
  if (!quiet) console.log(`[tensor] wasm backend: built ${outFile}`);
} catch (e) {
  console.log(`[tensor] wasm backend: build failed (${String(e.message ?? e).split('\n')[0]})`);
  if (strict) {
    console.error(String(e.message ?? e));
    process.exit(1);
  }
}
