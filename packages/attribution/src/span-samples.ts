/**
 * The sampled suffix table of a span index: for every k-th suffix-array row (k a power of two), the
 * first h symbols of its suffix, and for every block of k rows the largest longest-common-prefix
 * between adjacent suffixes in it. The first symbol is not stored: searches run inside one first
 * symbol's bucket (the bucket table gives it), so h − 1 symbols per sample are kept. It is small (h symbols per k rows, plus a byte per block) and
 * stays in memory, so a search first narrows to one block of k rows without touching the disk, and
 * only then reads the block's suffix-array page and a few token pages (see span-index.ts).
 *
 * The per-block LCP bound answers "is this occurrence the only one?" from memory: suffixes that
 * share m symbols are adjacent in the suffix array, so if every adjacent pair in a block shares
 * fewer than m symbols, a block holds at most one suffix starting with a given m-gram.
 *
 * Why our own: this is a table of our own index format (span-index.ts). The suffix-array query
 * libraries we know of (infini-gram's engine, sdsl-lite) are C++/Python and either memory-map the
 * whole array or compress it into a different index (FM-index), not a lazily paged file.
 */

/** Largest LCP value stored per block; longer common prefixes are stored as this. */
export const BLOCK_LCP_CAP = 255;

export interface SuffixSamples {
  /**
   * Symbols 1 … depth − 1 of each sampled suffix: prefixes[j·(depth − 1) + t − 1] =
   * text[SA[j·every] + t], zero from the suffix's first separator on.
   */
  prefixes: Uint32Array;
  /**
   * blockLcp[j] ≥ LCP(SA[x], SA[x+1]) for every row x in [j·every, (j+1)·every), counting only
   * symbols before a separator (queries never contain separators), capped at BLOCK_LCP_CAP.
   */
  blockLcp: Uint8Array;
}

/**
 * Builds the sampled table from the text and its suffix array. The adjacent LCPs come from the
 * permuted LCP array (Kärkkäinen, Manzini & Puglisi 2009): linear time with one extra n-entry
 * Int32Array (4n bytes while building), whatever the repetitiveness of the corpus (comparing
 * neighbours directly would cost the sum of all LCPs, which duplicated documents make quadratic).
 */
export function sampleSuffixes(
  text: Int32Array,
  sa: Int32Array,
  every: number,
  depth: number,
): SuffixSamples {
  const n = text.length;
  const count = Math.ceil(n / every);
  const stored = depth - 1;
  const prefixes = new Uint32Array(count * stored);
  for (let j = 0; j < count; j++) {
    const p = sa[j * every];
    if (text[p] === 0) continue;
    for (let t = 1; t < depth && p + t < n; t++) {
      const c = text[p + t];
      if (c === 0) break;
      prefixes[j * stored + t - 1] = c;
    }
  }
  // phi[p] = the suffix before p in SA order (−1 for the first); overwritten in place by PLCP[p].
  const plcp = new Int32Array(n);
  if (n > 0) plcp[sa[0]] = -1;
  for (let x = 1; x < n; x++) plcp[sa[x]] = sa[x - 1];
  let l = 0;
  for (let p = 0; p < n; p++) {
    const q = plcp[p];
    if (q < 0) {
      plcp[p] = 0;
      l = 0;
      continue;
    }
    while (p + l < n && q + l < n && text[p + l] === text[q + l] && text[p + l] !== 0) l++;
    plcp[p] = l;
    if (l > 0) l--;
  }
  const blockLcp = new Uint8Array(count);
  for (let x = 0; x + 1 < n; x++) {
    const v = plcp[sa[x + 1]];
    const j = Math.floor(x / every);
    if (v > blockLcp[j]) blockLcp[j] = Math.min(v, BLOCK_LCP_CAP);
  }
  return { prefixes, blockLcp };
}
