import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { AttributionError, buildSpanIndex, Prng, SpanIndex } from '../src/index.ts';
import { bitLength, bruteCount, bruteDocs, bruteLongest, makeDocs, tempDir } from './helpers.ts';

const tmp = tempDir();
after(() => tmp.cleanup());
let seq = 0;

const corpusArb = fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 30 }), {
  minLength: 1,
  maxLength: 6,
});
const queryArb = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 12 });

/** Brute-force text positions (document, offset) of `pat`, as "d:offset" strings, sorted. */
function bruteWhere(lists: number[][], pat: readonly number[]): string[] {
  const out: string[] = [];
  lists.forEach((t, d) => {
    for (let i = 0; i + pat.length <= t.length; i++) {
      let ok = true;
      for (let k = 0; k < pat.length && ok; k++) ok = t[i + k] === pat[k];
      if (ok) out.push(`${d}:${i}`);
    }
  });
  return out.sort();
}

test('counts, finds, longest matches and hinted locates agree 100% with a brute-force oracle, whatever the sampling', () => {
  fc.assert(
    fc.property(
      corpusArb,
      fc.array(queryArb, { minLength: 1, maxLength: 5 }),
      fc.record({
        pageEntries: fc.integer({ min: 16, max: 64 }),
        sampleEvery: fc.constantFrom(1, 2, 4, 8, 32),
        sampleDepth: fc.integer({ min: 2, max: 5 }),
      }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      (lists, queries, build, minLength, pick) => {
        const docs = makeDocs(lists);
        const path = tmp.file(`p${seq++}.olsa`);
        buildSpanIndex(docs, path, build);
        const idx = SpanIndex.open(path, { cacheBytes: 256 });
        const where = (p: number) => {
          const d = idx.documentAt(p);
          return `${d}:${p - docStart(lists, d)}`;
        };
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
            // A subset of positions (gaps between them), and matches shorter than minLength reported as 0.
            const subset = q.map((_, i) => i).filter((i) => pick[i]);
            const lms = idx.longestMatches(q, subset, false, minLength);
            for (let i = 0; i < q.length; i++) {
              const L = pick[i] ? bruteLongest(docs, q, i) : 0;
              assert.equal(lms.length[i], L >= minLength ? L : 0, `longest ≥ ${minLength} at ${i} of ${q}`);
              // The reported occurrence is a hint that locates every prefix of the match exactly.
              for (let l = 1; l <= lms.length[i]; l++) {
                const pat = q.slice(i, i + l);
                const loc = idx.locate(pat, { position: lms.position[i], row: lms.row[i] });
                assert.equal(loc.count, bruteCount(docs, pat), `locate ${pat}`);
                assert.deepEqual(idx.locationPositions(loc).map(where).sort(), bruteWhere(lists, pat));
              }
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
    { numRuns: 150 },
  );
});

/** Text position of document d's first token (documents are followed by one separator each). */
function docStart(lists: number[][], d: number): number {
  let p = 0;
  for (let k = 0; k < d; k++) p += lists[k].length + 1;
  return p;
}

test('repetitive corpora (long repeated passages, shallow samples) through a tiny cache', () => {
  const r = new Prng(5);
  const passage = Array.from({ length: 60 }, () => r.int(3));
  const lists = Array.from({ length: 30 }, (_, d) => {
    const t = Array.from({ length: 20 + r.int(40) }, () => r.int(3));
    if (d % 3 === 0) t.splice(r.int(t.length), 0, ...passage.slice(r.int(10), 50 + r.int(10)));
    return t;
  });
  const docs = makeDocs(lists);
  for (const sampleEvery of [1, 4, 16]) {
    const path = tmp.file(`rep${sampleEvery}.olsa`);
    buildSpanIndex(docs, path, { pageEntries: 16, sampleEvery, sampleDepth: 2 });
    const idx = SpanIndex.open(path, { cacheBytes: 64, preload: false });
    for (let it = 0; it < 40; it++) {
      const s = r.int(passage.length - 5);
      const q = [...passage.slice(s, s + 5 + r.int(40)), ...(it % 2 ? [r.int(3)] : [])];
      const minLength = 1 + r.int(6);
      const lm = idx.longestMatches(q, undefined, false, minLength);
      for (let i = 0; i < q.length; i++) {
        const L = bruteLongest(docs, q, i);
        assert.equal(lm.length[i], L >= minLength ? L : 0);
        if (lm.length[i] > 0) {
          const loc = idx.locate(q.slice(i, i + L), { position: lm.position[i], row: lm.row[i] });
          assert.equal(loc.count, bruteCount(docs, q.slice(i, i + L)));
        }
      }
      assert.equal(idx.count(q), bruteCount(docs, q));
    }
    idx.close();
  }
});

test('counts on a Zipfian corpus with a vocabulary over 65,535 (17-bit tokens), through a tiny page cache', () => {
  const r = new Prng(11);
  const lists = Array.from({ length: 40 }, () =>
    Array.from({ length: 50 + r.int(100) }, () => (r.next() < 0.5 ? r.int(4) : 70000 + r.int(8))),
  );
  const docs = makeDocs(lists);
  const path = tmp.file('big.olsa');
  const stats = buildSpanIndex(docs, path, { pageEntries: 32 });
  assert.equal(stats.tokenBits, 17); // alphabet − 1 = 70,008
  assert.equal(stats.saBits, bitLength(stats.textLength - 1));
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

  const v1 = Buffer.from(good);
  v1.writeUInt32LE(1, 8);
  writeFileSync(path, v1);
  assert.throws(
    () => SpanIndex.open(path),
    (e: unknown) =>
      e instanceof AttributionError && e.code === 'INDEX_VERSION' && /version 1 .*rebuild/.test(e.message),
  );
  const fields = Buffer.from(good);
  fields[15] ^= 1; // sample depth: the table sizes no longer add up
  writeFileSync(path, fields);
  assert.throws(() => SpanIndex.open(path), /header fields are inconsistent/);

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

test('build options are validated with the field named', () => {
  const docs = makeDocs([[1, 2, 3]]);
  assert.throws(
    () => buildSpanIndex(docs, tmp.file('o.olsa'), { sampleEvery: 3 }),
    /sampleEvery must be a power of two/,
  );
  assert.throws(
    () => buildSpanIndex(docs, tmp.file('o.olsa'), { sampleDepth: 1 }),
    /sampleDepth must be an integer in \[2, 32\]/,
  );
  assert.throws(() => longest(docs, [1, 2], [5]), /positions\[0\] = 5 is not an index/);
});

function longest(docs: ReturnType<typeof makeDocs>, q: number[], positions: number[]) {
  const path = tmp.file(`l${seq++}.olsa`);
  buildSpanIndex(docs, path);
  const idx = SpanIndex.open(path);
  try {
    return idx.longestMatches(q, positions);
  } finally {
    idx.close();
  }
}

test('memory: the sampled table is resident, pages only as read; a damaged page fails alone and the cache recovers', () => {
  const r = new Prng(31);
  const lists = Array.from({ length: 50 }, () => Array.from({ length: 40 + r.int(40) }, () => r.int(20)));
  const docs = makeDocs(lists);
  const path = tmp.file('mem.olsa');
  const stats = buildSpanIndex(docs, path, { pageEntries: 16, sampleEvery: 8, sampleDepth: 3 });
  const idx = SpanIndex.open(path, { cacheBytes: 256, preload: false });
  // ⌈n/8⌉ samples × 2 stored symbols × 2 bytes (Uint16Array) + one LCP byte per block.
  assert.equal(idx.memory.samples, Math.ceil(stats.textLength / 8) * (2 * 2 + 1));
  assert.equal(idx.memory.pages, 0);
  idx.count(lists[3].slice(5, 9));
  assert.ok(idx.memory.pages > 0 && idx.memory.pages < 2048, `pages ${idx.memory.pages}`);
  idx.close();

  // Damage one token page in the middle of the file: queries that need it fail, the others still
  // answer (the slot that held the bad read is reused), and the damage is reported again on retry.
  const bad = readFileSync(path);
  const header = (i: number) => Number(bad.readBigUInt64LE(16 + i * 8));
  const tokensOffset = header(11);
  const page = Math.floor(stats.textLength / 16 / 2);
  bad[tokensOffset + Math.floor((page * 16 * stats.tokenBits) / 8) + 3] ^= 0x08;
  writeFileSync(path, bad);
  const hurt = SpanIndex.open(path, { cacheBytes: 64, preload: false });
  assert.throws(
    () => hurt.documentTokens(hurt.documentAt(page * 16 + 1)),
    /tokens: page \d+ fails its checksum/,
  );
  for (let it = 0; it < 30; it++) {
    const d = lists[r.int(lists.length)];
    const s = r.int(d.length - 3);
    const q = d.slice(s, s + 3);
    try {
      assert.equal(hurt.count(q), bruteCount(docs, q));
    } catch (e) {
      assert.ok(e instanceof AttributionError && e.code === 'INDEX_CORRUPT', String(e));
    }
  }
  assert.deepEqual(hurt.documentTokens(0), lists[0]);
  assert.throws(() => hurt.verifyAll(), /fails its checksum/);
  hurt.close();
});
