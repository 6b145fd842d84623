/**
 * Suffix array construction by SA-IS (Nong, Zhang & Chan 2009), linear time, over an integer
 * alphabet [0, K), K <= 2^32. The empty suffix is a virtual sentinel smaller than every symbol, so a
 * suffix that is a prefix of another sorts first.
 *
 * Two implementations of the same algorithm: a C one (native/sais.c, a Node-API addon built at
 * install; several times faster, see bench/attribution.ts) and this TypeScript one, which is the
 * fallback when the addon is missing and the independent reference the tests compare the C one
 * against. `buildSuffixArray` picks the addon when it loads (`suffixArrayBackend()` says which);
 * OPENLEDGER_ATTRIBUTION_SKIP_NATIVE=1 forces the TypeScript one.
 *
 * Why our own: no npm package builds suffix arrays over integer (token id) alphabets at this scale.
 * We searched the npm package index (names and descriptions) for suffix array / SA-IS / divsufsort:
 * `suffix-array` is an unrelated helper ("Rename duplicates in an array object"), `mnemonist`'s
 * SuffixArray sorts JavaScript strings by comparison sort (O(n log n) string compares, strings only),
 * and there is no maintained SA-IS port or Node-API binding of libdivsufsort (which in any case
 * sorts bytes, not 32-bit tokens). The algorithm is ~150 lines; it is checked against a naive sort
 * by property tests and benchmarked against libdivsufsort (bench/attribution.ts).
 *
 * Memory (TypeScript): a working copy of the text with the L/S type in bit 0 (Int32Array, 4n), the
 * result (4n) and count/bucket tables (largest symbol + 1); the reduced problem is at most half the
 * size. (C: the result and the bucket tables only; the text is read in place.)
 */
import { loadNativeSais, type NativeText, nativeSaisFailure } from './native-sais.ts';

export type SuffixArrayBackend = 'native' | 'js';

/** Largest alphabetSize accepted: symbols are 32-bit unsigned integers. */
const MAX_ALPHABET = 2 ** 32;

/** The implementation `buildSuffixArray` uses in this process. */
export function suffixArrayBackend(): SuffixArrayBackend {
  return loadNativeSais() ? 'native' : 'js';
}

function checkArgs(n: number, alphabetSize: number): void {
  if (!Number.isInteger(alphabetSize) || alphabetSize < 1 || alphabetSize > MAX_ALPHABET) {
    throw new RangeError(`alphabetSize must be an integer in [1, 2^32], got ${alphabetSize}`);
  }
  if (n > 0x7fffffff) throw new RangeError(`text length must be < 2^31 for an in-memory build, got ${n}`);
}

function badSymbol(i: number, c: number, alphabetSize: number): RangeError {
  return new RangeError(`text[${i}] = ${c} is outside the alphabet [0, ${alphabetSize})`);
}

/** Suffix array of `text` (symbols in [0, alphabetSize)): the C addon when it loads, else TypeScript. */
export function buildSuffixArray(text: ArrayLike<number>, alphabetSize: number): Int32Array {
  return loadNativeSais()
    ? buildSuffixArrayNative(text, alphabetSize)
    : buildSuffixArrayJs(text, alphabetSize);
}

/** The C implementation; throws when the addon is not available. Typed arrays are read in place. */
export function buildSuffixArrayNative(text: ArrayLike<number>, alphabetSize: number): Int32Array {
  const native = loadNativeSais();
  if (!native) throw new Error(`native suffix-array backend unavailable: ${nativeSaisFailure()}`);
  const n = text.length;
  checkArgs(n, alphabetSize);
  let symbols: NativeText;
  if (
    text instanceof Uint8Array ||
    text instanceof Uint16Array ||
    text instanceof Uint32Array ||
    text instanceof Int32Array
  ) {
    symbols = text;
  } else {
    // Other array-likes (plain arrays, Float64Array, ...) are checked here and copied.
    symbols = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const c = text[i];
      if (!(c >= 0 && c < alphabetSize) || c !== Math.floor(c)) throw badSymbol(i, c, alphabetSize);
      symbols[i] = c;
    }
  }
  const SA = new Int32Array(n);
  native.buildSuffixArray(symbols, alphabetSize, SA);
  return SA;
}

/** The TypeScript implementation (fallback and test reference). */
export function buildSuffixArrayJs(text: ArrayLike<number>, alphabetSize: number): Int32Array {
  const n = text.length;
  checkArgs(n, alphabetSize);
  const SA = new Int32Array(n);
  if (n === 0) return SA;
  // One monomorphic working array keeps V8's hot loops fast: TT[i] = symbol << 1 | type, so the
  // symbol and its L/S type come from a single (random) memory access in the induction passes.
  const TT = new Int32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    if (!(c >= 0 && c < alphabetSize) || c !== Math.floor(c)) throw badSymbol(i, c, alphabetSize);
    if (c > max) max = c;
    TT[i] = c << 1; // garbage when c >= 2^30; rankReduce below rewrites TT then
  }
  // Bucket tables are sized by the largest symbol; sparse or huge ids (beyond what the shifted
  // Int32 can hold, or far above n) are replaced by their rank among the distinct symbols first.
  let K = max + 1;
  if (max >= 0x3fffffff || K > Math.max(n, 65536)) K = rankReduce(text, TT);
  if (n === 1) SA[0] = 0;
  else saisCore(TT, SA, n, K);
  return SA;
}

/** Writes rank(text[i]) << 1 into TT (ranks among the distinct symbols); returns their count. */
function rankReduce(text: ArrayLike<number>, TT: Int32Array): number {
  const n = TT.length;
  const sorted = Float64Array.from({ length: n }, (_, i) => text[i]).sort();
  let m = 0;
  for (let i = 0; i < n; i++) if (m === 0 || sorted[m - 1] !== sorted[i]) sorted[m++] = sorted[i];
  if (m > 0x3fffffff) throw new RangeError(`the TypeScript SA-IS handles < 2^30 distinct symbols, got ${m}`);
  for (let i = 0; i < n; i++) {
    const c = text[i];
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < c) lo = mid + 1;
      else hi = mid;
    }
    TT[i] = lo << 1;
  }
  return m;
}

function bucketStarts(C: Int32Array, B: Int32Array, K: number): void {
  let sum = 0;
  for (let c = 0; c < K; c++) {
    B[c] = sum;
    sum += C[c];
  }
}

function bucketEnds(C: Int32Array, B: Int32Array, K: number): void {
  let sum = 0;
  for (let c = 0; c < K; c++) {
    sum += C[c];
    B[c] = sum;
  }
}

// In TT, bit 0 is the type: 1 = S-type (suffix i < suffix i+1), 0 = L-type; symbol = TT[i] >> 1.

function induceL(TT: Int32Array, SA: Int32Array, C: Int32Array, B: Int32Array, n: number, K: number) {
  bucketStarts(C, B, K);
  // The virtual sentinel (position n) induces suffix n-1, which is always L-type.
  SA[B[TT[n - 1] >> 1]++] = n - 1;
  for (let i = 0; i < n; i++) {
    const j = SA[i] - 1;
    if (j >= 0) {
      const v = TT[j];
      if ((v & 1) === 0) SA[B[v >> 1]++] = j;
    }
  }
}

function induceS(TT: Int32Array, SA: Int32Array, C: Int32Array, B: Int32Array, n: number, K: number) {
  bucketEnds(C, B, K);
  for (let i = n - 1; i >= 0; i--) {
    const j = SA[i] - 1;
    if (j >= 0) {
      const v = TT[j];
      if ((v & 1) === 1) SA[--B[v >> 1]] = j;
    }
  }
}

/** TT holds symbols shifted left by one with the type bit clear; fills the type bits, then sorts. */
function saisCore(TT: Int32Array, SA: Int32Array, n: number, K: number): void {
  // Types: suffix n-1 is L (the sentinel is smaller); scan right to left.
  for (let i = n - 2; i >= 0; i--) {
    const a = TT[i] >> 1;
    const b = TT[i + 1] >> 1;
    if (a < b || (a === b && (TT[i + 1] & 1) === 1)) TT[i] |= 1;
  }
  const C = new Int32Array(K);
  for (let i = 0; i < n; i++) C[TT[i] >> 1]++;
  const B = new Int32Array(K);

  // Stage 1: sort LMS substrings by induction from LMS positions placed at bucket ends.
  bucketEnds(C, B, K);
  SA.fill(-1);
  for (let i = n - 1; i >= 1; i--) if ((TT[i] & 1) === 1 && (TT[i - 1] & 1) === 0) SA[--B[TT[i] >> 1]] = i;
  induceL(TT, SA, C, B, n, K);
  induceS(TT, SA, C, B, n, K);

  // Compact the sorted LMS positions into SA[0, n1).
  let n1 = 0;
  for (let i = 0; i < n; i++) {
    const p = SA[i];
    if (p > 0 && (TT[p] & 1) === 1 && (TT[p - 1] & 1) === 0) SA[n1++] = p;
  }

  // Name LMS substrings (equal symbols and types up to the next LMS position); names at SA[n1 + pos/2].
  SA.fill(-1, n1, n);
  let name = 0;
  let prev = -1;
  for (let i = 0; i < n1; i++) {
    const pos = SA[i];
    let diff = prev < 0;
    if (!diff) {
      for (let d = 0; ; d++) {
        const a = pos + d;
        const b = prev + d;
        if (a === n || b === n || TT[a] !== TT[b]) {
          diff = true;
          break;
        }
        if (d > 0 && (TT[a] & 1) === 1 && (TT[a - 1] & 1) === 0) break; // both at their next LMS: equal
      }
    }
    if (diff) {
      name++;
      prev = pos;
    }
    SA[n1 + (pos >> 1)] = name - 1;
  }
  const s1 = new Int32Array(n1);
  for (let i = n - 1, j = n1 - 1; i >= n1; i--) if (SA[i] >= 0) s1[j--] = SA[i] << 1;

  // Stage 2: sort the reduced problem (recursively when names repeat).
  const SA1 = new Int32Array(n1);
  if (name < n1) saisCore(s1, SA1, n1, name);
  else for (let i = 0; i < n1; i++) SA1[s1[i] >> 1] = i;

  // Stage 3: map back to LMS positions (text order), place in sorted order at bucket ends, induce.
  for (let i = 1, j = 0; i < n; i++) if ((TT[i] & 1) === 1 && (TT[i - 1] & 1) === 0) s1[j++] = i;
  for (let i = 0; i < n1; i++) SA[i] = s1[SA1[i]];
  SA.fill(-1, n1, n);
  bucketEnds(C, B, K);
  for (let i = n1 - 1; i >= 0; i--) {
    const j = SA[i];
    SA[i] = -1;
    SA[--B[TT[j] >> 1]] = j;
  }
  induceL(TT, SA, C, B, n, K);
  induceS(TT, SA, C, B, n, K);
}

/** Reference O(n² log n) construction for tests: sorts suffix start positions by direct comparison. */
export function naiveSuffixArray(text: ArrayLike<number>): Int32Array {
  const n = text.length;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => {
    while (a < n && b < n) {
      if (text[a] !== text[b]) return text[a] - text[b];
      a++;
      b++;
    }
    return a === n ? -1 : 1;
  });
  return Int32Array.from(idx);
}
