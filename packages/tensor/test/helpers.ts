import assert from 'node:assert/strict';

/** Deterministic uniform [-1, 1) generator (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1;
  };
}

export function randn(n: number, r: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r() * scale;
  return out;
}

/** Asserts |a−b| ≤ atol + rtol·|b| elementwise, reporting the worst element. */
export function assertClose(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  atol: number,
  rtol = 0,
  what = 'value',
): void {
  assert.equal(a.length, b.length, `${what}: length`);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0)
    assert.fail(`${what}[${worst}]: ${a[worst]} vs ${b[worst]} (tolerance ${atol} + ${rtol}·|ref|)`);
}

/** Naive f64 C = alpha·op(A)·op(B) + beta·C with leading dimensions, written from the definition. */
export function gemmNaive(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: ArrayLike<number>,
  lda: number,
  b: ArrayLike<number>,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * lda + i] : a[i * lda + p];
        const bv = transB ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      const prev = beta === 0 ? 0 : beta * c[i * ldc + j];
      c[i * ldc + j] = alpha * s + prev;
    }
  }
}
