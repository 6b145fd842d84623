// Every kernel on every available backend against the JS reference (same inputs, float tolerance),
// including transposes, padded leading dimensions, subarray views and sizes that cross the blocking
// edges of the wasm sgemm.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  availableBackends,
  type Backend,
  createJsKernels,
  f16BitsToF32,
  float32ToHalf,
  getKernels,
} from '../src/index.ts';
import { assertClose, randn, rng } from './helpers.ts';

const ref = createJsKernels();

/** Half bits (or float32 values, unchanged) as float32, element by element through f16BitsToF32. */
function halfToFloat32Exact(m: Float32Array | Uint16Array): Float32Array {
  return m instanceof Uint16Array ? Float32Array.from(m, f16BitsToF32) : m;
}
const backends = availableBackends().filter((b) => b !== 'js');
const blas = ['/usr/lib/x86_64-linux-gnu/libopenblas.so', '/usr/lib/aarch64-linux-gnu/libopenblas.so'].some(
  existsSync,
);

test('wasm is always available; native whenever OpenBLAS is installed', () => {
  assert.ok(backends.includes('wasm'), `available: ${availableBackends().join(', ')}`);
  if (blas) assert.ok(backends.includes('native'), 'libopenblas present but native backend did not load');
});

for (const name of backends) {
  describe(`${name} backend matches the js reference`, () => {
    const k = getKernels(name as Backend);
    test('selected', () => assert.equal(k.backend, name));

    test('sgemm: all transposes, alpha/beta, padded leading dims, subarray views, blocking edges', () => {
      const r = rng(11);
      const shapes: [number, number, number][] = [
        [1, 1, 1],
        [1, 37, 19],
        [23, 1, 40],
        [1, 1, 64],
        [3, 5, 2],
        [4, 8, 256],
        [5, 9, 257],
        [130, 17, 33],
        [9, 2051, 3],
        [67, 70, 600],
      ];
      for (const [m, n, kk] of shapes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const [alpha, beta] of [
              [1, 0],
              [0.5, -1.25],
            ]) {
              const lda = (transA ? m : kk) + 1;
              const ldb = (transB ? kk : n) + 3;
              const ldc = n + 2;
              const a = randn(7 + (transA ? kk : m) * lda, r).subarray(7);
              const b = randn(2 + (transB ? n : kk) * ldb, r).subarray(2);
              const cBuf = randn(5 + m * ldc, r);
              const c = cBuf.subarray(5);
              const want = c.slice();
              ref.sgemm(transA, transB, m, n, kk, alpha, a, lda, b, ldb, beta, want, ldc);
              const before = cBuf.slice(0, 5);
              k.sgemm(transA, transB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc);
              assertClose(
                c,
                want,
                2e-5 * Math.sqrt(kk),
                1e-5,
                `sgemm ${m}×${n}×${kk} tA=${transA} tB=${transB}`,
              );
              assert.deepEqual([...cBuf.subarray(0, 5)], [...before]);
            }
          }
        }
      }
    });

    test('sgemm: beta = 0 clears NaN, k = 0 scales C', () => {
      const c = Float32Array.of(Number.NaN, Number.NaN, Number.NaN, Number.NaN);
      k.sgemm(false, false, 2, 2, 1, 1, Float32Array.of(1, 2), 1, Float32Array.of(3, 4), 2, 0, c, 2);
      assert.deepEqual([...c], [3, 4, 6, 8]);
      k.sgemm(false, false, 2, 2, 0, 1, new Float32Array(0), 1, new Float32Array(0), 2, 0.5, c, 2);
      assert.deepEqual([...c], [1.5, 2, 3, 4]);
      // one row / one column of C (matrix-vector products on the native backend)
      const row = Float32Array.of(Number.NaN, Number.NaN, 7);
      k.sgemm(false, true, 1, 2, 2, 1, Float32Array.of(1, 2), 2, Float32Array.of(3, 4, 5, 6), 2, 0, row, 3);
      assert.deepEqual([...row], [11, 17, 7]);
      const col = Float32Array.of(Number.NaN, 9, Number.NaN, 9);
      k.sgemm(true, false, 2, 1, 2, 1, Float32Array.of(1, 2, 3, 4), 2, Float32Array.of(5, 6), 1, 0, col, 2);
      assert.deepEqual([...col], [23, 9, 34, 9]);
    });

    test('sgemmStridedBatched', () => {
      const r = rng(12);
      const [m, n, kk, batch] = [6, 10, 12, 4];
      const sA = kk * m + 3;
      const sB = n * kk + 1;
      const sC = m * n + 5;
      const a = randn(batch * sA, r);
      const b = randn(batch * sB, r);
      const c = randn(batch * sC, r);
      const want = c.slice();
      ref.sgemmStridedBatched(true, true, m, n, kk, 0.3, a, m, sA, b, kk, sB, 0.7, want, n, sC, batch);
      k.sgemmStridedBatched(true, true, m, n, kk, 0.3, a, m, sA, b, kk, sB, 0.7, c, n, sC, batch);
      assertClose(c, want, 1e-5, 1e-5);
    });

    test('softmaxRows (with masks and views)', () => {
      const r = rng(13);
      const buf = randn(3 + 6 * 40, r, 8);
      buf[3 + 45] = Number.NEGATIVE_INFINITY;
      buf.fill(Number.NEGATIVE_INFINITY, 3 + 80, 3 + 120);
      const x = buf.subarray(3);
      const want = x.slice();
      ref.softmaxRows(want, 6, 40);
      k.softmaxRows(x, 6, 40);
      assertClose(x, want, 1e-6, 1e-5);
    });

    test('rmsnorm (and in place)', () => {
      const r = rng(14);
      const x = randn(5 * 24, r, 3);
      const w = randn(24, r);
      const wantOut = new Float32Array(120);
      const wantInv = ref.rmsnorm(wantOut, x, w, 5, 24, 1e-6);
      const out = new Float32Array(120);
      const inv = k.rmsnorm(out, x, w, 5, 24, 1e-6);
      assertClose(out, wantOut, 1e-6, 1e-5);
      assertClose(inv, wantInv, 0, 1e-6);
      const inPlace = x.slice();
      const inv2 = new Float32Array(5);
      assert.equal(k.rmsnorm(inPlace, inPlace, w, 5, 24, 1e-6, inv2), inv2);
      assertClose(inPlace, wantOut, 1e-6, 1e-5);
    });

    test('rope and ropeAt (forward and inverse)', () => {
      const r = rng(15);
      const [seq, heads, hd] = [6, 4, 32];
      const x = randn(seq * heads * hd, r);
      const want = x.slice();
      ref.rope(want, seq, heads, hd, 123, 10000);
      const got = x.slice();
      k.rope(got, seq, heads, hd, 123, 10000);
      assertClose(got, want, 2e-6, 1e-5);
      const pos = Int32Array.of(0, 5, 2, 4096, 7, 1);
      const w2 = x.slice();
      const g2 = x.slice();
      ref.ropeAt(w2, pos, heads, hd, 500000, true);
      k.ropeAt(g2, pos, heads, hd, 500000, true);
      assertClose(g2, w2, 2e-6, 1e-5);
    });

    test('silu, swiglu (and aliasing)', () => {
      const r = rng(16);
      const n = 1001;
      const g = randn(n, r, 6);
      const u = randn(n, r);
      const want = new Float32Array(n);
      const got = new Float32Array(n);
      ref.silu(want, g, n);
      k.silu(got, g, n);
      assertClose(got, want, 1e-6, 1e-6);
      ref.swiglu(want, g, u, n);
      k.swiglu(got, g, u, n);
      assertClose(got, want, 1e-6, 1e-6);
      const alias = g.slice();
      k.swiglu(alias, alias, u, n);
      assertClose(alias, want, 1e-6, 1e-6);
    });

    test('crossEntropy with and without gradient, ignored rows', () => {
      const r = rng(17);
      const [rows, vocab] = [7, 300];
      const logits = randn(rows * vocab, r, 5);
      const targets = Int32Array.of(0, 299, -100, 17, 5, -1, 150);
      const dw = new Float32Array(rows * vocab);
      const dg = new Float32Array(rows * vocab).fill(3);
      const lw = ref.crossEntropy(logits, targets, rows, vocab, dw);
      const lg = k.crossEntropy(logits, targets, rows, vocab, dg);
      assert.ok(Math.abs(lg - lw) < 1e-5, `${lg} vs ${lw}`);
      assertClose(dg, dw, 1e-7, 1e-5);
      assert.ok(Math.abs(k.crossEntropy(logits, targets, rows, vocab) - lw) < 1e-5);
    });

    test('adamw over several steps', () => {
      const r = rng(18);
      const n = 513;
      const p1 = randn(n, r);
      const p2 = p1.slice();
      const [m1, v1, m2, v2] = [0, 1, 2, 3].map(() => new Float32Array(n));
      for (let step = 1; step <= 4; step++) {
        const g = randn(n, r);
        ref.adamw(p1, g, m1, v1, n, 1e-3, 0.9, 0.999, 1e-8, 0.1, step);
        k.adamw(p2, g, m2, v2, n, 1e-3, 0.9, 0.999, 1e-8, 0.1, step);
      }
      assertClose(p2, p1, 1e-6, 1e-6);
      assertClose(m2, m1, 1e-7, 1e-6);
      assertClose(v2, v1, 1e-8, 1e-6);
    });

    test('loraSegmented (mixed ranks, gaps, empty segment)', () => {
      const r = rng(19);
      const [rows, inDim, outDim] = [12, 40, 24];
      const x = randn(rows * inDim, r);
      const segs = [
        { start: 0, end: 4, rank: 8, scale: 2, a: randn(8 * inDim, r), b: randn(outDim * 8, r) },
        { start: 4, end: 4, rank: 4, scale: 1, a: randn(4 * inDim, r), b: randn(outDim * 4, r) },
        { start: 6, end: 12, rank: 16, scale: 0.25, a: randn(16 * inDim, r), b: randn(outDim * 16, r) },
      ];
      const y0 = randn(rows * outDim, r);
      const want = y0.slice();
      const got = y0.slice();
      ref.loraSegmented(want, x, rows, inDim, outDim, segs);
      k.loraSegmented(got, x, rows, inDim, outDim, segs);
      assertClose(got, want, 1e-4, 1e-5);
      assert.deepEqual([...got.subarray(4 * outDim, 6 * outDim)], [...y0.subarray(4 * outDim, 6 * outDim)]);
    });

    test('loraSegmented: one-row segments of rank 8 (a decode step), widths not a multiple of 8', () => {
      const r = rng(23);
      for (const [inDim, outDim] of [
        [40, 24],
        [37, 29],
        [192, 512],
      ]) {
        const rows = 7;
        const x = randn(rows * inDim, r);
        const segs = [0, 1, 2, 4, 5, 6].map((row, i) => ({
          start: row,
          end: row === 4 ? 6 : row + 1,
          rank: i === 2 ? 3 : 8,
          scale: 0.5 + i,
          a: randn(8 * inDim, r),
          b: randn(outDim * 8, r),
        }));
        segs.splice(4, 1); // rows 4..5 one segment of two rows
        const y0 = randn(rows * outDim, r);
        const want = y0.slice();
        const got = y0.slice();
        ref.loraSegmented(want, x, rows, inDim, outDim, segs);
        k.loraSegmented(got, x, rows, inDim, outDim, segs);
        assertClose(got, want, 1e-4, 1e-4, `${inDim}×${outDim}`);
        assert.deepEqual([...got.subarray(3 * outDim, 4 * outDim)], [...y0.subarray(3 * outDim, 4 * outDim)]);
      }
    });

    test('loraSegmented over half-precision matrices (decode rows, odd widths, a prompt-length segment)', () => {
      const r = rng(31);
      for (const [inDim, outDim] of [
        [40, 24],
        [37, 29],
        [192, 512],
      ]) {
        const rows = 14;
        const x = randn(rows * inDim, r);
        const half = (n: number) => {
          const h = float32ToHalf(randn(n, r).map((v) => v * 0.1));
          h[0] = 0x0001; // the smallest subnormal
          h[1] = 0x83ff; // a negative subnormal
          h[2] = 0x7bff; // 65504, the largest finite half
          return h;
        };
        const segs = [
          { start: 0, end: 1, rank: 8, scale: 0.5, a: half(8 * inDim), b: half(outDim * 8) },
          { start: 1, end: 3, rank: 8, scale: 2, a: half(8 * inDim), b: half(outDim * 8) },
          { start: 3, end: 4, rank: 3, scale: 1, a: half(3 * inDim), b: half(outDim * 3) },
          // a prompt: long enough for the BLAS path, A half and B float32
          { start: 5, end: 14, rank: 8, scale: 0.25, a: half(8 * inDim), b: randn(outDim * 8, r) },
        ];
        const y0 = randn(rows * outDim, r);
        const want = y0.slice();
        const got = y0.slice();
        ref.loraSegmented(want, x, rows, inDim, outDim, segs);
        k.loraSegmented(got, x, rows, inDim, outDim, segs);
        assertClose(got, want, 1e-4, 1e-4, `${inDim}×${outDim}`);
        assert.deepEqual([...got.subarray(4 * outDim, 5 * outDim)], [...y0.subarray(4 * outDim, 5 * outDim)]);
        // the reference reads half bits as the values they encode
        const wide = segs.map((sg) => ({ ...sg, a: halfToFloat32Exact(sg.a), b: halfToFloat32Exact(sg.b) }));
        const viaF32 = y0.slice();
        ref.loraSegmented(viaF32, x, rows, inDim, outDim, wide);
        assert.deepEqual([...want], [...viaF32]);
      }
    });

    test('attentionCached: ragged rows (prompt + decode), grouped-query heads, scattered slots', () => {
      const r = rng(29);
      for (const [nHeads, nKvHeads, hd] of [
        [6, 2, 32],
        [4, 4, 6],
        [3, 1, 13],
      ]) {
        const [maxSeq, slotsN] = [40, 5];
        const kvDim = nKvHeads * hd;
        const slots = Int32Array.of(3, 0, 4, 1);
        const past = Int32Array.of(0, 17, 38, 5);
        const counts = Int32Array.of(21, 1, 2, 1);
        const tokens = 25;
        const q = randn(tokens * nHeads * hd, r);
        const kk = randn(tokens * kvDim, r);
        const v = randn(tokens * kvDim, r);
        const kc = randn(slotsN * maxSeq * kvDim, r);
        const vc = randn(slotsN * maxSeq * kvDim, r);
        const [kc1, vc1, kc2, vc2] = [kc.slice(), vc.slice(), kc.slice(), vc.slice()];
        const want = new Float32Array(q.length);
        const got = randn(q.length, r); // fully overwritten
        const args = [slots, past, counts, 4, maxSeq, nHeads, nKvHeads, hd, 1 / Math.sqrt(hd)] as const;
        ref.attentionCached(want, q, kk, v, kc1, vc1, ...args);
        k.attentionCached(got, q, kk, v, kc2, vc2, ...args);
        assertClose(got, want, 1e-5, 1e-4, `${nHeads}/${nKvHeads}×${hd}`);
        assert.deepEqual([...kc2], [...kc1]);
        assert.deepEqual([...vc2], [...vc1]);
      }
      assert.throws(
        () =>
          k.attentionCached(
            new Float32Array(8),
            new Float32Array(8),
            new Float32Array(8),
            new Float32Array(8),
            new Float32Array(64),
            new Float32Array(64),
            Int32Array.of(0),
            Int32Array.of(7),
            Int32Array.of(2),
            1,
            8,
            1,
            1,
            8,
            1,
          ),
        /past\[0\] \+ counts\[0\] = 9 must be within 0\.\.8/,
      );
      assert.throws(
        () =>
          k.attentionCached(
            new Float32Array(8),
            new Float32Array(8),
            new Float32Array(8),
            new Float32Array(8),
            new Float32Array(64),
            new Float32Array(64),
            Int32Array.of(1),
            Int32Array.of(0),
            Int32Array.of(1),
            1,
            8,
            1,
            1,
            8,
            1,
          ),
        /slots\[0\] = 1 lies outside the caches/,
      );
    });

    test('sampleRows: same tokens as the reference away from CDF boundaries, argmax at temperature 0', () => {
      const r = rng(37);
      const [rows, vocab] = [64, 4096];
      const logits = randn(rows * vocab, r, 4);
      for (let i = 0; i < vocab; i += 3) logits[5 * vocab + i] = Number.NEGATIVE_INFINITY; // a masked row
      const temperature = Float64Array.from({ length: rows }, (_, i) =>
        i % 8 === 0 ? 0 : 0.3 + (i % 5) * 0.3,
      );
      const uniform = Float64Array.from({ length: rows }, () => (r() + 1) / 2);
      const want = new Int32Array(rows);
      const got = new Int32Array(rows);
      ref.sampleRows(logits, rows, vocab, temperature, uniform, want);
      k.sampleRows(logits, rows, vocab, temperature, uniform, got);
      for (let row = 0; row < rows; row++) {
        if (got[row] === want[row]) continue;
        // allowed only when the draw lies within float rounding of the boundary between the two
        const z = logits.subarray(row * vocab, (row + 1) * vocab);
        let max = Number.NEGATIVE_INFINITY;
        for (const zi of z) max = Math.max(max, zi);
        const p = Array.from(z, (zi) => Math.exp((zi - max) / temperature[row]));
        const total = p.reduce((a, b) => a + b, 0);
        let cum = 0;
        for (let i = 0; i < Math.min(got[row], want[row]) + 1; i++) cum += p[i];
        assert.ok(
          Math.abs(cum / total - uniform[row]) < 1e-5,
          `row ${row}: ${got[row]} vs ${want[row]} away from a boundary`,
        );
      }
      assert.equal(
        got.filter((t, i) => t === want[i]).length >= rows - 1,
        true,
        'at most one boundary case in 64 draws',
      );
      for (let row = 0; row < rows; row += 8) {
        let best = 0;
        for (let i = 1; i < vocab; i++) if (logits[row * vocab + i] > logits[row * vocab + best]) best = i;
        assert.equal(got[row], best, `row ${row} argmax`);
      }
      assert.throws(
        () => k.sampleRows(logits, 1, vocab, Float64Array.of(-1), Float64Array.of(0.5), got),
        /temperature\[0\] must be ≥ 0/,
      );
    });

    test('backward kernels', () => {
      const r = rng(20);
      const [rows, cols] = [4, 33];
      const y = randn(rows * cols, r);
      ref.softmaxRows(y, rows, cols);
      const dy = randn(rows * cols, r);
      const want = new Float32Array(rows * cols);
      const got = new Float32Array(rows * cols);
      ref.softmaxRowsBackward(want, y, dy, rows, cols);
      k.softmaxRowsBackward(got, y, dy, rows, cols);
      assertClose(got, want, 1e-6, 1e-5);

      const dim = 48;
      const x = randn(rows * dim, r);
      const w = randn(dim, r);
      const dout = randn(rows * dim, r);
      const inv = ref.rmsnorm(new Float32Array(rows * dim), x, w, rows, dim, 1e-5);
      const [dxW, dxG] = [new Float32Array(rows * dim), new Float32Array(rows * dim)];
      const dwW = randn(dim, r);
      const dwG = dwW.slice();
      ref.rmsnormBackward(dxW, dwW, dout, x, w, inv, rows, dim);
      k.rmsnormBackward(dxG, dwG, dout, x, w, inv, rows, dim);
      assertClose(dxG, dxW, 1e-6, 1e-5);
      assertClose(dwG, dwW, 1e-6, 1e-5);

      const n = 200;
      const g = randn(n, r, 4);
      const u = randn(n, r);
      const d = randn(n, r);
      const [a1, b1, a2, b2] = [0, 1, 2, 3].map(() => new Float32Array(n));
      ref.swigluBackward(a1, b1, d, g, u, n);
      k.swigluBackward(a2, b2, d, g, u, n);
      assertClose(a2, a1, 1e-6, 1e-5);
      assertClose(b2, b1, 1e-6, 1e-5);
    });

    test('exp-based kernels over the whole float range (vectorised exp: underflow, -Infinity, large |x|)', () => {
      // Inputs sweep past where e^x underflows (below -87.3) and overflows (above 88.7) so that the
      // native backend's polynomial exp is checked against Math.exp at its clamps as well as inside.
      const n = 4099;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = -110 + (220 * i) / (n - 1);
      const u = randn(n, rng(31));
      const d = randn(n, rng(32));
      const [w1, g1, w2, g2] = [0, 1, 2, 3].map(() => new Float32Array(n));
      ref.silu(w1, x, n);
      k.silu(g1, x, n);
      assertClose(g1, w1, 1e-6, 1e-6, 'silu');
      ref.swiglu(w1, x, u, n);
      k.swiglu(g1, x, u, n);
      assertClose(g1, w1, 1e-6, 1e-6, 'swiglu');
      ref.swigluBackward(w1, w2, d, x, u, n);
      k.swigluBackward(g1, g2, d, x, u, n);
      assertClose(g1, w1, 1e-6, 1e-5, 'swigluBackward dgate');
      assertClose(g2, w2, 1e-6, 1e-5, 'swigluBackward dup');

      // softmax rows with a causal-style -Infinity tail, spreads of ±100, and a row of one finite value
      const [rows, cols] = [6, 131];
      const sm = randn(rows * cols, rng(33), 100);
      for (let j = 40; j < cols; j++) sm[j] = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < cols; j++) sm[cols + j] = j === 7 ? 3 : Number.NEGATIVE_INFINITY;
      const want = sm.slice();
      const got = sm.slice();
      ref.softmaxRows(want, rows, cols);
      k.softmaxRows(got, rows, cols);
      assertClose(got, want, 1e-7, 1e-5, 'softmaxRows');
      for (let j = 40; j < cols; j++) assert.equal(got[j], 0, 'masked entries are exactly 0');
      assert.equal(got[cols + 7], 1);
    });

    test('crossEntropy in place (dlogits is the logits array), wide logits, every row position', () => {
      const r = rng(34);
      const [rows, vocab] = [9, 4099];
      const logits = randn(rows * vocab, r, 40);
      const targets = Int32Array.of(0, 4098, -1, 17, 2049, 3, -100, 4097, 1);
      const want = new Float32Array(rows * vocab);
      const lw = ref.crossEntropy(logits, targets, rows, vocab, want);
      assert.ok(Math.abs(k.crossEntropy(logits, targets, rows, vocab) - lw) < 1e-5 * Math.max(1, lw));
      const inPlace = logits.slice();
      const lg = k.crossEntropy(inPlace, targets, rows, vocab, inPlace);
      assert.ok(Math.abs(lg - lw) < 1e-5 * Math.max(1, lw), `${lg} vs ${lw}`);
      assertClose(inPlace, want, 1e-7, 1e-5, 'in-place dlogits');
      const refInPlace = logits.slice();
      assert.equal(ref.crossEntropy(refInPlace, targets, rows, vocab, refInPlace), lw);
      assert.deepEqual([...refInPlace], [...want], 'the js reference in place');
    });

    test('ropeAt across theta / head-size changes, far and negative positions (cached tables)', () => {
      const r = rng(35);
      const heads = 3;
      const cases: [number, number, Int32Array][] = [
        [32, 10000, Int32Array.of(0, 1, 2, 255)],
        [16, 10000, Int32Array.of(3, 300, 1)],
        [32, 500000, Int32Array.of(7, 0, 600)],
        [32, 10000, Int32Array.of(1000, 2, 70000)],
        [8, 10000, Int32Array.of(-5, 4, -1)],
        [32, 10000, Int32Array.of(255, 0)],
      ];
      for (const [hd, theta, pos] of cases) {
        for (const inverse of [false, true]) {
          const x = randn(pos.length * heads * hd, r);
          const want = x.slice();
          ref.ropeAt(want, pos, heads, hd, theta, inverse);
          k.ropeAt(x, pos, heads, hd, theta, inverse);
          assertClose(x, want, 2e-6, 1e-5, `ropeAt hd=${hd} theta=${theta} positions ${[...pos]}`);
        }
      }
    });

    test('bad sizes throw a RangeError naming the argument', () => {
      assert.throws(
        () =>
          k.sgemm(
            false,
            false,
            2,
            2,
            2,
            1,
            new Float32Array(3),
            2,
            new Float32Array(4),
            2,
            0,
            new Float32Array(4),
            2,
          ),
        /a has 3 elements, needs at least 4/,
      );
      assert.throws(
        () =>
          k.sgemm(
            true,
            false,
            2,
            2,
            3,
            1,
            new Float32Array(6),
            1,
            new Float32Array(6),
            2,
            0,
            new Float32Array(4),
            2,
          ),
        /lda must be ≥ 2/,
      );
      assert.throws(() => k.softmaxRows(new Float32Array(5), 2, 3), /x has 5 elements/);
      assert.throws(
        () => k.crossEntropy(new Float32Array(4), Int32Array.of(0, 2), 2, 2),
        /targets\[1\] = 2 must be < vocab 2/,
      );
      assert.throws(() => k.rope(new Float32Array(6), 1, 1, 3, 0, 10000), /headDim must be even/);
      assert.throws(
        () =>
          k.loraSegmented(new Float32Array(4), new Float32Array(4), 2, 2, 2, [
            { start: 1, end: 3, rank: 1, scale: 1, a: new Float32Array(2), b: new Float32Array(2) },
          ]),
        /segments\[0\] rows 1\.\.3 must lie within 0\.\.2/,
      );
      assert.throws(
        () =>
          k.adamw(
            new Float32Array(1),
            new Float32Array(1),
            new Float32Array(1),
            new Float32Array(1),
            1,
            1,
            0.9,
            0.9,
            1e-8,
            0,
            0,
          ),
        /step must be/,
      );
    });
  });
}
