import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { buildSpanIndex, SpanIndex, selectSpans, spanContributorScores } from '../src/index.ts';
import { bruteCount, bruteDocs, bruteLongest, makeDocs, tempDir } from './helpers.ts';

const tmp = tempDir();
after(() => tmp.cleanup());
let seq = 0;

/** Independent oracle for the selection rules documented in spans.ts. */
function oracle(
  docs: ReturnType<typeof makeDocs>,
  out: number[],
  ws: boolean[],
  p: { minLength: number; maxCount: number; density: number },
) {
  const m = out.length;
  const isStart = (i: number) => i === m || ws[i];
  const N = docs.reduce((a, d) => a + d.tokens.length, 0);
  const cands: { start: number; end: number }[] = [];
  for (let i = 0; i < m; i++) {
    if (!isStart(i)) continue;
    let e = i + bruteLongest(docs, out, i);
    while (e > i && !isStart(e)) e--;
    if (e - i >= p.minLength) cands.push({ start: i, end: e });
  }
  const maximal = cands.filter((c) => !cands.some((o) => o.start < c.start && o.end >= c.end));
  const scored = maximal
    .map((c) => {
      const toks = out.slice(c.start, c.end);
      const count = bruteCount(docs, toks);
      const logProb = toks.reduce((a, t) => a + Math.log(bruteCount(docs, [t]) / N), 0);
      return { ...c, count, logProb };
    })
    .filter((s) => s.count <= p.maxCount);
  scored.sort((a, b) => a.logProb - b.logProb || b.end - b.start - (a.end - a.start) || a.start - b.start);
  return scored.slice(0, Math.ceil(p.density * m)).sort((a, b) => a.start - b.start);
}

test('maximal-span selection follows its rules (word boundaries, min length, max count, density, maximality), lazy or preloaded', () => {
  const arb = fc.record({
    lists: fc.array(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 5, maxLength: 40 }), {
      minLength: 1,
      maxLength: 5,
    }),
    picks: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 12 })), {
      minLength: 1,
      maxLength: 4,
    }),
    noise: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 10 }),
    wsSeed: fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
    minLength: fc.integer({ min: 1, max: 5 }),
    maxCount: fc.integer({ min: 1, max: 8 }),
    density: fc.constantFrom(0.05, 0.1, 0.3, 1),
    sampleEvery: fc.constantFrom(1, 2, 4, 32),
    sampleDepth: fc.integer({ min: 2, max: 4 }),
    lazy: fc.boolean(),
  });
  fc.assert(
    fc.property(arb, (a) => {
      const docs = makeDocs(a.lists);
      // The output mixes copied corpus fragments and noise, so long matches exist.
      const out: number[] = [];
      for (const [d, s, len] of a.picks) {
        const src = a.lists[d % a.lists.length];
        const st = s % src.length;
        out.push(...src.slice(st, st + len));
      }
      out.push(...a.noise);
      const ws = out.map((_, i) => i === 0 || a.wsSeed[i % a.wsSeed.length]);
      const path = tmp.file(`s${seq++}.olsa`);
      buildSpanIndex(docs, path, { pageEntries: 16, sampleEvery: a.sampleEvery, sampleDepth: a.sampleDepth });
      const idx = SpanIndex.open(path, a.lazy ? { cacheBytes: 128, preload: false } : {});
      try {
        const p = { minLength: a.minLength, maxCount: a.maxCount, density: a.density };
        const spans = selectSpans(idx, out, p, ws);
        const expect = oracle(docs, out, ws, p);
        assert.deepEqual(
          spans.map((s) => [s.start, s.end, s.count]),
          expect.map((s) => [s.start, s.end, s.count]),
        );
        for (const s of spans) {
          assert.ok(ws[s.start] && (s.end === out.length || ws[s.end]), 'word boundaries');
          assert.ok(s.end - s.start >= p.minLength && s.count <= p.maxCount && s.count >= 1);
          const docsWith = bruteDocs(docs, out.slice(s.start, s.end));
          assert.deepEqual(
            s.documents.map((d) => [d.document, d.count]),
            [...docsWith.entries()],
          );
          assert.deepEqual(
            s.rowIds,
            [...docsWith.keys()].map((d) => `row-${d}`),
          );
        }
        assert.ok(spans.length <= Math.ceil(p.density * out.length));
        // Contributor score formula: w_s = ℓ ln(1 + N/c), shared by occurrences.
        const N = docs.reduce((x, d) => x + d.tokens.length, 0);
        const want = new Map<string, number>();
        for (const s of spans) {
          for (const [d, c] of bruteDocs(docs, out.slice(s.start, s.end))) {
            const who = docs[d].contributor;
            want.set(
              who,
              (want.get(who) ?? 0) + ((s.end - s.start) * Math.log(1 + N / s.count) * c) / s.count,
            );
          }
        }
        const got = spanContributorScores(idx, spans);
        assert.equal(got.size, want.size);
        for (const [k, v] of want) assert.ok(Math.abs((got.get(k) ?? 0) - v) < 1e-9 * Math.max(1, v));
      } finally {
        idx.close();
      }
    }),
    { numRuns: 80 },
  );
});

test('span parameters are validated with the field named', () => {
  const path = tmp.file('v.olsa');
  buildSpanIndex(makeDocs([[1, 2, 3]]), path);
  const idx = SpanIndex.open(path);
  assert.throws(() => selectSpans(idx, [1, 2], { minLength: 0 }), /span\.minLength/);
  assert.throws(() => selectSpans(idx, [1, 2], { density: 2 }), /span\.density/);
  assert.throws(() => selectSpans(idx, [1, 2], {}, [true]), /wordStart has 1 entries/);
  idx.close();
});
