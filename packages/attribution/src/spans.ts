import { AttributionError } from './errors.ts';
import type { SpanIndex, SpanLocation } from './span-index.ts';

/**
 * Maximal-span selection in the manner of OLMoTrace (Liu et al. 2025), over a span index.
 *
 * 1. Longest match L_i at every word-start position i of the output (SpanIndex.longestMatches).
 * 2. Candidate span [i, e): e = i + L_i, moved back to the last word boundary (a position that starts
 *    a word, or the end of the output), so spans neither start nor end inside a word.
 * 3. Keep candidates of at least `minLength` tokens that are maximal: not contained in a candidate
 *    starting earlier.
 * 4. Drop spans occurring more than `maxCount` times in the corpus (too common to attribute).
 * 5. Density cap: keep the K = ceil(density × output length) spans with the lowest unigram
 *    log-probability Σ_t ln(count(t)/N) (the rarest and, through the sum, the longest first; ties:
 *    longer, then earlier).
 * 6. For each span, the documents containing it (all ≤ maxCount occurrences), mapped to row ids.
 */
export interface SpanParams {
  /** Minimum span length in tokens (default 4). */
  minLength: number;
  /** Maximum number of corpus occurrences of a span (default 1000). */
  maxCount: number;
  /** Spans kept per output token (default 0.05, i.e. K = ceil(0.05 × output length)). */
  density: number;
}

export const DEFAULT_SPAN_PARAMS: SpanParams = { minLength: 4, maxCount: 1000, density: 0.05 };

export interface SpanOccurrence {
  document: number;
  /** Occurrences of the span in this document. */
  count: number;
}

export interface MatchedSpan {
  /** Token offsets into the output, half-open. */
  start: number;
  end: number;
  /** Corpus occurrences of the span. */
  count: number;
  /** Σ ln(unigram probability) over the span's tokens (lower = rarer). */
  logProb: number;
  /** Distinct documents containing the span (ascending). */
  documents: SpanOccurrence[];
  /** Row ids of those documents (same order). */
  rowIds: string[];
}

export function validateSpanParams(p: Partial<SpanParams>): SpanParams {
  const out = { ...DEFAULT_SPAN_PARAMS, ...p };
  if (!Number.isInteger(out.minLength) || out.minLength < 1 || out.minLength > 1024) {
    throw new AttributionError(
      'INVALID_PARAM',
      `span.minLength must be an integer in [1, 1024], got ${out.minLength}`,
    );
  }
  if (!Number.isInteger(out.maxCount) || out.maxCount < 1 || out.maxCount > 1_000_000) {
    throw new AttributionError(
      'INVALID_PARAM',
      `span.maxCount must be an integer in [1, 1e6], got ${out.maxCount}`,
    );
  }
  if (!(out.density > 0 && out.density <= 1)) {
    throw new AttributionError('INVALID_PARAM', `span.density must be in (0, 1], got ${out.density}`);
  }
  return out;
}

/**
 * Selects maximal matched spans of `output` (token ids). `wordStart[i]` tells whether token i starts
 * a word (default: every token does).
 */
export function selectSpans(
  index: SpanIndex,
  output: ArrayLike<number>,
  params: Partial<SpanParams> = {},
  wordStart?: ArrayLike<boolean>,
): MatchedSpan[] {
  const p = validateSpanParams(params);
  const m = output.length;
  if (wordStart && wordStart.length !== m) {
    throw new AttributionError('INVALID_PARAM', `wordStart has ${wordStart.length} entries, output has ${m}`);
  }
  const isStart = (i: number) => i === m || !wordStart || wordStart[i] === true;
  const starts: number[] = [];
  for (let i = 0; i < m; i++) if (isStart(i)) starts.push(i);
  // Matches shorter than minLength yield no candidate, so they are reported as 0 (and mostly not searched).
  const lm = index.longestMatches(output, starts, false, p.minLength);

  // Candidates, trimmed to word boundaries, in start order.
  const cands: { start: number; end: number }[] = [];
  for (const i of starts) {
    let e = i + lm.length[i];
    while (e > i && !isStart(e)) e--;
    if (e - i >= p.minLength) cands.push({ start: i, end: e });
  }
  // Maximal: drop a candidate contained in one that starts earlier.
  const maximal: { start: number; end: number }[] = [];
  let maxEnd = -1;
  for (const c of cands) {
    if (c.end <= maxEnd) continue;
    maximal.push(c);
    maxEnd = c.end;
  }
  // Rank the maximal candidates by rarity first (unigram counts are in memory), then count them in
  // that order until K are kept: the top K of those occurring ≤ maxCount times, as in step 5, but
  // the common n-grams that could never make the cut are not searched for. Each count starts from
  // where the candidate's longest match was found; most candidates occur once, which the index
  // proves from memory or from the neighbouring rows of a known SA row.
  const N = index.tokenCount;
  const ranked = maximal.map((c) => {
    let logProb = 0;
    for (let t = c.start; t < c.end; t++) logProb += Math.log(index.unigramCount(output[t]) / N);
    return { ...c, logProb };
  });
  ranked.sort((a, b) => a.logProb - b.logProb || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const k = Math.ceil(p.density * m);
  const scored: MatchedSpan[] = [];
  const where = new Map<MatchedSpan, SpanLocation>();
  for (const c of ranked) {
    if (scored.length === k) break;
    const toks = Array.from({ length: c.end - c.start }, (_, j) => output[c.start + j]);
    const loc = index.locate(toks, { position: lm.position[c.start], row: lm.row[c.start] });
    if (loc.count === 0 || loc.count > p.maxCount) continue;
    const span: MatchedSpan = {
      start: c.start,
      end: c.end,
      count: loc.count,
      logProb: c.logProb,
      documents: [],
      rowIds: [],
    };
    scored.push(span);
    where.set(span, loc);
  }
  const kept = scored.sort((a, b) => a.start - b.start);
  for (const s of kept) {
    const perDoc = new Map<number, number>();
    for (const pos of index.locationPositions(where.get(s) as SpanLocation)) {
      const d = index.documentAt(pos);
      perDoc.set(d, (perDoc.get(d) ?? 0) + 1);
    }
    s.documents = [...perDoc.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([document, count]) => ({ document, count }));
    s.rowIds = s.documents.map((d) => index.docs[d.document].rowId);
  }
  return kept;
}

/**
 * Per-contributor span score. Each span s of length ℓ_s tokens with c_s corpus occurrences carries
 *
 *     w_s = ℓ_s · ln(1 + N / c_s)          (N = corpus tokens; longer and rarer spans weigh more)
 *
 * shared equally among its occurrences, so contributor a receives
 *
 *     score(a) = Σ_s w_s · occ_s(a) / c_s
 *
 * where occ_s(a) counts the occurrences of s in documents contributed by a. Scores are ≥ 0.
 */
export function spanContributorScores(index: SpanIndex, spans: readonly MatchedSpan[]): Map<string, number> {
  const N = index.tokenCount;
  const scores = new Map<string, number>();
  for (const s of spans) {
    const w = (s.end - s.start) * Math.log(1 + N / s.count);
    for (const occ of s.documents) {
      const a = index.docs[occ.document].contributor;
      scores.set(a, (scores.get(a) ?? 0) + (w * occ.count) / s.count);
    }
  }
  return scores;
}
