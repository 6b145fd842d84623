// keccak-f[1600] as a small WebAssembly module, emitted byte by byte here at load time. Why: the
// Merkle tree over a million rows needs ~3M keccak permutations. The JS libraries (@noble/hashes,
// js-sha3) reach 80k-220k hashes/s here, and a JS permutation over 32-bit halves spills its 50
// state words out of registers (~1.7-2.2 µs of CPU each); WebAssembly has native 64-bit
// xor/and/rotl, so the same permutation costs ~0.35 µs of CPU, called from JS. Node's crypto has
// SHA3 but not Keccak-256 (different padding), and a WASM hashing library would be called once per
// hash with a copy in and out, which this avoids for the double hash of a Merkle leaf. Emitting the
// bytes directly (wasm.ts) keeps the package free of a build step and a compiler dependency.
//
// Rotation offsets and round constants are derived from their definitions in the Keccak reference
// (FIPS 202 §3.2.2 and §3.2.5), not typed in; the hashes are checked against @noble/hashes in tests.
//
// Memory layout (one 64 KiB page): STATE (25 little-endian u64 lanes) at 0, BLOCK (the padded
// 136-byte rate block of the message) at 256, ROUND constants at 512.
// Exports: `permute()` — keccak-f on STATE; `absorb()` — STATE = BLOCK ‖ zeros, then permute
// (keccak256 of a single-block message, digest in STATE[0..32]); `absorbTwice()` — absorb, then
// keccak256 of that 32-byte digest (the Merkle leaf's double hash).

import { I32, I64, instantiate, name, op, section, uleb, vec } from './wasm.ts';

export const STATE = 0;
export const BLOCK = 256;
const ROUND = 512;
export const RATE = 136;

/** Rotation offset of lane x + 5y (FIPS 202 Algorithm 2, ρ). */
function rotationOffsets(): number[] {
  const r = new Array<number>(25).fill(0);
  let x = 1;
  let y = 0;
  for (let t = 0; t < 24; t++) {
    r[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64;
    [x, y] = [y, (2 * x + 3 * y) % 5];
  }
  return r;
}

/** Round constants as (low, high) 32-bit halves (FIPS 202 Algorithms 5 and 6, ι). */
export function roundConstants(): Uint32Array {
  const out = new Uint32Array(48);
  let lfsr = 1;
  const rcBit = () => {
    const bit = lfsr & 1;
    lfsr <<= 1;
    if (lfsr & 0x100) lfsr ^= 0x171;
    return bit;
  };
  for (let round = 0; round < 24; round++) {
    for (let j = 0; j < 7; j++) {
      // rc(j + 7·round) lands on bit 2^j − 1 of the lane
      if (rcBit()) {
        const pos = (1 << j) - 1;
        if (pos < 32) out[2 * round] |= 1 << pos;
        else out[2 * round + 1] |= 1 << (pos - 32);
      }
    }
  }
  return out;
}

/** keccak-f[1600] on the 25 lanes at STATE: lanes in locals, the 24 rounds as a loop. */
function permuteBody(): number[] {
  const A = (i: number) => i; // locals 0..24: state
  const C = (x: number) => 25 + x; // 25..29: column parities
  const D = (x: number) => 30 + x; // 30..34: θ effect
  const B = (i: number) => 35 + i; // 35..59: lanes after ρ and π
  const R = 60; // round counter (i32)
  const rot = rotationOffsets();
  const code: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const p of parts) code.push(...p);
  };
  for (let i = 0; i < 25; i++) emit(op.i32(0), op.load64(STATE + 8 * i), op.set(A(i)));
  emit(op.loop);
  // θ
  for (let x = 0; x < 5; x++) {
    emit(op.get(A(x)));
    for (let y = 1; y < 5; y++) emit(op.get(A(x + 5 * y)), op.xor);
    emit(op.set(C(x)));
  }
  for (let x = 0; x < 5; x++) {
    emit(op.get(C((x + 4) % 5)), op.get(C((x + 1) % 5)), op.i64(1n), op.rotl, op.xor, op.set(D(x)));
  }
  for (let i = 0; i < 25; i++) emit(op.get(A(i)), op.get(D(i % 5)), op.xor, op.set(A(i)));
  // ρ and π: B[y, 2x+3y] = rotl(A[x, y], r[x, y])
  for (let x = 0; x < 5; x++) {
    for (let y = 0; y < 5; y++) {
      const to = B(y + 5 * ((2 * x + 3 * y) % 5));
      const r = rot[x + 5 * y];
      if (r === 0) emit(op.get(A(x + 5 * y)), op.set(to));
      else emit(op.get(A(x + 5 * y)), op.i64(BigInt(r)), op.rotl, op.set(to));
    }
  }
  // χ: A[x, y] = B[x, y] ^ (~B[x+1, y] & B[x+2, y])
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      emit(
        op.get(B(((x + 1) % 5) + 5 * y)),
        op.i64(-1n),
        op.xor,
        op.get(B(((x + 2) % 5) + 5 * y)),
        op.and,
        op.get(B(x + 5 * y)),
        op.xor,
        op.set(A(x + 5 * y)),
      );
    }
  }
  // ι
  emit(op.get(A(0)), op.get(R), op.i32(3), op.i32shl, op.load64(ROUND), op.xor, op.set(A(0)));
  emit(op.get(R), op.i32(1), op.i32add, op.tee(R), op.i32(24), op.i32ne, op.brIf(0), op.end);
  for (let i = 0; i < 25; i++) emit(op.i32(0), op.get(A(i)), op.store64(STATE + 8 * i));
  emit(op.end);
  return [...vec([uleb(60).concat(I64), uleb(1).concat(I32)]), ...code];
}

/** STATE = BLOCK ‖ 0…, then permute. */
function absorbBody(): number[] {
  const code: number[] = [];
  for (let i = 0; i < 25; i++) {
    code.push(...op.i32(0));
    if (i < RATE / 8) code.push(...op.i32(0), ...op.load64(BLOCK + 8 * i));
    else code.push(...op.i64(0n));
    code.push(...op.store64(STATE + 8 * i));
  }
  code.push(...op.call(0), ...op.end);
  return [...vec([]), ...code];
}

/** absorb, then keccak256 of the 32-byte digest now in lanes 0..3: pad 0x01 at byte 32, 0x80 at 135. */
function absorbTwiceBody(): number[] {
  const code: number[] = [...op.call(1)];
  for (let i = 4; i < 25; i++) {
    const v = i === 4 ? 1n : i === RATE / 8 - 1 ? 0x80n << 56n : 0n;
    code.push(...op.i32(0), ...op.i64(v), ...op.store64(STATE + 8 * i));
  }
  code.push(...op.call(0), ...op.end);
  return [...vec([]), ...code];
}

/** The module's bytes. */
export function keccakModuleBytes(): Uint8Array {
  const body = (b: number[]) => [...uleb(b.length), ...b];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, 0x00, 0x00]])), // one type: [] -> []
    ...section(3, vec([uleb(0), uleb(0), uleb(0)])), // three functions of that type
    ...section(5, vec([[0x00, 0x01]])), // one memory, one page
    ...section(
      7,
      vec([
        [...name('memory'), 0x02, 0],
        [...name('permute'), 0x00, 0],
        [...name('absorb'), 0x00, 1],
        [...name('absorbTwice'), 0x00, 2],
      ]),
    ),
    ...section(10, vec([body(permuteBody()), body(absorbBody()), body(absorbTwiceBody())])),
  ];
  return Uint8Array.from(bytes);
}

export interface KeccakKernel {
  /** The module's memory: STATE at 0, BLOCK at 256. */
  mem: Uint8Array;
  permute(): void;
  absorb(): void;
  absorbTwice(): void;
}

/** Instantiates the module (synchronously: it is a few KB) with its round constants in place. */
export function keccakKernel(): KeccakKernel {
  const ex = instantiate(keccakModuleBytes()) as {
    memory: { buffer: ArrayBuffer };
    permute(): void;
    absorb(): void;
    absorbTwice(): void;
  };
  new Uint32Array(ex.memory.buffer, ROUND, 48).set(roundConstants());
  return {
    mem: new Uint8Array(ex.memory.buffer),
    permute: ex.permute,
    absorb: ex.absorb,
    absorbTwice: ex.absorbTwice,
  };
}
