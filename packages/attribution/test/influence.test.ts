import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import {
  AttributionError,
  dataInf,
  fromHalf,
  type GradientSet,
  gradDot,
  Prng,
  RandomProjector,
  readGradientStore,
  toHalf,
  tracIn,
  writeGradientStore,
} from '../src/index.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();
after(() => tmp.cleanup());

function randomSet(seed: number, n: number, dims: number[], checkpoints: number): GradientSet {
  const r = new Prng(seed);
  const D = dims.reduce((a, b) => a + b, 0);
  return {
    layerDims: dims,
    examples: Array.from({ length: n }, (_, i) => ({
      rowId: `r${i}`,
      contributor: `0xc${i % 4}`,
      label: i % 2,
    })),
    checkpoints: Array.from({ length: checkpoints }, (_, c) => ({
      lr: 0.1 / (c + 1),
      grads: Float32Array.from({ length: n * D }, () => r.gaussian() * (1 + (c % 2))),
    })),
  };
}

function randomVec(seed: number, D: number): Float32Array {
  const r = new Prng(seed);
  return Float32Array.from({ length: D }, () => r.gaussian());
}

type Mat = number[][];
const eye = (k: number): Mat =>
  Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => (i === j ? 1 : 0)));
const quad = (u: number[], A: Mat, w: number[]) =>
  u.reduce((s, ui, i) => s + ui * A[i].reduce((t, a, j) => t + a * w[j], 0), 0);

function invert(A: Mat): Mat {
  const k = A.length;
  const M = A.map((row, i) => [...row, ...eye(k)[i]]);
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    const d = M[c][c];
    for (let j = 0; j < 2 * k; j++) M[c][j] /= d;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = M[r][c];
      for (let j = 0; j < 2 * k; j++) M[r][j] -= f * M[c][j];
    }
  }
  return M.map((row) => row.slice(k));
}

/** DataInf with explicit matrices: A_l = (1/(nλ_l)) Σ_i (I − g_i g_iᵀ/(λ_l + g_iᵀg_i)), λ_l = 0.1·mean‖g_i‖². */
function denseDataInf(set: GradientSet, v: Float32Array) {
  const n = set.examples.length;
  const D = set.layerDims.reduce((a, b) => a + b, 0);
  const G = set.checkpoints.at(-1)!.grads;
  const scores = new Array(n).fill(0);
  const self = new Array(n).fill(0);
  let off = 0;
  for (const k of set.layerDims) {
    const g = (i: number) => Array.from(G.subarray(i * D + off, i * D + off + k));
    const norms = Array.from({ length: n }, (_, i) => g(i).reduce((s, x) => s + x * x, 0));
    const lambda = (0.1 * norms.reduce((a, b) => a + b, 0)) / n;
    const A = eye(k).map((row) => row.map(() => 0));
    for (let i = 0; i < n; i++) {
      const gi = g(i);
      for (let x = 0; x < k; x++) {
        for (let y = 0; y < k; y++)
          A[x][y] += ((x === y ? 1 : 0) - (gi[x] * gi[y]) / (lambda + norms[i])) / (n * lambda);
      }
    }
    const vl = Array.from(v.subarray(off, off + k));
    for (let i = 0; i < n; i++) {
      scores[i] += quad(vl, A, g(i));
      self[i] += quad(g(i), A, g(i));
    }
    off += k;
  }
  return { scores, self };
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => {
  assert.equal(a.length, b.length);
  const scale = Math.max(1e-12, ...Array.from(b, Math.abs));
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i] - b[i]) <= tol * scale, `[${i}] ${a[i]} vs ${b[i]}`);
};

test('DataInf matches the formula computed with explicit matrices (scores and self-influence, per layer)', () => {
  for (const [seed, n, dims] of [
    [1, 12, [3, 5]],
    [2, 30, [4, 2, 6]],
    [3, 5, [9]], // fewer examples than dims: self-influence takes the Gram path
  ] as const) {
    const set = randomSet(seed, n, [...dims], 2);
    const v = randomVec(
      seed + 100,
      set.layerDims.reduce((a, b) => a + b, 0),
    );
    const want = denseDataInf(set, v);
    close(dataInf().scores(set, [v, v]), want.scores);
    close(dataInf().selfInfluence(set), want.self);
  }
});

test('DataInf is the exact damped inverse for one example (Sherman–Morrison)', () => {
  const set = randomSet(5, 1, [6], 1);
  const g = Array.from(set.checkpoints[0].grads);
  const lambda = 0.1 * g.reduce((s, x) => s + x * x, 0);
  const H = g.map((gi, i) => g.map((gj, j) => gi * gj + (i === j ? lambda : 0)));
  const v = randomVec(9, 6);
  const exact = quad(Array.from(v), invert(H), g);
  close(dataInf().scores(set, [v]), [exact], 1e-6);
});

test('DataInf with the exact inverse equals v_lᵀ (G_l + λ_l I)⁻¹ g_{k,l} computed by explicit inversion', () => {
  const set = randomSet(21, 15, [4, 7], 2); // one set for both rules: factors are cached per array and λ
  for (const perEntry of [false, true, false]) {
    const n = 15;
    const D = 11;
    const G = set.checkpoints.at(-1)!.grads;
    const v = randomVec(77, D);
    const scores = new Array(n).fill(0);
    const self = new Array(n).fill(0);
    let off = 0;
    for (const k of set.layerDims) {
      const g = (i: number) => Array.from(G.subarray(i * D + off, i * D + off + k));
      const mean =
        Array.from({ length: n }, (_, i) => g(i).reduce((s, x) => s + x * x, 0)).reduce((a, b) => a + b) / n;
      const lambda = (0.1 * mean) / (perEntry ? k : 1);
      const H = eye(k).map((row) => row.map((x) => x * lambda));
      for (let i = 0; i < n; i++) {
        const gi = g(i);
        for (let x = 0; x < k; x++) for (let y = 0; y < k; y++) H[x][y] += (gi[x] * gi[y]) / n;
      }
      const Hinv = invert(H);
      const vl = Array.from(v.subarray(off, off + k));
      for (let i = 0; i < n; i++) {
        scores[i] += quad(vl, Hinv, g(i));
        self[i] += quad(g(i), Hinv, g(i));
      }
      off += k;
    }
    const m = dataInf({ inverse: 'exact', perEntry });
    close(m.scores(set, [v, v]), scores, 1e-7);
    close(m.selfInfluence(set), self, 1e-7);
  }
  assert.throws(
    () => dataInf({ inverse: 'lissa' as 'exact' }),
    (e: unknown) => e instanceof AttributionError && /inverse must be datainf or exact/.test(e.message),
  );
});

test('DataInf approaches the exact inverse when the damping dominates (λ ≫ ‖g‖²)', () => {
  const set = randomSet(31, 40, [5, 3], 1);
  const v = randomVec(5, 8);
  const approx = dataInf({ dampingScale: 1e4 }).scores(set, [v]);
  const exact = dataInf({ dampingScale: 1e4, inverse: 'exact' }).scores(set, [v]);
  close(approx, exact, 1e-3);
});

test('gradient-dot and TracIn equal direct sums; TracIn weights checkpoints by learning rate', () => {
  const set = randomSet(4, 20, [3, 4], 3);
  const D = 7;
  const tests = [randomVec(1, D), randomVec(2, D), randomVec(3, D)];
  const dot = (c: number, i: number, v: Float32Array) => {
    let s = 0;
    for (let j = 0; j < D; j++) s += set.checkpoints[c].grads[i * D + j] * v[j];
    return s;
  };
  close(
    gradDot().scores(set, tests),
    Array.from({ length: 20 }, (_, i) => dot(2, i, tests[2])),
    1e-9,
  );
  close(
    tracIn().scores(set, tests),
    Array.from({ length: 20 }, (_, i) =>
      set.checkpoints.reduce((s, c, ci) => s + c.lr * dot(ci, i, tests[ci]), 0),
    ),
    1e-9,
  );
  const sq = (c: number, i: number) => dot(c, i, set.checkpoints[c].grads.subarray(i * D, i * D + D));
  close(
    tracIn().selfInfluence(set),
    Array.from({ length: 20 }, (_, i) => set.checkpoints.reduce((s, c, ci) => s + c.lr * sq(ci, i), 0)),
    1e-9,
  );
  close(
    gradDot().selfInfluence(set),
    Array.from({ length: 20 }, (_, i) => sq(2, i)),
    1e-9,
  );
  assert.throws(() => tracIn().scores(set, [tests[0]]), /1 checkpoints given, store has 3/);
  assert.throws(() => gradDot().scores(set, [new Float32Array(3)]), /expected 7/);
});

test('random projection preserves inner products approximately (Johnson–Lindenstrauss) and is seeded', () => {
  const d = 600;
  for (const kind of ['rademacher', 'gaussian'] as const) {
    const proj = new RandomProjector({ seed: 42, kind, inputDims: [d, 200], outputDims: [512, 128] });
    let worst = 0;
    for (let t = 0; t < 20; t++) {
      const x = [randomVec(t, d), randomVec(1000 + t, 200)];
      const y = [randomVec(500 + t, d), randomVec(2000 + t, 200)];
      const px = proj.project(x);
      const py = proj.project(y);
      const ip = (a: ArrayLike<number>, b: ArrayLike<number>, s = 0, e = a.length) => {
        let r = 0;
        for (let j = s; j < e; j++) r += a[j] * b[j];
        return r;
      };
      const nx = Math.sqrt(ip(x[0], x[0]));
      const ny = Math.sqrt(ip(y[0], y[0]));
      const err = Math.abs(ip(px, py, 0, 512) - ip(x[0], y[0])) / (nx * ny);
      worst = Math.max(worst, err);
      const normRatio = ip(px, px, 0, 512) / ip(x[0], x[0]);
      assert.ok(normRatio > 0.75 && normRatio < 1.25, `${kind} norm ratio ${normRatio}`);
    }
    assert.ok(worst < 5 / Math.sqrt(512), `${kind} worst relative inner-product error ${worst}`);
    const again = new RandomProjector({ seed: 42, kind, inputDims: [d, 200], outputDims: [512, 128] });
    assert.deepEqual(again.matrix(1), proj.matrix(1));
    const other = new RandomProjector({ seed: 43, kind, inputDims: [d, 200], outputDims: [512, 128] });
    assert.notDeepEqual(other.matrix(0).subarray(0, 64), proj.matrix(0).subarray(0, 64));
  }
});

test('float16 conversion round-trips within half precision', () => {
  for (const v of [0, 1, -2, 0.1, 65504, 6e-8, -2.71, 1e-3]) {
    const back = fromHalf(toHalf(v));
    assert.ok(Math.abs(back - v) <= Math.max(Math.abs(v) * 2 ** -11, 6e-8), `${v} -> ${back}`);
  }
  assert.equal(fromHalf(toHalf(1e6)), Number.POSITIVE_INFINITY);
  assert.equal(toHalf(1), 0x3c00);
});

test('gradient store round-trips (f32 exact, f16 close) and rejects truncated or altered files', () => {
  const set = randomSet(8, 50, [16, 16], 2);
  const p32 = tmp.file('g32.olgs');
  const bytes = writeGradientStore(p32, set);
  const back = readGradientStore(p32);
  assert.equal(back.fileBytes, bytes);
  assert.deepEqual(back.checkpoints[1].grads, set.checkpoints[1].grads);
  assert.deepEqual(back.examples, set.examples);
  const p16 = tmp.file('g16.olgs');
  writeGradientStore(p16, { ...set, dtype: 'f16' });
  const h = readGradientStore(p16);
  close(h.checkpoints[0].grads, set.checkpoints[0].grads, 2e-3);

  const good = readFileSync(p32);
  truncateSync(p32, good.length - 1);
  assert.throws(
    () => readGradientStore(p32),
    (e: unknown) => e instanceof AttributionError && e.code === 'GRADSTORE_TRUNCATED',
  );
  const bad = Buffer.from(good);
  bad[good.length - 10] ^= 1;
  writeFileSync(p32, bad);
  assert.throws(() => readGradientStore(p32), /checksum mismatch/);
  assert.throws(() => writeGradientStore(tmp.file('x'), { ...set, layerDims: [16, 15] }), /expected 50 × 31/);
});
