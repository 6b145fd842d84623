// WebAssembly SIMD kernels (AssemblyScript). Compiled by scripts/build-wasm.mjs to wasm/tensor.wasm.
// No allocation happens here: the JS side (src/wasm.ts) lays out every array in linear memory and
// passes byte offsets. Reductions accumulate in f64 like the JS reference.
//
// Why hand-written: no npm package offers a WebAssembly SIMD sgemm with transposes and leading
// dimensions usable from Node; this is a small GotoBLAS-style blocked gemm (pack A and B, 5×8 f32x4
// micro-kernel) which is what such a library would contain.

const MR: i32 = 5;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 120;
const NC: i32 = 2048;

const tile = memory.data(MR * NR * 4, 16);

export function heapBase(): usize {
  return __heap_base;
}

/** Floats of scratch sgemm needs at `work`. */
export function sgemmWorkFloats(): i32 {
  return MC * KC + KC * NC;
}

@inline
function f32at(base: usize, idx: usize): f32 {
  return load<f32>(base + (idx << 2));
}

function packA(transA: bool, a: usize, lda: i32, i0: i32, p0: i32, mc: i32, kc: i32, alpha: f32, dst: usize): void {
  // strip s (MR rows) holds element (r, p) at dst[s·MR·kc + p·MR + r]; rows past mc are zero
  for (let is = 0; is < mc; is += MR) {
    const rows = min(MR, mc - is);
    const base = dst + (<usize>(is * kc) << 2);
    if (transA) {
      for (let p = 0; p < kc; p++) {
        const d = base + (<usize>(p * MR) << 2);
        const src = a + ((<usize>(p0 + p) * <usize>lda + <usize>(i0 + is)) << 2);
        for (let r = 0; r < MR; r++) store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(src + (<usize>r << 2)) * alpha : 0);
      }
    } else {
      for (let r = 0; r < MR; r++) {
        const d = base + (<usize>r << 2);
        if (r >= rows) {
          for (let p = 0; p < kc; p++) store<f32>(d + (<usize>(p * MR) << 2), 0);
          continue;
        }
        const src = a + ((<usize>(i0 + is + r) * <usize>lda + <usize>p0) << 2);
        for (let p = 0; p < kc; p++) store<f32>(d + (<usize>(p * MR) << 2), load<f32>(src + (<usize>p << 2)) * alpha);
      }
    }
  }
}

function packB(transB: bool, b: usize, ldb: i32, p0: i32, j0: i32, kc: i32, nc: i32, dst: usize): void {
  // panel q (NR columns) holds element (p, c) at dst[q·NR·kc + p·NR + c]; columns past nc are zero
  for (let js = 0; js < nc; js += NR) {
    const cols = min(NR, nc - js);
    const base = dst + (<usize>(js * kc) << 2);
    if (transB) {
      for (let cc = 0; cc < NR; cc++) {
        const d = base + (<usize>cc << 2);
        if (cc >= cols) {
          for (let p = 0; p < kc; p++) store<f32>(d + (<usize>(p * NR) << 2), 0);
          continue;
        }
        const src = b + ((<usize>(j0 + js + cc) * <usize>ldb + <usize>p0) << 2);
        for (let p = 0; p < kc; p++) store<f32>(d + (<usize>(p * NR) << 2), load<f32>(src + (<usize>p << 2)));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = base + (<usize>(p * NR) << 2);
        const src = b + ((<usize>(p0 + p) * <usize>ldb + <usize>(j0 + js)) << 2);
        if (cols == NR) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
        } else {
          for (let cc = 0; cc < NR; cc++) store<f32>(d + (<usize>cc << 2), cc < cols ? load<f32>(src + (<usize>cc << 2)) : 0);
        }
      }
    }
  }
}

@inline
function addRow(c: usize, x0: v128, x1: v128): void {
  v128.store(c, f32x4.add(v128.load(c), x0));
  v128.store(c, f32x4.add(v128.load(c, 16), x1), 16);
}

function kernel(kc: i32, pa: usize, pb: usize, c: usize, ldc: i32, rows: i32, cols: i32): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0);
  let c41 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0));
    c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0));
    c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0));
    c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0));
    c31 = f32x4.add(c31, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 16);
    c40 = f32x4.add(c40, f32x4.mul(a, b0));
    c41 = f32x4.add(c41, f32x4.mul(a, b1));
    pa += 20;
    pb += 32;
  }
  const ld = <usize>ldc << 2;
  if (rows == MR && cols == NR) {
    addRow(c, c00, c01);
    addRow(c + ld, c10, c11);
    addRow(c + 2 * ld, c20, c21);
    addRow(c + 3 * ld, c30, c31);
    addRow(c + 4 * ld, c40, c41);
    return;
  }
  v128.store(tile, c00);
  v128.store(tile, c01, 16);
  v128.store(tile, c10, 32);
  v128.store(tile, c11, 48);
  v128.store(tile, c20, 64);
  v128.store(tile, c21, 80);
  v128.store(tile, c30, 96);
  v128.store(tile, c31, 112);
  v128.store(tile, c40, 128);
  v128.store(tile, c41, 144);
  for (let r = 0; r < rows; r++) {
    const crow = c + <usize>r * ld;
    for (let j = 0; j < cols; j++) {
      const q = crow + (<usize>j << 2);
      store<f32>(q, load<f32>(q) + f32at(tile, <usize>(r * NR + j)));
    }
  }
}

/** C = alpha·op(A)·op(B) + beta·C, row-major; a, b, c, work are byte offsets. */
export function sgemm(
  transA: bool,
  transB: bool,
  m: i32,
  n: i32,
  k: i32,
  alpha: f32,
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  beta: f32,
  c: usize,
  ldc: i32,
  work: usize,
): void {
  for (let i = 0; i < m; i++) {
    const row = c + ((<usize>i * <usize>ldc) << 2);
    if (beta == 0) memory.fill(row, 0, <usize>n << 2);
    else if (beta != 1) {
      for (let j = 0; j < n; j++) {
        const q = row + (<usize>j << 2);
        store<f32>(q, load<f32>(q) * beta);
      }
    }
  }
  if (k == 0 || alpha == 0) return;
  const pA = work;
  const pB = work + (<usize>(MC * KC) << 2);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      packB(transB, b, ldb, pc, jc, kc, nc, pB);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(transA, a, lda, ic, pc, mc, kc, alpha, pA);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const bp = pB + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const cp = c + ((<usize>(ic + ir) * <usize>ldc + <usize>(jc + jr)) << 2);
            kernel(kc, pA + (<usize>(ir * kc) << 2), bp, cp, ldc, rows, cols);
          }
        }
      }
    }
  }
}

export function softmaxRows(x: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const p = x + ((<usize>r * <usize>cols) << 2);
    let mx: f32 = -Infinity;
    for (let j = 0; j < cols; j++) mx = max(mx, f32at(p, j));
    if (mx == -Infinity) {
      memory.fill(p, 0, <usize>cols << 2);
      continue;
    }
    let sum: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const e = Mathf.exp(f32at(p, j) - mx);
      store<f32>(p + (<usize>j << 2), e);
      sum += e;
    }
    const inv = <f32>(1.0 / sum);
    for (let j = 0; j < cols; j++) store<f32>(p + (<usize>j << 2), f32at(p, j) * inv);
  }
}

export function rmsnorm(out: usize, x: usize, w: usize, rows: i32, dim: i32, eps: f64, inv: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>dim;
    let ss: f64 = 0;
    for (let j = 0; j < dim; j++) {
      const v = <f64>f32at(x, o + j);
      ss += v * v;
    }
    const s = <f32>(1.0 / Math.sqrt(ss / <f64>dim + eps));
    store<f32>(inv + (<usize>r << 2), s);
    for (let j = 0; j < dim; j++) store<f32>(out + ((o + j) << 2), f32at(x, o + j) * s * f32at(w, j));
  }
}

export function ropeAt(x: usize, pos: usize, seq: i32, heads: i32, hd: i32, theta: f64, inverse: bool, freq: usize): void {
  const half = hd >> 1;
  const sign: f64 = inverse ? -1.0 : 1.0;
  for (let i = 0; i < half; i++) store<f64>(freq + (<usize>i << 3), Math.pow(theta, (-2.0 * <f64>i) / <f64>hd));
  for (let s = 0; s < seq; s++) {
    const ps = <f64>load<i32>(pos + (<usize>s << 2));
    for (let i = 0; i < half; i++) {
      const ang = ps * load<f64>(freq + (<usize>i << 3));
      const cs = <f32>Math.cos(ang);
      const sn = <f32>(sign * Math.sin(ang));
      for (let h = 0; h < heads; h++) {
        const p = x + ((<usize>(s * heads + h) * <usize>hd) << 2);
        const q1 = p + (<usize>i << 2);
        const q2 = p + (<usize>(i + half) << 2);
        const x1 = load<f32>(q1);
        const x2 = load<f32>(q2);
        store<f32>(q1, x1 * cs - x2 * sn);
        store<f32>(q2, x2 * cs + x1 * sn);
      }
    }
  }
}

export function silu(out: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const v = f32at(x, i);
    store<f32>(out + (<usize>i << 2), v / (1 + Mathf.exp(-v)));
  }
}

export function swiglu(out: usize, g: usize, u: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const v = f32at(g, i);
    store<f32>(out + (<usize>i << 2), (v / (1 + Mathf.exp(-v))) * f32at(u, i));
  }
}

export function crossEntropy(lg: usize, tg: usize, rows: i32, vocab: i32, dl: usize, wantGrad: bool): f64 {
  let count = 0;
  for (let r = 0; r < rows; r++) if (load<i32>(tg + (<usize>r << 2)) >= 0) count++;
  let loss: f64 = 0;
  const invCount: f64 = count > 0 ? 1.0 / <f64>count : 0;
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>vocab;
    const t = load<i32>(tg + (<usize>r << 2));
    if (t < 0) {
      if (wantGrad) memory.fill(dl + (o << 2), 0, <usize>vocab << 2);
      continue;
    }
    let mx: f32 = -Infinity;
    for (let j = 0; j < vocab; j++) mx = max(mx, f32at(lg, o + j));
    let sum: f64 = 0;
    for (let j = 0; j < vocab; j++) sum += Math.exp(<f64>f32at(lg, o + j) - <f64>mx);
    const lse = <f64>mx + Math.log(sum);
    loss += lse - <f64>f32at(lg, o + t);
    if (wantGrad) {
      for (let j = 0; j < vocab; j++) {
        store<f32>(dl + ((o + j) << 2), <f32>(Math.exp(<f64>f32at(lg, o + j) - lse) * invCount));
      }
      const q = dl + ((o + t) << 2);
      store<f32>(q, <f32>(<f64>load<f32>(q) - invCount));
    }
  }
  return count == 0 ? 0 : loss / <f64>count;
}

export function adamw(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  lr: f64,
  b1: f64,
  b2: f64,
  eps: f64,
  wd: f64,
  step: f64,
): void {
  const bc1 = 1.0 - Math.pow(b1, step);
  const bc2 = 1.0 - Math.pow(b2, step);
  const decay = 1.0 - lr * wd;
  for (let i = 0; i < n; i++) {
    const q = <usize>i << 2;
    const gi = <f64>load<f32>(g + q);
    const mi = <f32>(b1 * <f64>load<f32>(m + q) + (1.0 - b1) * gi);
    const vi = <f32>(b2 * <f64>load<f32>(v + q) + (1.0 - b2) * gi * gi);
    store<f32>(m + q, mi);
    store<f32>(v + q, vi);
    const pi = <f64>load<f32>(p + q);
    store<f32>(p + q, <f32>(pi * decay - (lr * (<f64>mi / bc1)) / (Math.sqrt(<f64>vi / bc2) + eps)));
  }
}

export function softmaxRowsBackward(dx: usize, y: usize, dy: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>cols;
    let dot: f64 = 0;
    for (let j = 0; j < cols; j++) dot += <f64>f32at(dy, o + j) * <f64>f32at(y, o + j);
    for (let j = 0; j < cols; j++) {
      store<f32>(dx + ((o + j) << 2), <f32>(<f64>f32at(y, o + j) * (<f64>f32at(dy, o + j) - dot)));
    }
  }
}

export function rmsnormBackward(dx: usize, dw: usize, dout: usize, x: usize, w: usize, inv: usize, rows: i32, dim: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * <usize>dim;
    const s = <f64>f32at(inv, r);
    let dot: f64 = 0;
    for (let j = 0; j < dim; j++) dot += <f64>f32at(dout, o + j) * <f64>f32at(w, j) * <f64>f32at(x, o + j);
    const coef = (s * s * s * dot) / <f64>dim;
    for (let j = 0; j < dim; j++) {
      const gj = <f64>f32at(dout, o + j);
      const xj = <f64>f32at(x, o + j);
      const qw = dw + (<usize>j << 2);
      store<f32>(qw, <f32>(<f64>load<f32>(qw) + gj * xj * s));
      store<f32>(dx + ((o + j) << 2), <f32>(s * gj * <f64>f32at(w, j) - xj * coef));
    }
  }
}

export function swigluBackward(dg: usize, du: usize, dout: usize, g: usize, u: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const q = <usize>i << 2;
    const gi = <f64>load<f32>(g + q);
    const sig = 1.0 / (1.0 + Math.exp(-gi));
    const d = <f64>load<f32>(dout + q);
    const ui = <f64>load<f32>(u + q);
    store<f32>(du + q, <f32>(d * gi * sig));
    store<f32>(dg + q, <f32>(d * ui * sig * (1.0 + gi * (1.0 - sig))));
  }
}
