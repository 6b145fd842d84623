import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { AttributionError, buildSpanIndex, Prng, SpanIndex } from '../src/index.ts';
import { naiveSuffixArray } from '../src/sais.ts';
import { bitLength, bruteCount, bruteLongest, fixtureCorpus, makeDocs, tempDir } from './helpers.ts';

const tmp = tempDir();
after(() => tmp.cleanup());
const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
let seq = 0;

/** The index text: token + 1, separator 0 after every document. */
function corpusSymbols(lists: number[][]): number[] {
  return lists.flatMap((t) => [...t.map((x) => x + 1), 0]);
}

/**
 * Every suffix-array entry and every token of an index against a naive suffix sort and the corpus,
 * then counts and longest matches of queries against brute force.
 */
function checkIndex(idx: SpanIndex, lists: number[][], queries: number[][], label: string): void {
  const docs = makeDocs(lists);
  const text = corpusSymbols(lists);
  const n = text.length;
  assert.equal(idx.textLength, n);
  // Rows in random order, so a tiny cache keeps evicting, then all rows in order.
  const want = naiveSuffixArray(text);
  const r = new Prng(n);
  for (let k = 0; k < Math.min(n, 64); k++) {
    const x = r.int(n);
    assert.equal(idx.positions({ lo: x, hi: x + 1 })[0], want[x], `${label}: SA row ${x}`);
  }
  assert.deepEqual(idx.positions({ lo: 0, hi: n }), Array.from(want), `${label}: suffix array`);
  lists.forEach((t, d) => {
    assert.deepEqual(idx.documentTokens(d), t, `${label}: document ${d}`);
  });
  for (const q of queries) {
    assert.equal(idx.count(q), bruteCount(docs, q), `${label}: count ${q}`);
    const lm = idx.longestMatches(q, undefined, true);
    for (let i = 0; i < q.length; i++) {
      const L = bruteLongest(docs, q, i);
      assert.equal(lm.length[i], L, `${label}: longest at ${i} of ${q}`);
      if (L > 0) assert.equal(lm.hi[i] - lm.lo[i], bruteCount(docs, q.slice(i, i + L)), label);
    }
  }
  idx.verifyAll();
}

/** Queries: slices of documents (some with a token changed or appended), and random tokens. */
function queriesOf(lists: number[][], vocab: number, r: Prng, count: number): number[][] {
  const out: number[][] = [];
  const nonEmpty = lists.filter((t) => t.length > 0);
  for (let k = 0; k < count; k++) {
    if (nonEmpty.length === 0 || k % 4 === 3) {
      out.push(Array.from({ length: 1 + r.int(6) }, () => r.int(vocab + 1)));
      continue;
    }
    const t = nonEmpty[r.int(nonEmpty.length)];
    const s = r.int(t.length);
    const q = t.slice(s, s + 1 + r.int(14));
    if (k % 4 === 1) q[r.int(q.length)] = r.int(vocab);
    if (k % 4 === 2) q.push(r.int(vocab));
    out.push(q);
  }
  return out;
}

test('bit-packed sections: every SA entry, token, count and longest match equals the oracle, for text lengths around 2^k ± 1, odd page sizes and both formats, preloaded and through a tiny page cache', () => {
  fc.assert(
    fc.property(
      fc.record({
        k: fc.integer({ min: 0, max: 12 }),
        delta: fc.integer({ min: -1, max: 1 }),
        documents: fc.integer({ min: 1, max: 8 }),
        vocab: fc.constantFrom(1, 2, 3, 4, 7, 8, 9, 255, 256, 257, 1000),
        pageEntries: fc.integer({ min: 16, max: 70 }),
        sampleEvery: fc.constantFrom(1, 4, 64),
        sampleDepth: fc.integer({ min: 2, max: 5 }),
        formatVersion: fc.constantFrom(2 as const, 3 as const, 3 as const),
        seed: fc.integer({ min: 0, max: 1 << 30 }),
      }),
      (o) => {
        const r = new Prng(o.seed);
        const n = Math.max(o.documents, 2 ** o.k + o.delta);
        // Split n − documents tokens over the documents; a skewed choice of tokens, so n-grams repeat.
        const lens = new Array(o.documents).fill(0);
        for (let t = 0; t < n - o.documents; t++) lens[r.int(o.documents)]++;
        const lists = lens.map((len) =>
          Array.from({ length: len }, () => (r.next() < 0.6 ? r.int(Math.min(3, o.vocab)) : r.int(o.vocab))),
        );
        const path = tmp.file(`f${seq++}.olsa`);
        const stats = buildSpanIndex(makeDocs(lists), path, o);
        assert.equal(stats.textLength, n);
        assert.equal(stats.formatVersion, o.formatVersion);
        const maxSym = Math.max(0, ...lists.flat()) + 1;
        const bits = (v: number) => (o.formatVersion === 3 ? bitLength(v) : 8 * Math.ceil(bitLength(v) / 8));
        assert.equal(stats.tokenBits, bits(maxSym));
        assert.equal(stats.saBits, bits(n - 1));
        assert.equal(statSync(path).size, stats.fileBytes);
        const core = Math.ceil((n * stats.tokenBits) / 8) + Math.ceil((n * stats.saBits) / 8);
        assert.ok(Math.abs(stats.coreBytesPerToken * Math.max(1, n - o.documents) - core) < 1e-6);
        const queries = queriesOf(lists, o.vocab, r, 6);
        const lazy = SpanIndex.open(path, { cacheBytes: 64, preload: false });
        const pre = SpanIndex.open(path, { preload: true });
        try {
          assert.equal(lazy.formatVersion, o.formatVersion);
          assert.equal(lazy.saBits, stats.saBits);
          checkIndex(lazy, lists, queries, `lazy ${JSON.stringify(o)}`);
          checkIndex(pre, lists, queries, `preloaded ${JSON.stringify(o)}`);
          if (n > 4 * o.pageEntries) assert.ok(lazy.pageReads > 8, 'the tiny cache forces page reads');
        } finally {
          lazy.close();
          pre.close();
        }
      },
    ),
    { numRuns: 120 },
  );
});

test('larger packed indexes (27 000 tokens, 15-bit SA, 10-bit tokens) answer like the oracle through 4-page caches', () => {
  const r = new Prng(77);
  const lists = Array.from({ length: 60 }, () =>
    Array.from({ length: 100 + r.int(700) }, () => (r.next() < 0.7 ? r.int(8) : r.int(1000))),
  );
  const n = lists.reduce((a, t) => a + t.length + 1, 0);
  for (const pageEntries of [1024, 33]) {
    const path = tmp.file(`large${pageEntries}.olsa`);
    const stats = buildSpanIndex(makeDocs(lists), path, { pageEntries });
    assert.equal(stats.saBits, bitLength(n - 1));
    assert.equal(stats.tokenBits, 10);
    const lazy = SpanIndex.open(path, { cacheBytes: 1, preload: false });
    try {
      checkIndex(lazy, lists, queriesOf(lists, 1000, r, 40), `pageEntries ${pageEntries}`);
    } finally {
      lazy.close();
    }
  }
});

test('version-2 files written by the previous writer still open and answer as before', () => {
  for (const kind of ['small', 'wide'] as const) {
    const lists = fixtureCorpus(kind);
    const path = join(fixtures, `v2-${kind}.olsa`);
    const vocab = Math.max(...lists.flat()) + 1;
    const queries = queriesOf(lists, vocab, new Prng(kind.length), 30);
    for (const preload of [false, true]) {
      const idx = SpanIndex.open(path, { cacheBytes: 64, preload });
      try {
        assert.equal(idx.formatVersion, 2);
        assert.equal(idx.tokenBits, kind === 'small' ? 8 : 16);
        assert.equal(idx.saBits, 16);
        checkIndex(idx, lists, queries, `v2 ${kind} preload=${preload}`);
        // The same corpus rebuilt as version 3 gives the same answers from a smaller file.
        const path3 = tmp.file(`v3-${kind}.olsa`);
        const options =
          kind === 'small' ? { pageEntries: 16, sampleEvery: 4, sampleDepth: 3 } : { pageEntries: 24 };
        const stats = buildSpanIndex(makeDocs(lists), path3, options);
        assert.equal(stats.formatVersion, 3);
        assert.ok(stats.fileBytes < idx.fileBytes, `${stats.fileBytes} < ${idx.fileBytes}`);
        const idx3 = SpanIndex.open(path3, { cacheBytes: 64, preload });
        for (const q of queries) {
          assert.deepEqual(idx3.find(q), idx.find(q));
          assert.deepEqual(idx3.longestMatches(q, undefined, true), idx.longestMatches(q, undefined, true));
        }
        idx3.close();
      } finally {
        idx.close();
      }
    }
  }
  // The version-2 writer reproduces the fixture byte for byte.
  const again = tmp.file('v2-again.olsa');
  buildSpanIndex(makeDocs(fixtureCorpus('small')), again, {
    pageEntries: 16,
    sampleEvery: 4,
    sampleDepth: 3,
    formatVersion: 2,
  });
  assert.deepEqual(readFileSync(again), readFileSync(join(fixtures, 'v2-small.olsa')));
  assert.throws(
    () => buildSpanIndex(makeDocs([[1]]), tmp.file('bad.olsa'), { formatVersion: 4 as 3 }),
    /formatVersion must be 2 or 3, got 4/,
  );
});

test('a byte shared by two packed pages fails both pages; altered widths fail at open', () => {
  // 17 entries × 11 bits = 187 bits: page 0 of the suffix array ends inside byte 23, where page 1 starts.
  const r = new Prng(3);
  const lists = Array.from({ length: 20 }, () => Array.from({ length: 60 + r.int(40) }, () => r.int(30)));
  const path = tmp.file('shared.olsa');
  const stats = buildSpanIndex(makeDocs(lists), path, { pageEntries: 17 });
  assert.equal(stats.saBits, 11);
  const good = readFileSync(path);
  const saOffset = Number(good.readBigUInt64LE(16 + 12 * 8));
  const bad = Buffer.from(good);
  bad[saOffset + 23] ^= 0x80; // a bit of entry 17, in page 1 (entry 16 ends at bit 187 = 23·8 + 3)
  writeFileSync(path, bad);
  for (const lo of [0, 17]) {
    const idx = SpanIndex.open(path, { cacheBytes: 64, preload: false });
    assert.throws(
      () => idx.positions({ lo, hi: lo + 1 }),
      (e: unknown) =>
        e instanceof AttributionError &&
        e.code === 'INDEX_CORRUPT' &&
        new RegExp(`suffix array: page ${lo / 17} fails its checksum`).test(e.message),
    );
    assert.equal(idx.positions({ lo: 40, hi: 41 }).length, 1, 'other pages still read');
    idx.close();
  }
  assert.throws(() => SpanIndex.open(path, { preload: true }), /suffix array: page 0 fails its checksum/);

  // saBits too small for n, or above 31 without being a whole-byte width: inconsistent header.
  for (const saBits of [10, 33]) {
    const w = Buffer.from(good);
    w[13] = saBits;
    writeFileSync(path, w);
    assert.throws(() => SpanIndex.open(path), /header fields are inconsistent/);
  }
  const v9 = Buffer.from(good);
  v9.writeUInt32LE(9, 8);
  writeFileSync(path, v9);
  assert.throws(() => SpanIndex.open(path), /unsupported version 9 \(supported: 2, 3\)/);
});
