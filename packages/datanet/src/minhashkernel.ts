// The MinHash permutations (minhash.ts) as a small WebAssembly SIMD module, emitted byte by byte at
// load time like keccakf.ts (wasm.ts is the encoder). Why: ingest computes 64 permutations of
// every word 3-shingle (~90 shingles a row, ~125k rows per 100 MB), which in JavaScript is one
// scalar multiply, shift, xor and compare at a time and was the largest single cost of a
// submission's checks. The permutation — h = (x ^ seed) · mul (32-bit), h ^= h >>> 15, keep the
// signed minimum — maps one to one onto i32x4 xor / mul / shr_u / min_s, so here each shingle is
// splatted once and 16 permutations run as four 4-lane vectors whose seeds, multipliers and minima
// stay in registers; four passes over the shingles cover all 64. The results are bit for bit the
// JavaScript loop's (the same arithmetic; tested against it), so stored signatures stay comparable.
// No library serves: the MinHash packages on npm hash strings with their own permutations (their
// signatures would not match the stored ones) and run in scalar JavaScript.
//
// Memory layout (MEMORY_PAGES × 64 KiB): SEEDS (64 × i32) at 0, MULS (64 × i32) at 256, the
// signature OUT (64 × i32) at 512, the shingle hashes (i32) from SHINGLES on.
// Export: `minhash(n)` — OUT = the minima over the n ≥ 1 shingle hashes at SHINGLES.

import { I32, instantiate, name, op, section, uleb, V128, v128, validates, vec } from './wasm.ts';

const SEEDS = 0;
const MULS = 256;
const OUT = 512;
const SHINGLES = 1024;
const MEMORY_PAGES = 5;
/** How many shingle hashes fit the module's memory (longer texts take the JavaScript loop). */
export const KERNEL_MAX_SHINGLES = (MEMORY_PAGES * 65536 - SHINGLES) / 4;

/** Permutations per pass: four vectors of four lanes. */
const GROUP = 16;

function minhashBody(permutations: number): number[] {
  const N = 0; // param: number of shingles
  const I = 1; // i32: address of the current shingle
  const END = 2; // i32: SHINGLES + 4n
  const X = 3; // v128: the shingle, splatted
  const H = 4; // v128: scratch
  const S = (j: number) => 5 + j; // v128 × 4: seeds of the group
  const M = (j: number) => 9 + j; // v128 × 4: multipliers
  const MIN = (j: number) => 13 + j; // v128 × 4: minima
  const code: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const p of parts) code.push(...p);
  };
  emit(op.get(N), op.i32(4), op.i32mul, op.i32(SHINGLES), op.i32add, op.set(END));
  for (let g = 0; g < permutations; g += GROUP) {
    for (let j = 0; j < 4; j++) {
      emit(op.i32(0), v128.load(SEEDS + 4 * g + 16 * j), op.set(S(j)));
      emit(op.i32(0), v128.load(MULS + 4 * g + 16 * j), op.set(M(j)));
      emit(op.i32(0x7fffffff), v128.splatI32, op.set(MIN(j)));
    }
    emit(op.i32(SHINGLES), op.set(I), op.loop);
    emit(op.get(I), v128.load32Splat(0), op.set(X));
    for (let j = 0; j < 4; j++) {
      emit(
        op.get(X),
        op.get(S(j)),
        v128.xor,
        op.get(M(j)),
        v128.i32x4Mul,
        op.tee(H),
        op.get(H),
        op.i32(15),
        v128.i32x4ShrU,
        v128.xor,
        op.get(MIN(j)),
        v128.i32x4MinS,
        op.set(MIN(j)),
      );
    }
    emit(op.get(I), op.i32(4), op.i32add, op.tee(I), op.get(END), op.i32ltu, op.brIf(0), op.end);
    for (let j = 0; j < 4; j++) emit(op.i32(0), op.get(MIN(j)), v128.store(OUT + 4 * g + 16 * j));
  }
  emit(op.end);
  return [...vec([uleb(2).concat(I32), uleb(14).concat(V128)]), ...code];
}

/** The module's bytes, for `permutations` (a multiple of 16, at most 64) permutations. */
export function minhashModuleBytes(permutations: number): Uint8Array {
  if (permutations % GROUP !== 0 || permutations > 64)
    throw new RangeError('minhash kernel: 16, 32, 48 or 64');
  const body = (b: number[]) => [...uleb(b.length), ...b];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, 0x01, I32, 0x00]])), // one type: [i32] -> []
    ...section(3, vec([uleb(0)])),
    ...section(5, vec([[0x00, ...uleb(MEMORY_PAGES)]])),
    ...section(
      7,
      vec([
        [...name('memory'), 0x02, 0],
        [...name('minhash'), 0x00, 0],
      ]),
    ),
    ...section(10, vec([body(minhashBody(permutations))])),
  ];
  return Uint8Array.from(bytes);
}

export interface MinhashKernel {
  /** Where the caller writes the shingle hashes (KERNEL_MAX_SHINGLES of them at most). */
  shingles: Int32Array;
  /** The signature after `run`. */
  out: Int32Array;
  /** out[p] = min over shingles[0..n) of the permutation p (n ≥ 1). */
  run(n: number): void;
}

/**
 * Instantiates the module with the permutations' seeds and multipliers in place; null where the
 * engine has no WebAssembly SIMD (the JavaScript loop then runs, with the same results).
 */
export function minhashKernel(seeds: Int32Array, muls: Int32Array): MinhashKernel | null {
  const bytes = minhashModuleBytes(seeds.length);
  if (!validates(bytes)) return null;
  const ex = instantiate(bytes) as { memory: { buffer: ArrayBuffer }; minhash(n: number): void };
  const buf = ex.memory.buffer;
  new Int32Array(buf, SEEDS, seeds.length).set(seeds);
  new Int32Array(buf, MULS, muls.length).set(muls);
  return {
    shingles: new Int32Array(buf, SHINGLES, KERNEL_MAX_SHINGLES),
    out: new Int32Array(buf, OUT, seeds.length),
    run: ex.minhash,
  };
}
