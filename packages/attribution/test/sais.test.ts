import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildSuffixArray, naiveSuffixArray, Prng } from '../src/index.ts';

test('SA-IS equals a naive sort of suffixes (small alphabets, many repeats)', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 4 })
        .chain((k) =>
          fc.tuple(fc.constant(k), fc.array(fc.integer({ min: 0, max: k - 1 }), { maxLength: 80 })),
        ),
      ([k, text]) => {
        assert.deepEqual(Array.from(buildSuffixArray(text, k)), Array.from(naiveSuffixArray(text)));
      },
    ),
    { numRuns: 400 },
  );
});

test('SA-IS equals a naive sort (large alphabet, periodic and random texts)', () => {
  const r = new Prng(7);
  for (let it = 0; it < 60; it++) {
    const n = 1 + r.int(2000);
    const K = it % 3 === 0 ? 70000 : 1 + r.int(300);
    const period = 1 + r.int(12);
    const base = Array.from({ length: period }, () => r.int(K));
    const text = Array.from({ length: n }, (_, i) => (it % 2 === 0 ? base[i % period] : r.int(K)));
    assert.deepEqual(Array.from(buildSuffixArray(text, K)), Array.from(naiveSuffixArray(text)));
  }
});

test('SA-IS rejects symbols outside the alphabet', () => {
  assert.throws(() => buildSuffixArray([0, 5, 1], 5), /text\[1\] = 5 is outside the alphabet \[0, 5\)/);
  assert.throws(() => buildSuffixArray([0], 0), /alphabetSize/);
  assert.deepEqual(Array.from(buildSuffixArray([], 3)), []);
});
