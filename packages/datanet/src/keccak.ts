// Keccak-256 for inputs that fit one sponge block (at most 135 bytes), which is all the Merkle tree
// needs (96-byte leaf encodings, 32-byte leaf words, 64-byte node pairs). One reused state buffer,
// no per-hash allocation, and the unrolled permutation from keccakf.ts (see there for why it is
// not @noble/hashes' own). Results are checked against @noble/hashes keccak_256 in the tests.
// Assumes a little-endian host (x86-64, arm64).
import { keccakF1600 } from './keccakf.ts';

const RATE = 136;
const state32 = new Int32Array(50);
const state8 = new Uint8Array(state32.buffer);

/** keccak256(input[inOff..inOff+len]) written to out[outOff..outOff+32]. len must be ≤ 135. */
export function keccakBlockInto(
  input: Uint8Array,
  inOff: number,
  len: number,
  out: Uint8Array,
  outOff: number,
): void {
  if (len >= RATE) throw new RangeError(`keccakBlockInto: input of ${len} bytes exceeds one block`);
  state32.fill(0);
  state8.set(input.subarray(inOff, inOff + len), 0);
  state8[len] ^= 0x01;
  state8[RATE - 1] ^= 0x80;
  keccakF1600(state32);
  out.set(state8.subarray(0, 32), outOff);
}

/** keccak256 of a short input (≤ 135 bytes) as a new 32-byte array. */
export function keccakShort(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  keccakBlockInto(input, 0, input.length, out, 0);
  return out;
}
