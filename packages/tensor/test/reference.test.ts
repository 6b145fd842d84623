// The JS reference backend checked against independent definitions: brute-force loops, closed forms,
// finite differences and hand-computed values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createJsKernels } from '../src/index.ts';
import { assertClose, gemmNaive, randn, rng } from './helpers.ts';

const js = createJsKernels();

describe('js reference', () => {
  test('sgemm 2×2 known product', () => {
    const c = new Float32Array(4);
    js.sgemm(
      false,
      false,
      2,
      2,
      2,
      1,
      Float32Array.of(1, 2, 3, 4),
      2,
      Float32Array.of(5, 6, 7, 8),
      2,
      0,
      c,
      2,
    );
    assert.deepEqual([...c], [19, 22, 43, 50]);
  });

  test('sgemm matches the definition for every transpose, padded leading dims and subarray views', () => {
    const r = rng(1);
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const [m, n, k] = [7, 5, 9];
        const lda = (transA ? m : k) + 3;
        const ldb = (transB ? k : n) + 2;
        const ldc = n + 4;
        const aBuf = randn(11 + (transA ? k : m) * lda, r);
        const bBuf = randn(5 + (transB ? n : k) * ldb, r);
        const cBuf = randn(3 + m * ldc, r);
        const a = aBuf.subarray(11);
        const b = bBuf.subarray(5);
        const c = cBuf.subarray(3);
        const want = c.slice();
        const prefix = cBuf.slice(0, 3);
        gemmNaive(transA, transB, m, n, k, 0.75, a, lda, b, ldb, -0.5, want, ldc);
        js.sgemm(transA, transB, m, n, k, 0.75, a, lda, b, ldb, -0.5, c, ldc);
        assertClose(c, want, 1e-5, 1e-5, `sgemm ${transA}/${transB}`);
        // the padding between rows and the elements before the views are untouched
        for (let i = 0; i < m; i++)
          for (let j = n; j < ldc && i * ldc + j < c.length; j++)
            assert.equal(c[i * ldc + j], want[i * ldc + j]);
        assert.deepEqual([...cBuf.subarray(0, 3)], [...prefix]);
      }
    }
  });

  test('sgemm with beta = 0 overwrites NaN in C', () => {
    const c = Float32Array.of(Number.NaN, Number.NaN);
    js.sgemm(false, false, 1, 2, 1, 1, Float32Array.of(2), 1, Float32Array.of(3, 4), 2, 0, c, 2);
    assert.deepEqual([...c], [6, 8]);
  });

  test('sgemmStridedBatched equals one sgemm per matrix', () => {
    const r = rng(2);
    const [m, n, k, batch] = [3, 4, 5, 3];
    const a = randn(batch * 20 + 1, r);
    const b = randn(batch * 24, r);
    const c = randn(batch * 16, r);
    const want = c.slice();
    for (let i = 0; i < batch; i++) {
      gemmNaive(
        false,
        true,
        m,
        n,
        k,
        1,
        a.subarray(i * 20),
        k,
        b.subarray(i * 24),
        k,
        1,
        want.subarray(i * 16),
        n,
      );
    }
    js.sgemmStridedBatched(false, true, m, n, k, 1, a, k, 20, b, k, 24, 1, c, n, 16, batch);
    assertClose(c, want, 1e-5, 1e-5);
  });

  test('softmaxRows: rows sum to 1, match exp/sum, survive large values and -Infinity masks', () => {
    const x = Float32Array.of(1, 2, 3, 1000, 1001, 1002, 0, Number.NEGATIVE_INFINITY, 0);
    const allMasked = Float32Array.of(Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY);
    js.softmaxRows(x, 3, 3);
    js.softmaxRows(allMasked, 1, 2);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0] + e[1] + e[2];
    assertClose(
      x.subarray(0, 3),
      e.map((v) => v / s),
      1e-7,
    );
    assertClose(
      x.subarray(3, 6),
      e.map((v) => v / s),
      1e-7,
    );
    assertClose(x.subarray(6), [0.5, 0, 0.5], 0);
    assert.deepEqual([...allMasked], [0, 0]);
    const r = rng(3);
    const y = randn(8 * 33, r, 10);
    js.softmaxRows(y, 8, 33);
    for (let i = 0; i < 8; i++)
      assert.ok(Math.abs(y.subarray(i * 33, i * 33 + 33).reduce((a, b) => a + b, 0) - 1) < 1e-6);
  });

  test('rmsnorm matches x·w/sqrt(mean(x²)+eps) and returns the inverse rms', () => {
    const x = Float32Array.of(3, 4, 0, 0, 1, 1);
    const w = Float32Array.of(1, 2);
    const out = new Float32Array(6);
    const inv = js.rmsnorm(out, x, w, 3, 2, 1e-5);
    const s0 = 1 / Math.sqrt(12.5 + 1e-5);
    const s2 = 1 / Math.sqrt(1 + 1e-5);
    assertClose(inv, [s0, 1 / Math.sqrt(1e-5), s2], 1e-6, 1e-6);
    assertClose(out, [3 * s0, 8 * s0, 0, 0, s2, 2 * s2], 1e-6);
  });

  test('rope equals a complex rotation of (x[i], x[i+d/2]) by pos·theta^(-2i/d)', () => {
    const r = rng(4);
    const [seq, heads, hd, off, theta] = [5, 3, 8, 7, 10000];
    const x = randn(seq * heads * hd, r);
    const got = x.slice();
    js.rope(got, seq, heads, hd, off, theta);
    for (let s = 0; s < seq; s++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < hd / 2; i++) {
          const o = (s * heads + h) * hd;
          const ang = (off + s) * theta ** (-(2 * i) / hd);
          const [re, im] = [x[o + i], x[o + i + hd / 2]];
          const wantRe = re * Math.cos(ang) - im * Math.sin(ang);
          const wantIm = re * Math.sin(ang) + im * Math.cos(ang);
          assert.ok(Math.abs(got[o + i] - wantRe) < 1e-5 && Math.abs(got[o + i + hd / 2] - wantIm) < 1e-5);
        }
      }
    }
  });

  test('rope: position 0 is the identity, scores depend only on relative position, inverse undoes it', () => {
    const r = rng(5);
    const hd = 16;
    const q = randn(hd, r);
    const k = randn(hd, r);
    const same = q.slice();
    js.rope(same, 1, 1, hd, 0, 10000);
    assert.deepEqual([...same], [...q]);
    const dotAt = (pq: number, pk: number) => {
      const a = q.slice();
      const b = k.slice();
      js.rope(a, 1, 1, hd, pq, 10000);
      js.rope(b, 1, 1, hd, pk, 10000);
      return a.reduce((s, v, i) => s + v * b[i], 0);
    };
    assert.ok(Math.abs(dotAt(10, 7) - dotAt(3, 0)) < 1e-4);
    const x = randn(3 * 2 * hd, r);
    const y = x.slice();
    const pos = Int32Array.of(4, 100, 9);
    js.ropeAt(y, pos, 2, hd, 500000, false);
    js.ropeAt(y, pos, 2, hd, 500000, true);
    assertClose(y, x, 1e-5);
  });

  test('silu and swiglu known values', () => {
    const x = Float32Array.of(0, 1, -1, 20);
    const out = new Float32Array(4);
    js.silu(out, x, 4);
    assertClose(out, [0, 0.7310585786, -0.2689414214, 20], 1e-6);
    js.swiglu(out, x, Float32Array.of(5, 2, 3, 0.5), 4);
    assertClose(out, [0, 1.4621171573, -0.8068242642, 10], 1e-6);
  });

  test('crossEntropy: uniform logits give log(vocab); ignored targets; gradient matches finite differences', () => {
    assert.ok(Math.abs(js.crossEntropy(new Float32Array(10), Int32Array.of(3), 1, 10) - Math.log(10)) < 1e-6);
    assert.equal(js.crossEntropy(new Float32Array(4), Int32Array.of(-1, -100), 2, 2), 0);
    const r = rng(6);
    const [rows, vocab] = [4, 7];
    const logits = randn(rows * vocab, r, 2);
    const targets = Int32Array.of(2, -100, 6, 0);
    const d = new Float32Array(rows * vocab).fill(9);
    const loss = js.crossEntropy(logits, targets, rows, vocab, d);
    // direct definition
    let want = 0;
    for (const row of [0, 2, 3]) {
      const z = [...logits.subarray(row * vocab, row * vocab + vocab)];
      want += Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - z[targets[row]];
    }
    assert.ok(Math.abs(loss - want / 3) < 1e-5);
    for (let j = 0; j < vocab; j++) assert.equal(d[vocab + j], 0, 'ignored row has zero gradient');
    const f64 = Float64Array.from(logits);
    const lossOf = (z: Float64Array) => {
      let s = 0;
      for (const row of [0, 2, 3]) {
        const zz = z.subarray(row * vocab, row * vocab + vocab);
        const mx = Math.max(...zz);
        s += mx + Math.log(zz.reduce((a, v) => a + Math.exp(v - mx), 0)) - zz[targets[row]];
      }
      return s / 3;
    };
    const h = 1e-6;
    for (let i = 0; i < rows * vocab; i++) {
      const p = f64.slice();
      const m = f64.slice();
      p[i] += h;
      m[i] -= h;
      const fd = (lossOf(p) - lossOf(m)) / (2 * h);
      assert.ok(Math.abs(d[i] - fd) < 1e-5, `dlogits[${i}] ${d[i]} vs ${fd}`);
    }
  });

  test('adamw: one hand-computed step and a second step with bias correction', () => {
    const p = Float32Array.of(1, -2);
    const g = Float32Array.of(0.5, -0.25);
    const m = new Float32Array(2);
    const v = new Float32Array(2);
    const [lr, b1, b2, eps, wd] = [0.1, 0.9, 0.999, 1e-8, 0.01];
    js.adamw(p, g, m, v, 2, lr, b1, b2, eps, wd, 1);
    // step 1: m̂ = g, v̂ = g², update = lr·g/(|g|+eps) ≈ lr·sign(g); decay 1 − lr·wd = 0.999
    assertClose(m, [0.05, -0.025], 1e-8);
    assertClose(v, [0.00025, 0.0000625], 1e-10);
    assertClose(p, [1 * 0.999 - 0.1, -2 * 0.999 + 0.1], 1e-6);
    js.adamw(p, g, m, v, 2, lr, b1, b2, eps, wd, 2);
    // step 2 with the same gradient: m = 0.095, v = 0.0004997500..., m̂ = 0.5, v̂ = 0.25 → update 0.1
    assertClose(m, [0.095, -0.0475], 1e-8);
    assertClose(p, [(0.999 - 0.1) * 0.999 - 0.1, (-1.998 + 0.1) * 0.999 + 0.1], 1e-6);
  });

  test('loraSegmented equals per-segment sgemms and leaves other rows alone', () => {
    const r = rng(7);
    const [rows, inDim, outDim] = [9, 6, 5];
    const x = randn(rows * inDim, r);
    const y = randn(rows * outDim, r);
    const segs = [
      { start: 0, end: 3, rank: 2, scale: 0.5, a: randn(2 * inDim, r), b: randn(outDim * 2, r) },
      { start: 5, end: 9, rank: 4, scale: 2, a: randn(4 * inDim, r), b: randn(outDim * 4, r) },
    ];
    const want = y.slice();
    for (const s of segs) {
      const len = s.end - s.start;
      const t = new Float32Array(len * s.rank);
      gemmNaive(
        false,
        true,
        len,
        s.rank,
        inDim,
        1,
        x.subarray(s.start * inDim),
        inDim,
        s.a,
        inDim,
        0,
        t,
        s.rank,
      );
      gemmNaive(
        false,
        true,
        len,
        outDim,
        s.rank,
        s.scale,
        t,
        s.rank,
        s.b,
        s.rank,
        1,
        want.subarray(s.start * outDim),
        outDim,
      );
    }
    const before = y.slice();
    js.loraSegmented(y, x, rows, inDim, outDim, segs);
    assertClose(y, want, 1e-5, 1e-5);
    assert.deepEqual([...y.subarray(3 * outDim, 5 * outDim)], [...before.subarray(3 * outDim, 5 * outDim)]);
  });

  test('attentionCached: writes the new keys/values into their slots, then equals causal softmax attention per head', () => {
    const r = rng(31);
    const [nHeads, nKvHeads, hd, maxSeq, slotsN] = [4, 2, 6, 9, 3];
    const kvDim = nKvHeads * hd;
    const qDim = nHeads * hd;
    const scale = 1 / Math.sqrt(hd);
    const kc = randn(slotsN * maxSeq * kvDim, r);
    const vc = randn(slotsN * maxSeq * kvDim, r);
    // row 0: slot 2 with 3 cached positions and 2 new tokens; row 1: slot 0, fresh prompt of 4
    const slots = Int32Array.of(2, 0);
    const past = Int32Array.of(3, 0);
    const counts = Int32Array.of(2, 4);
    const tokens = 6;
    const q = randn(tokens * qDim, r);
    const k = randn(tokens * kvDim, r);
    const v = randn(tokens * kvDim, r);
    const o = new Float32Array(tokens * qDim);
    const kc2 = kc.slice();
    const vc2 = vc.slice();
    js.attentionCached(o, q, k, v, kc2, vc2, slots, past, counts, 2, maxSeq, nHeads, nKvHeads, hd, scale);
    // keys of token i of row b sit at slot·maxSeq + past + i; nothing else changed
    const at = (slot: number, pos: number) => (slot * maxSeq + pos) * kvDim;
    const where = [at(2, 3), at(2, 4), at(0, 0), at(0, 1), at(0, 2), at(0, 3)];
    const expectK = kc.slice();
    const expectV = vc.slice();
    where.forEach((off, i) => {
      expectK.set(k.subarray(i * kvDim, (i + 1) * kvDim), off);
      expectV.set(v.subarray(i * kvDim, (i + 1) * kvDim), off);
    });
    assert.deepEqual([...kc2], [...expectK]);
    assert.deepEqual([...vc2], [...expectV]);
    // each query by the definition: scores over positions 0..P through sgemm, softmaxRows, then ·v
    const tokenSlot = [2, 2, 0, 0, 0, 0];
    const tokenPos = [3, 4, 0, 1, 2, 3];
    for (let i = 0; i < tokens; i++) {
      const L = tokenPos[i] + 1;
      for (let h = 0; h < nHeads; h++) {
        const g = Math.floor(h / (nHeads / nKvHeads));
        const base = tokenSlot[i] * maxSeq * kvDim + g * hd;
        const sc = new Float32Array(L);
        gemmNaive(
          false,
          true,
          1,
          L,
          hd,
          scale,
          q.subarray(i * qDim + h * hd),
          hd,
          expectK.subarray(base),
          kvDim,
          0,
          sc,
          L,
        );
        js.softmaxRows(sc, 1, L);
        const want = new Float32Array(hd);
        gemmNaive(false, false, 1, hd, L, 1, sc, L, expectV.subarray(base), kvDim, 0, want, hd);
        assertClose(
          o.subarray(i * qDim + h * hd, i * qDim + (h + 1) * hd),
          want,
          1e-5,
          1e-5,
          `token ${i} head ${h}`,
        );
      }
    }
  });

  test('sampleRows: argmax at temperature 0, inverse CDF of softmax(z/T) otherwise', () => {
    // p ∝ e^(z/T): with z = ln(1, 2, 3, 4) and T = 1 the CDF is 0.1, 0.3, 0.6, 1
    const z = Float32Array.from([1, 2, 3, 4].map(Math.log));
    const out = new Int32Array(1);
    const pick = (u: number, t: number) => {
      js.sampleRows(z, 1, 4, Float64Array.of(t), Float64Array.of(u), out);
      return out[0];
    };
    assert.deepEqual(
      [0, 0.09, 0.11, 0.29, 0.31, 0.59, 0.61, 0.999].map((u) => pick(u, 1)),
      [0, 0, 1, 1, 2, 2, 3, 3],
    );
    assert.equal(pick(0.5, 0), 3);
    // T = 0.5 squares the weights: 1, 4, 9, 16 of 30
    assert.deepEqual(
      [0.03, 0.04, 0.16, 0.17, 0.46, 0.47].map((u) => pick(u, 0.5)),
      [0, 1, 1, 2, 2, 3],
    );
    // masked (-Infinity) entries are never drawn; ties in argmax go to the first
    const masked = Float32Array.of(Number.NEGATIVE_INFINITY, 2, Number.NEGATIVE_INFINITY, 2);
    const two = new Int32Array(2);
    js.sampleRows(
      Float32Array.of(...masked, ...masked),
      2,
      4,
      Float64Array.of(0, 1),
      Float64Array.of(0.2, 0.0),
      two,
    );
    assert.deepEqual([...two], [1, 1]);
    js.sampleRows(masked, 1, 4, Float64Array.of(1), Float64Array.of(0.7), out);
    assert.equal(out[0], 3);
  });

  test('backward kernels match finite differences of their forwards', () => {
    const r = rng(8);
    const h = 1e-3;
    const fd = (f: (x: Float32Array) => number, x: Float32Array, i: number) => {
      const p = x.slice();
      const m = x.slice();
      p[i] += h;
      m[i] -= h;
      return (f(p) - f(m)) / (2 * h);
    };
    // softmax: L = Σ dy ⊙ softmax(x)
    const [rows, cols] = [2, 5];
    const x = randn(rows * cols, r);
    const dy = randn(rows * cols, r);
    const lossS = (z: Float32Array) => {
      const y = z.slice();
      js.softmaxRows(y, rows, cols);
      return y.reduce((s, v, i) => s + v * dy[i], 0);
    };
    const y = x.slice();
    js.softmaxRows(y, rows, cols);
    const dx = new Float32Array(rows * cols);
    js.softmaxRowsBackward(dx, y, dy, rows, cols);
    for (let i = 0; i < x.length; i++)
      assert.ok(Math.abs(dx[i] - fd(lossS, x, i)) < 2e-3, `softmax dx[${i}]`);
    // rmsnorm: L = Σ dout ⊙ rmsnorm(x, w)
    const dim = 6;
    const xr = randn(2 * dim, r);
    const w = randn(dim, r);
    const dout = randn(2 * dim, r);
    const lossR = (z: Float32Array, ww = w) => {
      const o = new Float32Array(z.length);
      js.rmsnorm(o, z, ww, 2, dim, 1e-5);
      return o.reduce((s, v, i) => s + v * dout[i], 0);
    };
    const inv = js.rmsnorm(new Float32Array(2 * dim), xr, w, 2, dim, 1e-5);
    const dxr = new Float32Array(2 * dim);
    const dw = new Float32Array(dim).fill(1); // accumulates
    js.rmsnormBackward(dxr, dw, dout, xr, w, inv, 2, dim);
    for (let i = 0; i < xr.length; i++)
      assert.ok(Math.abs(dxr[i] - fd(lossR, xr, i)) < 3e-3, `rmsnorm dx[${i}]`);
    for (let j = 0; j < dim; j++) {
      const g = fd((ww) => lossR(xr, ww), w, j);
      assert.ok(Math.abs(dw[j] - 1 - g) < 3e-3, `rmsnorm dw[${j}]`);
    }
    // swiglu: L = Σ dout ⊙ silu(g)·u
    const n = 7;
    const gate = randn(n, r, 3);
    const up = randn(n, r);
    const d2 = randn(n, r);
    const dg = new Float32Array(n);
    const du = new Float32Array(n);
    js.swigluBackward(dg, du, d2, gate, up, n);
    const lossW = (gg: Float32Array, uu: Float32Array) => {
      const o = new Float32Array(n);
      js.swiglu(o, gg, uu, n);
      return o.reduce((s, v, i) => s + v * d2[i], 0);
    };
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(dg[i] - fd((gg) => lossW(gg, up), gate, i)) < 2e-3, `swiglu dgate[${i}]`);
      assert.ok(Math.abs(du[i] - fd((uu) => lossW(gate, uu), up, i)) < 2e-3, `swiglu dup[${i}]`);
    }
  });
});
