import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Prng } from '../src/index.ts';
import { loadNativeSais, nativeSaisPath } from '../src/native-sais.ts';
import {
  buildSuffixArray,
  buildSuffixArrayJs,
  buildSuffixArrayNative,
  naiveSuffixArray,
  suffixArrayBackend,
} from '../src/sais.ts';

// The C addon is optional (no compiler, or OPENLEDGER_ATTRIBUTION_SKIP_NATIVE): its tests then skip.
const native = loadNativeSais() !== null;
const skipNative = native ? false : 'native addon not built or disabled';
const arr = (x: Int32Array) => Array.from(x);

/** Both implementations against the naive sort, the C one on every typed array that holds the text. */
function checkAll(text: number[], K: number): void {
  const want = arr(naiveSuffixArray(text));
  assert.deepEqual(arr(buildSuffixArrayJs(text, K)), want, `js, K=${K}, text=${text}`);
  if (!native) return;
  assert.deepEqual(arr(buildSuffixArrayNative(text, K)), want, `native (array), K=${K}, text=${text}`);
  const max = text.reduce((a, b) => Math.max(a, b), 0);
  const kinds = [Uint32Array, Int32Array, Float64Array] as const;
  for (const Kind of kinds) {
    if (Kind === Int32Array && max > 0x7fffffff) continue;
    const got = buildSuffixArrayNative(Kind.from(text), K);
    assert.deepEqual(arr(got), want, `native ${Kind.name}, K=${K}, text=${text}`);
  }
  if (max < 65536) assert.deepEqual(arr(buildSuffixArrayNative(Uint16Array.from(text), K)), want);
  if (max < 256) assert.deepEqual(arr(buildSuffixArrayNative(Uint8Array.from(text), K)), want);
}

test('SA-IS (TypeScript and C) equals a naive sort of suffixes (small alphabets, many repeats)', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 4 })
        .chain((k) =>
          fc.tuple(fc.constant(k), fc.array(fc.integer({ min: 0, max: k - 1 }), { maxLength: 80 })),
        ),
      ([k, text]) => checkAll(text, k),
    ),
    { numRuns: 400 },
  );
});

test('SA-IS (TypeScript and C) on sizes 0, 1, 2 and every text of length <= 6 over 3 symbols', () => {
  checkAll([], 1);
  checkAll([], 2 ** 32);
  checkAll([0], 1);
  checkAll([2 ** 32 - 1], 2 ** 32);
  for (const t of [
    [0, 0],
    [0, 1],
    [1, 0],
    [5, 5],
  ])
    checkAll(t, 6);
  for (let n = 0; n <= 6; n++) {
    for (let code = 0; code < 3 ** n; code++) {
      const t: number[] = [];
      for (let i = 0, c = code; i < n; i++, c = Math.floor(c / 3)) t.push(c % 3);
      checkAll(t, 3);
    }
  }
});

test('SA-IS (TypeScript and C) equals a naive sort (large alphabet, periodic and random texts)', () => {
  const r = new Prng(7);
  for (let it = 0; it < 60; it++) {
    const n = 1 + r.int(2000);
    const K = it % 3 === 0 ? 70000 : 1 + r.int(300);
    const period = 1 + r.int(12);
    const base = Array.from({ length: period }, () => r.int(K));
    const text = Array.from({ length: n }, (_, i) => (it % 2 === 0 ? base[i % period] : r.int(K)));
    checkAll(text, K);
  }
});

test('SA-IS (TypeScript and C) over 32-bit symbols up to 2^32 - 1 (sparse ids are rank-reduced)', () => {
  const r = new Prng(11);
  for (let it = 0; it < 40; it++) {
    const n = 1 + r.int(600);
    // A few distinct ids spread over the whole 32-bit range, including the extremes.
    const ids = [
      0,
      2 ** 32 - 1,
      2 ** 31,
      2 ** 31 - 1,
      ...Array.from({ length: 1 + r.int(20) }, () => r.int(2 ** 32)),
    ];
    const pick = Array.from({ length: 1 + r.int(ids.length) }, () => ids[r.int(ids.length)]);
    const text =
      it % 2 === 0
        ? Array.from({ length: n }, () => pick[r.int(pick.length)])
        : Array.from({ length: n }, (_, i) => pick[i % pick.length]);
    checkAll(text, 2 ** 32);
  }
  // Sparse but small ids: 16-bit range, n far below the largest symbol.
  checkAll([65535, 7, 65535, 7, 65535, 0, 65535], 65536);
});

test('SA-IS: highly repetitive texts (runs, periods, Fibonacci words) recurse deeply and still agree', () => {
  const fib = (n: number) => {
    let a = [0];
    let b = [0, 1];
    while (b.length < n) [a, b] = [b, [...b, ...a]];
    return b.slice(0, n);
  };
  const texts: [number[], number][] = [
    [Array(3000).fill(0), 1],
    [Array(3001).fill(9), 10],
    [Array.from({ length: 3000 }, (_, i) => i % 2), 2],
    [Array.from({ length: 2999 }, (_, i) => (i % 7) % 3), 3],
    [fib(3000), 2],
    [Array.from({ length: 2000 }, (_, i) => 2000 - i), 2001],
    [Array.from({ length: 2000 }, (_, i) => i), 2000],
    [[...Array(1000).fill(1), ...Array(1000).fill(0), ...Array(1000).fill(1)], 2],
  ];
  for (const [t, k] of texts) checkAll(t, k);
});

test('SA-IS: C equals TypeScript on larger random corpora (Zipfian tokens, documents, byte texts)', {
  skip: skipNative,
}, () => {
  const r = new Prng(21);
  for (const [n, K] of [
    [200_000, 256],
    [150_000, 32001],
    [100_000, 4],
    [120_000, 1 << 20],
  ]) {
    const text = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      // Zipf-like skew plus document separators (symbol 0) every few hundred tokens.
      const u = r.next();
      text[i] = r.int(400) === 0 ? 0 : 1 + Math.min(K - 2, Math.floor(1 / (u + 1e-9)) - 1 + r.int(3));
    }
    // Copy a stretch so long repeats exist.
    text.copyWithin(n >> 1, 1000, 1000 + (n >> 3));
    const js = buildSuffixArrayJs(text, K);
    assert.deepEqual(buildSuffixArrayNative(text, K), js, `n=${n} K=${K}`);
    if (K <= 256) assert.deepEqual(buildSuffixArrayNative(Uint8Array.from(text), K), js);
    if (K <= 65536) assert.deepEqual(buildSuffixArrayNative(Uint16Array.from(text), K), js);
  }
});

test('SA-IS rejects symbols outside the alphabet (both backends, same message)', () => {
  const impls = native ? [buildSuffixArrayJs, buildSuffixArrayNative] : [buildSuffixArrayJs];
  for (const build of impls) {
    assert.throws(() => build([0, 5, 1], 5), /text\[1\] = 5 is outside the alphabet \[0, 5\)/);
    assert.throws(() => build([0, 1.5], 5), /text\[1\] = 1.5 is outside the alphabet/);
    assert.throws(() => build([0, -1], 5), /text\[1\] = -1 is outside the alphabet/);
    assert.throws(() => build([0], 0), /alphabetSize/);
    assert.throws(() => build([0], 2 ** 32 + 1), /alphabetSize must be an integer in \[1, 2\^32\]/);
    assert.deepEqual(arr(build([], 3)), []);
  }
  if (native) {
    assert.throws(
      () => buildSuffixArrayNative(Uint8Array.of(0, 1, 7), 7),
      /text\[2\] = 7 is outside the alphabet \[0, 7\)/,
    );
    assert.throws(
      () => buildSuffixArrayNative(Int32Array.of(3, -2), 2 ** 32),
      /text\[1\] = -2 is outside the alphabet \[0, 4294967296\)/,
    );
    assert.throws(
      () => buildSuffixArrayNative(Uint32Array.of(3, 2 ** 32 - 1), 2 ** 32 - 1),
      /text\[1\] = 4294967295 is outside/,
    );
  }
});

test('buildSuffixArray (the span index path) uses the C addon when built; the env var forces TypeScript', () => {
  assert.equal(suffixArrayBackend(), existsSync(nativeSaisPath) && native ? 'native' : 'js');
  const text = [3, 1, 3, 1, 2, 0, 3, 1];
  const want = arr(naiveSuffixArray(text));
  assert.deepEqual(arr(buildSuffixArray(text, 4)), want);
  const saved = process.env.OPENLEDGER_ATTRIBUTION_SKIP_NATIVE;
  process.env.OPENLEDGER_ATTRIBUTION_SKIP_NATIVE = '1';
  try {
    assert.equal(suffixArrayBackend(), 'js');
    assert.equal(loadNativeSais(), null);
    assert.throws(() => buildSuffixArrayNative(text, 4), /unavailable: disabled by OPENLEDGER_ATTRIBUTION/);
    assert.deepEqual(arr(buildSuffixArray(text, 4)), want);
  } finally {
    if (saved === undefined) delete process.env.OPENLEDGER_ATTRIBUTION_SKIP_NATIVE;
    else process.env.OPENLEDGER_ATTRIBUTION_SKIP_NATIVE = saved;
  }
  assert.equal(suffixArrayBackend(), native ? 'native' : 'js');
});

test('the install-time build script never fails the install and honours the skip variable', () => {
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'build-native.mjs');
  const r = spawnSync(process.execPath, [script], {
    encoding: 'utf8',
    env: { ...process.env, OPENLEDGER_ATTRIBUTION_SKIP_NATIVE: '1' },
  });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /skipped \(OPENLEDGER_ATTRIBUTION_SKIP_NATIVE set\)/);
  const strict = spawnSync(process.execPath, [script, '--strict'], {
    encoding: 'utf8',
    env: { ...process.env, OPENLEDGER_ATTRIBUTION_SKIP_NATIVE: '1' },
  });
  assert.equal(strict.status, 1);
});
