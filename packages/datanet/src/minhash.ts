// Near-duplicate detection: MinHash signatures over word 3-shingles, banded LSH to find candidates,
// and the fraction of equal signature slots as the Jaccard estimate. 64 hash functions in 16 bands
// of 4: a pair at Jaccard 0.8 becomes a candidate with probability ≈ 0.9998, at 0.5 with ≈ 0.64;
// candidates are then kept only if the estimate reaches the threshold (default 0.8).

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

/** 32-bit hashes of the word 3-shingles of `text` (lowercased, punctuation ignored). */
export function shingleHashes(text: string): Int32Array {
  const words: number[] = [];
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const w = m[0];
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 0x01000193);
    words.push(h);
  }
  if (words.length === 0) return new Int32Array(0);
  if (words.length < SHINGLE_WORDS) {
    let h = 0;
    for (const w of words) h = fmix(h ^ w) + 0x632be5ab;
    return Int32Array.of(h);
  }
  const out = new Int32Array(words.length - SHINGLE_WORDS + 1);
  for (let i = 0; i < out.length; i++) {
    out[i] = fmix(Math.imul(words[i], 0x2c1b3c6d) ^ fmix(words[i + 1] + Math.imul(words[i + 2], 0x297a2d39)));
  }
  return out;
}

/** MinHash signature (64 × int32) of a text; null when it has no words. */
export function minhash(text: string): Int32Array | null {
  const sh = shingleHashes(text);
  if (sh.length === 0) return null;
  const sig = new Int32Array(MINHASH_PERMUTATIONS).fill(0x7fffffff);
  for (let p = 0; p < MINHASH_PERMUTATIONS; p++) {
    // shingle hashes are already well mixed; each "permutation" is xor-seed, odd multiply, xorshift
    const seed = SEEDS[p];
    const mul = MULS[p];
    let min = 0x7fffffff;
    for (let i = 0; i < sh.length; i++) {
      let h = Math.imul(sh[i] ^ seed, mul);
      h ^= h >>> 15;
      if (h < min) min = h;
    }
    sig[p] = min;
  }
  return sig;
}

/** Estimated Jaccard similarity: the fraction of equal slots. */
export function similarity(a: Int32Array, b: Int32Array): number {
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

/** One integer key per band (band index in the high bits, hash of the band's slots in the low 32). */
export function bandKeys(sig: Int32Array): number[] {
  const keys = new Array<number>(LSH_BANDS);
  for (let b = 0; b < LSH_BANDS; b++) {
    let h = b + 0x1b873593;
    for (let r = 0; r < LSH_ROWS; r++) h = fmix(h ^ sig[b * LSH_ROWS + r]) + 0x5bd1e995;
    keys[b] = b * 4294967296 + (h >>> 0);
  }
  return keys;
}

export function signatureToBytes(sig: Int32Array): Uint8Array {
  return new Uint8Array(sig.buffer.slice(sig.byteOffset, sig.byteOffset + sig.byteLength));
}

export function signatureFromBytes(b: Uint8Array): Int32Array {
  const copy = new Uint8Array(b);
  return new Int32Array(copy.buffer, 0, copy.length / 4);
}
