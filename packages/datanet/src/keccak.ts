// Keccak-256 for inputs that fit one sponge block (at most 135 bytes), which is all the Merkle tree
// needs (96-byte leaf encodings, 32-byte leaf words, 64-byte node pairs), over the WebAssembly
// permutation in keccakf.ts (see there for why it is not @noble/hashes' own). The message is
// written straight into the module's block buffer, whose padding is rewritten only when the
// message length changes (a tree hashes millions of 64-byte pairs in a row); no per-hash
// allocation. Results are checked against @noble/hashes keccak_256 in the tests.
import { BLOCK, keccakKernel, RATE, STATE } from './keccakf.ts';

const k = keccakKernel();
const mem = k.mem;
const mem32 = new Uint32Array(mem.buffer, 0, mem.length >>> 2);
let paddedFor = -1;

/** Runs keccak256 over the block buffer; the digest is then in words 0..7 of `blockWordsFor`'s view. */
export const absorb: () => void = k.absorb;

/**
 * The module's block buffer, padded for a message of `len` bytes (≤ 135): the caller writes the
 * message into bytes BLOCK..BLOCK+len of the returned memory, then calls `digest*`.
 * Bytes of the message area the caller does not write stay zero until the length changes.
 */
export function blockFor(len: number): Uint8Array {
  if (len >= RATE) throw new RangeError(`keccak: input of ${len} bytes exceeds one block`);
  if (len !== paddedFor) {
    mem.fill(0, BLOCK, BLOCK + RATE);
    mem[BLOCK + len] = 0x01;
    mem[BLOCK + RATE - 1] |= 0x80;
    paddedFor = len;
  }
  return mem;
}

/**
 * `blockFor(len)` as 32-bit little-endian words: the message starts at word BLOCK / 4, the digest
 * (after `absorb`) is words 0..7. For callers that move whole words (the tree's 64-byte pairs).
 */
export function blockWordsFor(len: number): Uint32Array {
  blockFor(len);
  return mem32;
}

/** Writes the digest of the message in the block buffer to out[off..off+32]. */
export function digestInto(out: Uint8Array, off: number): void {
  k.absorb();
  for (let i = 0; i < 32; i++) out[off + i] = mem[STATE + i];
}

/** Writes keccak256(keccak256(message)) to out[off..off+32] (the Merkle leaf's double hash). */
export function digestTwiceInto(out: Uint8Array, off: number): void {
  k.absorbTwice();
  for (let i = 0; i < 32; i++) out[off + i] = mem[STATE + i];
}

/** keccak256(input[inOff..inOff+len]) written to out[outOff..outOff+32]. len must be ≤ 135. */
export function keccakBlockInto(
  input: Uint8Array,
  inOff: number,
  len: number,
  out: Uint8Array,
  outOff: number,
): void {
  if (len >= RATE) throw new RangeError(`keccakBlockInto: input of ${len} bytes exceeds one block`);
  const m = blockFor(len);
  for (let i = 0; i < len; i++) m[BLOCK + i] = input[inOff + i];
  digestInto(out, outOff);
}

/** keccak256 of a short input (≤ 135 bytes) as a new 32-byte array. */
export function keccakShort(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  keccakBlockInto(input, 0, input.length, out, 0);
  return out;
}

export { BLOCK };
