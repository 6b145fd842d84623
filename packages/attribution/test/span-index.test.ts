import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { AttributionError, buildSpanIndex, Prng, SpanIndex } from '../src/index.ts';
import { bruteCount, bruteDocs, bruteLongest, makeDocs, tempDir } from './helpers.ts';

const tmp = tempDir();
after(() => tmp.cleanup());
let seq = 0;

const corpusArb = fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 30 }), {
  minLength: 1,
  maxLength: 6,
});
const queryArb = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 12 });

test('counts, finds and longest matches agree 100% with a brute-force oracle', () => {
  fc.assert(
    fc.property(
      corpusArb,
      fc.array(queryArb, { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 16, max: 64 }),
      (lists, queries, pageEntries) => {
        const docs = makeDocs(lists);
        const path = tmp.file(`p${seq++}.olsa`);
        buildSpanIndex(docs, path, { pageEntries });
        const idx = SpanIndex.open(path, { cacheBytes: 256 });
        try {
          for (const q of queries) {
            assert.equal(idx.count(q), bruteCount(docs, q), `count ${q}`);
            for (let len = 1; len <= q.length; len++)
              assert.equal(idx.count(q.slice(0, len)), bruteCount(docs, q.slice(0, len)));
            const lm = idx.longestMatches(q, undefined, true);
            for (let i = 0; i < q.length; i++) {
              const L = bruteLongest(docs, q, i);
              assert.equal(lm.length[i], L, `longest at ${i} of ${q}`);
              if (L > 0) assert.equal(lm.hi[i] - lm.lo[i], bruteCount(docs, q.slice(i, i + L)));
            }
            // documents containing the n-gram
            const r = idx.find(q);
            const got = new Map<number, number>();
            for (const p of idx.positions(r))
              got.set(idx.documentAt(p), (got.get(idx.documentAt(p)) ?? 0) + 1);
            assert.deepEqual(
              [...got.entries()].sort((a, b) => a[0] - b[0]),
              [...bruteDocs(docs, q).entries()],
            );
          }
          for (const [d, l] of lists.entries()) assert.deepEqual(idx.documentTokens(d), l);
          idx.verifyAll();
        } finally {
          idx.close();
        }
      },
    ),
    { numRuns: 120 },
  );
});

test('counts on a Zipfian corpus with a vocabulary over 65,535 (3-byte tokens), through a tiny page cache', () => {
  const r = new Prng(11);
  const lists = Array.from({ length: 40 }, () =>
    Array.from({ length: 50 + r.int(100) }, () => (r.next() < 0.5 ? r.int(4) : 70000 + r.int(8))),
  );
  const docs = makeDocs(lists);
  const path = tmp.file('big.olsa');
  const stats = buildSpanIndex(docs, path, { pageEntries: 32 });
  assert.equal(stats.tokenWidth, 3);
  assert.equal(stats.saWidth, 2);
  const idx = SpanIndex.open(path, { cacheBytes: 512 });
  for (let it = 0; it < 200; it++) {
    const d = lists[r.int(lists.length)];
    const s = r.int(d.length);
    const q = d.slice(s, s + 1 + r.int(6));
    if (it % 4 === 0) q.push(r.int(3));
    assert.equal(idx.count(q), bruteCount(docs, q));
  }
  assert.equal(idx.count([123456]), 0);
  assert.equal(idx.unigramCount(70000), bruteCount(docs, [70000]));
  assert.ok(idx.pageReads > 10, 'the small cache forces paged reads');
  idx.close();
});

test('a truncated or altered index file gives a clear error', () => {
  const docs = makeDocs(
    Array.from({ length: 20 }, (_, i) => Array.from({ length: 100 }, (_, k) => (i * 7 + k * k) % 50)),
  );
  const path = tmp.file('t.olsa');
  const stats = buildSpanIndex(docs, path, { pageEntries: 64 });
  assert.ok(stats.bytesPerToken <= 6.5, `bytes per token ${stats.bytesPerToken}`);
  const good = readFileSync(path);

  truncateSync(path, good.length - 3);
  assert.throws(
    () => SpanIndex.open(path),
    (e: unknown) =>
      e instanceof AttributionError && e.code === 'INDEX_TRUNCATED' && /truncated/.test(e.message),
  );
  truncateSync(path, 100);
  assert.throws(() => SpanIndex.open(path), /shorter than the 160-byte header/);

  const header = Buffer.from(good);
  header[200] ^= 1; // inside the hashed tables (document map)
  writeFileSync(path, header);
  assert.throws(() => SpanIndex.open(path), /header checksum mismatch/);

  const body = Buffer.from(good);
  body[body.length - 5] ^= 0x40; // inside the suffix array
  writeFileSync(path, body);
  // Lazy: the damaged page fails when read; preloaded (the default for a small index): at open.
  assert.throws(() => SpanIndex.open(path), /suffix array: page \d+ fails its checksum/);
  const idx = SpanIndex.open(path, { preload: false });
  assert.throws(
    () => idx.verifyAll(),
    (e: unknown) => e instanceof AttributionError && e.code === 'INDEX_CORRUPT',
  );
  idx.close();

  const magic = Buffer.from(good);
  magic[0] = 0x58;
  writeFileSync(path, magic);
  assert.throws(() => SpanIndex.open(path), /not a span index/);
  assert.throws(
    () => SpanIndex.open(tmp.file('missing.olsa')),
    (e: unknown) => e instanceof AttributionError && e.status === 404,
  );
});

test('preloaded indexes (flat and odd-width pages) answer like lazily paged ones; preload checks every page', () => {
  const r = new Prng(21);
  for (const big of [false, true]) {
    const lists = Array.from({ length: 15 }, () =>
      Array.from({ length: 30 + r.int(60) }, () => (big ? 70000 + r.int(5) : r.int(5))),
    );
    const docs = makeDocs(lists);
    const path = tmp.file(`pre${big}.olsa`);
    buildSpanIndex(docs, path, { pageEntries: 16 });
    const lazy = SpanIndex.open(path, { cacheBytes: 64, preload: false });
    const pre = SpanIndex.open(path, { preload: true });
    for (let it = 0; it < 100; it++) {
      const d = lists[r.int(lists.length)];
      const s = r.int(d.length);
      const q = d.slice(s, s + 1 + r.int(8));
      assert.equal(pre.count(q), bruteCount(docs, q));
      assert.equal(lazy.count(q), pre.count(q));
      assert.deepEqual(pre.longestMatches(q).length, lazy.longestMatches(q).length);
    }
    lazy.close();
    pre.close();
    const bad = readFileSync(path);
    bad[bad.length - 2] ^= 0x10;
    writeFileSync(path, bad);
    assert.throws(() => SpanIndex.open(path, { preload: true }), /fails its checksum/);
  }
});
