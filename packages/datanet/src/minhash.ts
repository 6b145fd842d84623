// Near-duplicate detection: MinHash signatures over word 3-shingles, banded LSH to find candidates,
// and the fraction of equal signature slots as the Jaccard estimate. 64 hash functions in 16 bands
// of 4: a pair at Jaccard 0.8 becomes a candidate with probability ≈ 0.9998, at 0.5 with ≈ 0.64;
// candidates are then kept only if the estimate reaches the threshold (default 0.8).
import { KERNEL_MAX_SHINGLES, minhashKernel } from './minhashkernel.ts';

export const MINHASH_PERMUTATIONS = 64;
export const LSH_BANDS = 16;
export const LSH_ROWS = MINHASH_PERMUTATIONS / LSH_BANDS;
export const SHINGLE_WORDS = 3;

const SEEDS = (() => {
  const s = new Int32Array(MINHASH_PERMUTATIONS);
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < s.length; i++) {
    x = (x + 0x6d2b79f5) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    s[i] = z ^ (z >>> 14);
  }
  return s;
})();

const MULS = SEEDS.map((x) => fmixConst(x) | 1);

/** The permutations in WebAssembly SIMD (minhashkernel.ts); null without SIMD support. */
const kernel = minhashKernel(SEEDS, MULS);

function fmixConst(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return h ^ (h >>> 15);
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const WORD = /[\p{L}\p{N}]+/gu;

// Scratch for word and shingle hashes, reused across calls (ingest hashes ~100k rows a run). The
// shingle hashes go straight into the kernel's memory when they fit (no copy), else into `jsShingles`.
let words = new Int32Array(1024);
let jsShingles = new Int32Array(1024);
let shingles = kernel ? kernel.shingles : jsShingles;

function shinglesFor(m: number): Int32Array {
  if (kernel && m <= KERNEL_MAX_SHINGLES) return kernel.shingles;
  if (jsShingles.length < m) jsShingles = new Int32Array(Math.max(m, jsShingles.length * 2));
  return jsShingles;
}

function pushWord(n: number, h: number): number {
  if (n === words.length) {
    const bigger = new Int32Array(n * 2);
    bigger.set(words);
    words = bigger;
  }
  words[n] = h;
  return n + 1;
}

/** Per ASCII code: the lowercased character if it is a letter or digit ([A-Za-z0-9]), else 0. */
const ASCII_WORD = (() => {
  const t = new Uint8Array(128);
  for (let c = 48; c < 58; c++) t[c] = c;
  for (let c = 65; c < 91; c++) t[c] = c + 32;
  for (let c = 97; c < 123; c++) t[c] = c;
  return t;
})();

/**
 * FNV-1a hashes of the words of ASCII text into `words`, or -1 at the first non-ASCII character.
 * Same result as the general path below (lowercase, then runs of letters and digits, which in
 * ASCII are [a-z0-9]) without the lowercased copy and a match object per word.
 */
function asciiWordHashes(text: string): number {
  let n = 0;
  let h = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return -1;
    const f = ASCII_WORD[c];
    if (f !== 0) {
      if (!inWord) {
        h = 0x811c9dc5 | 0;
        inWord = true;
      }
      h = Math.imul(h ^ f, 0x01000193);
    } else if (inWord) {
      n = pushWord(n, h);
      inWord = false;
    }
  }
  return inWord ? pushWord(n, h) : n;
}

/** The same word hashes for any text, through Unicode lowercasing and a \p{L}\p{N} regex. */
function unicodeWordHashes(text: string): number {
  let n = 0;
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const w = m[0];
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 0x01000193);
    n = pushWord(n, h);
  }
  return n;
}

/** Shingle hashes of `text` into the `shingles` scratch; returns how many. */
function shinglesOf(text: string, unicodeOnly = false): number {
  let n = unicodeOnly ? -1 : asciiWordHashes(text);
  if (n < 0) n = unicodeWordHashes(text);
  if (n === 0) return 0;
  if (n < SHINGLE_WORDS) {
    let h = 0;
    for (let i = 0; i < n; i++) h = fmix(h ^ words[i]) + 0x632be5ab;
    shingles = shinglesFor(1);
    shingles[0] = h;
    return 1;
  }
  const m = n - SHINGLE_WORDS + 1;
  shingles = shinglesFor(m);
  for (let i = 0; i < m; i++) {
    shingles[i] = fmix(
      Math.imul(words[i], 0x2c1b3c6d) ^ fmix(words[i + 1] + Math.imul(words[i + 2], 0x297a2d39)),
    );
  }
  return m;
}

/**
 * 32-bit hashes of the word 3-shingles of `text` (lowercased, punctuation ignored).
 * `unicodeOnly` forces the general path (for tests comparing it with the ASCII one).
 */
export function shingleHashes(text: string, unicodeOnly = false): Int32Array {
  const n = shinglesOf(text, unicodeOnly);
  return shingles.slice(0, n);
}

/**
 * Writes the MinHash signature (64 × int32) of a text to sig[off..off+64]; false (nothing
 * written) when the text has no words. `scalar` forces the JavaScript loop (for tests comparing
 * it with the WebAssembly kernel, which computes the same).
 */
export function minhashInto(text: string, sig: Int32Array, off = 0, scalar = false): boolean {
  const n = shinglesOf(text);
  if (n === 0) return false;
  if (kernel && shingles === kernel.shingles && !scalar) {
    kernel.run(n);
    sig.set(kernel.out, off);
    return true;
  }
  permuteInto(shingles, n, sig, off);
  return true;
}

/** Whether minhashInto runs the WebAssembly SIMD kernel (for tests and benchmarks). */
export const MINHASH_KERNEL = kernel !== null;

/** The 64 permutations of sh[0..n) in JavaScript: the reference the kernel is tested against. */
function permuteInto(sh: Int32Array, n: number, sig: Int32Array, off: number): void {
  // Shingle hashes are already well mixed; each "permutation" is xor-seed, odd multiply,
  // xorshift, and the slot keeps the (signed) minimum. Four permutations per pass over the
  // shingles: each hash is loaded once for four, and the four minimum chains are independent.
  for (let p = 0; p < MINHASH_PERMUTATIONS; p += 4) {
    const s0 = SEEDS[p];
    const s1 = SEEDS[p + 1];
    const s2 = SEEDS[p + 2];
    const s3 = SEEDS[p + 3];
    const m0 = MULS[p];
    const m1 = MULS[p + 1];
    const m2 = MULS[p + 2];
    const m3 = MULS[p + 3];
    let min0 = 0x7fffffff;
    let min1 = 0x7fffffff;
    let min2 = 0x7fffffff;
    let min3 = 0x7fffffff;
    for (let i = 0; i < n; i++) {
      const x = sh[i];
      let h0 = Math.imul(x ^ s0, m0);
      let h1 = Math.imul(x ^ s1, m1);
      let h2 = Math.imul(x ^ s2, m2);
      let h3 = Math.imul(x ^ s3, m3);
      h0 ^= h0 >>> 15;
      h1 ^= h1 >>> 15;
      h2 ^= h2 >>> 15;
      h3 ^= h3 >>> 15;
      if (h0 < min0) min0 = h0;
      if (h1 < min1) min1 = h1;
      if (h2 < min2) min2 = h2;
      if (h3 < min3) min3 = h3;
    }
    sig[off + p] = min0;
    sig[off + p + 1] = min1;
    sig[off + p + 2] = min2;
    sig[off + p + 3] = min3;
  }
}

/** MinHash signature (64 × int32) of a text; null when it has no words. */
export function minhash(text: string): Int32Array | null {
  const sig = new Int32Array(MINHASH_PERMUTATIONS);
  return minhashInto(text, sig) ? sig : null;
}

/** Estimated Jaccard similarity: the fraction of equal slots. */
export function similarity(a: Int32Array, b: Int32Array, aOff = 0, bOff = 0): number {
  let eq = 0;
  for (let i = 0; i < MINHASH_PERMUTATIONS; i++) if (a[aOff + i] === b[bOff + i]) eq++;
  return eq / MINHASH_PERMUTATIONS;
}

/** `bandKeys` of sig[off..off+64] written to keys[keysOff..keysOff+16]. */
export function bandKeysInto(sig: Int32Array, off: number, keys: Float64Array | number[], keysOff = 0): void {
  for (let b = 0; b < LSH_BANDS; b++) {
    let h = b + 0x1b873593;
    for (let r = 0; r < LSH_ROWS; r++) h = fmix(h ^ sig[off + b * LSH_ROWS + r]) + 0x5bd1e995;
    keys[keysOff + b] = b * 4294967296 + (h >>> 0);
  }
}

/** One integer key per band (band index in the high bits, hash of the band's slots in the low 32). */
export function bandKeys(sig: Int32Array): number[] {
  const keys = new Array<number>(LSH_BANDS);
  bandKeysInto(sig, 0, keys);
  return keys;
}

export function signatureFromBytes(b: Uint8Array): Int32Array {
  const copy = new Uint8Array(b);
  return new Int32Array(copy.buffer, 0, copy.length / 4);
}
