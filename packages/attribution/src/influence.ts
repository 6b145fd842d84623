import { AttributionError } from './errors.ts';
import { type GradientSet, validateGradientSet } from './grad-store.ts';

/**
 * Influence of training examples on a test output, from (projected) per-example gradients.
 *
 * Sign convention: positive = helpful. With v the gradient of the test loss and g_k the gradient of
 * training example k's loss, a gradient step on k changes the test loss by ≈ −η v·g_k, so v·g_k > 0
 * means k lowers the test loss. (Koh & Liang and Kwon et al. report −vᵀH⁻¹g_k, "harmfulness"; we
 * use the opposite sign so that contributor payments follow positive influence.)
 *
 * Methods (g_{k,l}: example k's gradient restricted to layer l; v_l likewise; n examples):
 *
 *  grad-dot   I(k) = Σ_l v_l · g_{k,l}                      (final checkpoint)
 *
 *  tracin     I(k) = Σ_c η_c v^{(c)} · g_k^{(c)}            (Pruthi et al. 2020: checkpoints c, learning rate η_c)
 *
 *  datainf    I(k) = Σ_l v_lᵀ (G_l + λ_l I)⁻¹ g_{k,l}       (Kwon et al. 2024, final checkpoint)
 *             with G_l = (1/n) Σ_i g_{i,l} g_{i,l}ᵀ and DataInf's closed-form approximation
 *             (G_l + λ_l I)⁻¹ ≈ (1/(n λ_l)) Σ_i ( I − g_{i,l} g_{i,l}ᵀ / (λ_l + ‖g_{i,l}‖²) )
 *             (swap of the inverse and the average; Sherman–Morrison per term). So
 *             I(k) = Σ_l (1/λ_l) ( v_l·g_{k,l} − r_l·g_{k,l} ),
 *             r_l = (1/n) Σ_i [ (v_l·g_{i,l}) / (λ_l + ‖g_{i,l}‖²) ] g_{i,l},
 *             O(n·D) per query, no matrix is formed.
 *             Damping: λ_l = c · (1/n) Σ_i ‖g_{i,l}‖² = c · tr(G_l), c = 0.1 by default. This is
 *             heavy damping — tr(G_l) is the sum of G_l's eigenvalues, so λ_l ≥ 0.1 × the largest —
 *             under which the inverse is close to I/λ_l and DataInf behaves like gradient-dot with
 *             per-layer weights 1/λ_l. `perEntry: true` is the paper's rule (Kwon et al. §4 and
 *             their reference code): λ_l = c · (n d_l)⁻¹ Σ_i ‖g_{i,l}‖² = c · tr(G_l)/d_l, a tenth of
 *             the mean eigenvalue, with d_l the dimension of the vectors given (the projected one).
 *             `inverse: 'exact'` replaces the closed form by the exact damped inverse
 *             (G_l + λ_l I)⁻¹ via a d_l × d_l Cholesky factorisation per layer — the paper's
 *             "exact" reference, affordable because stored gradients are projected to ≤ 1,024
 *             dims in total (O(Σ_l d_l³ + n Σ_l d_l²) once per gradient array, cached; then
 *             O(Σ_l d_l² + n·D) per query).
 *             "Layer" is whatever the store's layerDims say: the finer (one per LoRA factor, as the
 *             reference code's per-weight-matrix loop), the smaller the closed form's error (the
 *             paper bounds it by O(d_l²)).
 *
 * Self-influence (for mislabel detection: high = suspicious) is I(k) with v = g_k:
 *   grad-dot ‖g_k‖², tracin Σ_c η_c ‖g_k^{(c)}‖², datainf Σ_l g_{k,l}ᵀ (G_l + λ_l I)⁻¹ g_{k,l} with the
 *   same approximation (computed through the D_l × D_l matrix or the n × n Gram matrix, whichever
 *   is cheaper) or, with `inverse: 'exact'`, ‖L_l⁻¹ g_{k,l}‖² for the Cholesky factor L_l.
 */
export type InfluenceMethodName = 'datainf' | 'grad-dot' | 'tracin';

export interface InfluenceMethod {
  readonly name: InfluenceMethodName;
  /**
   * Influence of every training example on a test output. `test[c]` is the projected gradient of
   * the test loss at checkpoint c (same layout as the store); methods that use one checkpoint read
   * the last.
   */
  scores(train: GradientSet, test: readonly Float32Array[]): Float64Array;
  /** Self-influence of every training example. */
  selfInfluence(train: GradientSet): Float64Array;
}

export interface DataInfOptions {
  /** c in λ_l = c · mean_i ‖g_{i,l}‖² (default 0.1). */
  dampingScale?: number;
  /** Divide by the layer dimension (mean of squared entries, as in the DataInf reference code). */
  perEntry?: boolean;
  /**
   * 'datainf' (default): DataInf's closed-form approximation of (G_l + λ_l I)⁻¹.
   * 'exact': the damped per-layer inverse itself, by Cholesky of the d_l × d_l matrix G_l + λ_l I
   * (the "exact" baseline of the DataInf paper; affordable on projected gradients, O(d_l³ + n d_l²)).
   */
  inverse?: 'datainf' | 'exact';
}

function layerOffsets(dims: readonly number[]): number[] {
  const off = [0];
  for (const k of dims) off.push(off[off.length - 1] + k);
  return off;
}

function checkTest(train: GradientSet, test: readonly Float32Array[], need: 'last' | 'all'): number {
  const D = validateGradientSet(train);
  if (need === 'all' && test.length !== train.checkpoints.length) {
    throw new AttributionError(
      'INVALID_GRADIENT',
      `test gradients: ${test.length} checkpoints given, store has ${train.checkpoints.length}`,
    );
  }
  if (test.length === 0)
    throw new AttributionError('INVALID_GRADIENT', 'test gradients: at least one checkpoint needed');
  test.forEach((t, i) => {
    if (t.length !== D)
      throw new AttributionError('INVALID_GRADIENT', `test[${i}] has ${t.length} values, expected ${D}`);
  });
  return D;
}

/** Damping per layer: λ_l = c · (1/n) Σ_i ‖g_{i,l}‖² (÷ d_l when perEntry). */
export function dataInfDamping(train: GradientSet, options: DataInfOptions = {}): Float64Array {
  const c = options.dampingScale ?? 0.1;
  if (!(c > 0)) throw new AttributionError('INVALID_PARAM', `dampingScale must be > 0, got ${c}`);
  const D = validateGradientSet(train);
  const off = layerOffsets(train.layerDims);
  const G = train.checkpoints[train.checkpoints.length - 1].grads;
  const n = train.examples.length;
  const lambda = new Float64Array(train.layerDims.length);
  for (let l = 0; l < lambda.length; l++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const b = i * D;
      for (let j = off[l]; j < off[l + 1]; j++) s += G[b + j] * G[b + j];
    }
    lambda[l] = (c * s) / Math.max(1, n) / (options.perEntry ? train.layerDims[l] : 1);
    if (!(lambda[l] > 0)) lambda[l] = Number.MIN_VALUE; // all-zero gradients: any damping works
  }
  return lambda;
}

export function gradDot(): InfluenceMethod {
  return {
    name: 'grad-dot',
    scores(train, test) {
      const D = checkTest(train, test, 'last');
      return dots(
        train.checkpoints[train.checkpoints.length - 1].grads,
        test[test.length - 1],
        train.examples.length,
        D,
        1,
      );
    },
    selfInfluence(train) {
      const D = validateGradientSet(train);
      return sqNorms(train.checkpoints[train.checkpoints.length - 1].grads, train.examples.length, D, 1);
    },
  };
}

export function tracIn(): InfluenceMethod {
  return {
    name: 'tracin',
    scores(train, test) {
      const D = checkTest(train, test, 'all');
      const out = new Float64Array(train.examples.length);
      train.checkpoints.forEach((c, ci) => {
        const s = dots(c.grads, test[ci], train.examples.length, D, c.lr);
        for (let i = 0; i < out.length; i++) out[i] += s[i];
      });
      return out;
    },
    selfInfluence(train) {
      const D = validateGradientSet(train);
      const out = new Float64Array(train.examples.length);
      for (const c of train.checkpoints) {
        const s = sqNorms(c.grads, train.examples.length, D, c.lr);
        for (let i = 0; i < out.length; i++) out[i] += s[i];
      }
      return out;
    },
  };
}

export function dataInf(options: DataInfOptions = {}): InfluenceMethod {
  const inverse = options.inverse ?? 'datainf';
  if (inverse !== 'datainf' && inverse !== 'exact') {
    throw new AttributionError('INVALID_PARAM', `inverse must be datainf or exact, got ${String(inverse)}`);
  }
  if (inverse === 'exact') return exactInverse(options);
  return {
    name: 'datainf',
    scores(train, test) {
      const D = checkTest(train, test, 'last');
      const lambda = dataInfDamping(train, options);
      const off = layerOffsets(train.layerDims);
      const G = train.checkpoints[train.checkpoints.length - 1].grads;
      const v = test[test.length - 1];
      const n = train.examples.length;
      const out = new Float64Array(n);
      const vg = new Float64Array(n);
      const r = new Float64Array(D);
      for (let l = 0; l < lambda.length; l++) {
        const a = off[l];
        const b = off[l + 1];
        const lam = lambda[l];
        r.fill(0, a, b);
        for (let i = 0; i < n; i++) {
          const base = i * D;
          let dot = 0;
          let nn = 0;
          for (let j = a; j < b; j++) {
            const g = G[base + j];
            dot += v[j] * g;
            nn += g * g;
          }
          vg[i] = dot;
          const coef = dot / (lam + nn) / n;
          for (let j = a; j < b; j++) r[j] += coef * G[base + j];
        }
        for (let i = 0; i < n; i++) {
          const base = i * D;
          let rg = 0;
          for (let j = a; j < b; j++) rg += r[j] * G[base + j];
          out[i] += (vg[i] - rg) / lam;
        }
      }
      return out;
    },
    selfInfluence(train) {
      const D = validateGradientSet(train);
      const lambda = dataInfDamping(train, options);
      const off = layerOffsets(train.layerDims);
      const G = train.checkpoints[train.checkpoints.length - 1].grads;
      const n = train.examples.length;
      const out = new Float64Array(n);
      for (let l = 0; l < lambda.length; l++) {
        const a = off[l];
        const k = off[l + 1] - a;
        const lam = lambda[l];
        const norms = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < k; j++) s += G[i * D + a + j] ** 2;
          norms[i] = s;
        }
        // q_k = (1/n) Σ_i (g_i·g_k)² / (λ + ‖g_i‖²)
        const q = new Float64Array(n);
        if (k * k <= n * n) {
          // Q = (1/n) Σ_i g_i g_iᵀ / (λ + ‖g_i‖²), then q_k = g_kᵀ Q g_k.
          const Q = new Float64Array(k * k);
          for (let i = 0; i < n; i++) {
            const w = 1 / (lam + norms[i]) / n;
            const base = i * D + a;
            for (let x = 0; x < k; x++) {
              const gx = G[base + x] * w;
              if (gx === 0) continue;
              const row = x * k;
              for (let y = 0; y < k; y++) Q[row + y] += gx * G[base + y];
            }
          }
          for (let i = 0; i < n; i++) {
            const base = i * D + a;
            let s = 0;
            for (let x = 0; x < k; x++) {
              let t = 0;
              const row = x * k;
              for (let y = 0; y < k; y++) t += Q[row + y] * G[base + y];
              s += G[base + x] * t;
            }
            q[i] = s;
          }
        } else {
          for (let i = 0; i < n; i++) {
            const w = 1 / (lam + norms[i]) / n;
            const bi = i * D + a;
            for (let kk = 0; kk < n; kk++) {
              const bk = kk * D + a;
              let d = 0;
              for (let j = 0; j < k; j++) d += G[bi + j] * G[bk + j];
              q[kk] += w * d * d;
            }
          }
        }
        for (let i = 0; i < n; i++) out[i] += (norms[i] - q[i]) / lam;
      }
      return out;
    },
  };
}

/**
 * Cholesky factor L (row-major k × k, lower) of G_l + λ I with G_l = (1/n) Σ_i g_{i,l} g_{i,l}ᵀ over
 * the layer's columns [a, a + k) of the n × D matrix G.
 */
function dampedCholesky(
  G: Float32Array,
  n: number,
  D: number,
  a: number,
  k: number,
  lam: number,
): Float64Array {
  const H = new Float64Array(k * k);
  // Lower triangle of (1/n) Σ_i g_i g_iᵀ in float64 (receipts must recompute bit for bit on any
  // machine, so no BLAS here), four examples per pass over H to quarter its memory traffic.
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const b0 = i * D + a;
    const b1 = b0 + D;
    const b2 = b1 + D;
    const b3 = b2 + D;
    for (let x = 0; x < k; x++) {
      const g0 = G[b0 + x] / n;
      const g1 = G[b1 + x] / n;
      const g2 = G[b2 + x] / n;
      const g3 = G[b3 + x] / n;
      const row = x * k;
      for (let y = 0; y <= x; y++) {
        H[row + y] += g0 * G[b0 + y] + g1 * G[b1 + y] + g2 * G[b2 + y] + g3 * G[b3 + y];
      }
    }
  }
  for (; i < n; i++) {
    const base = i * D + a;
    for (let x = 0; x < k; x++) {
      const gx = G[base + x] / n;
      const row = x * k;
      for (let y = 0; y <= x; y++) H[row + y] += gx * G[base + y];
    }
  }
  for (let x = 0; x < k; x++) H[x * k + x] += lam;
  // In-place Cholesky (lower triangle); G + λI is symmetric positive definite for λ > 0.
  for (let j = 0; j < k; j++) {
    let d = H[j * k + j];
    for (let m = 0; m < j; m++) d -= H[j * k + m] ** 2;
    if (!(d > 0))
      throw new AttributionError('INVALID_GRADIENT', `layer matrix not positive definite (pivot ${d})`);
    const ljj = Math.sqrt(d);
    H[j * k + j] = ljj;
    for (let i = j + 1; i < k; i++) {
      let s = H[i * k + j];
      for (let m = 0; m < j; m++) s -= H[i * k + m] * H[j * k + m];
      H[i * k + j] = s / ljj;
    }
  }
  return H;
}

/** Solves L y = b (forward substitution) in place. */
function forwardSolve(L: Float64Array, k: number, y: Float64Array): void {
  for (let i = 0; i < k; i++) {
    let s = y[i];
    for (let m = 0; m < i; m++) s -= L[i * k + m] * y[m];
    y[i] = s / L[i * k + i];
  }
}

/** Solves Lᵀ x = y (back substitution) in place. */
function backSolve(L: Float64Array, k: number, x: Float64Array): void {
  for (let i = k - 1; i >= 0; i--) {
    let s = x[i];
    for (let m = i + 1; m < k; m++) s -= L[m * k + i] * x[m];
    x[i] = s / L[i * k + i];
  }
}

/**
 * Cholesky factors per layer of the last checkpoint's G_l + λ_l I, cached per gradient array and
 * damping (a store is immutable once loaded, and every query against it reuses the factors).
 */
const factorCache = new WeakMap<Float32Array, Map<string, Float64Array[]>>();

function layerFactors(train: GradientSet, options: DataInfOptions): Float64Array[] {
  const D = validateGradientSet(train);
  const lambda = dataInfDamping(train, options);
  const G = train.checkpoints[train.checkpoints.length - 1].grads;
  const key = `${train.layerDims.join(',')}|${Array.from(lambda).join(',')}`;
  let byKey = factorCache.get(G);
  if (!byKey) {
    byKey = new Map();
    factorCache.set(G, byKey);
  }
  let factors = byKey.get(key);
  if (!factors) {
    const off = layerOffsets(train.layerDims);
    factors = Array.from(lambda, (lam, l) =>
      dampedCholesky(G, train.examples.length, D, off[l], off[l + 1] - off[l], lam),
    );
    byKey.set(key, factors);
  }
  return factors;
}

/** DataInf's per-layer damped influence with the exact inverse (G_l + λ_l I)⁻¹ (`inverse: 'exact'`). */
function exactInverse(options: DataInfOptions): InfluenceMethod {
  return {
    name: 'datainf',
    scores(train, test) {
      const D = checkTest(train, test, 'last');
      const factors = layerFactors(train, options);
      const off = layerOffsets(train.layerDims);
      const G = train.checkpoints[train.checkpoints.length - 1].grads;
      const v = test[test.length - 1];
      const n = train.examples.length;
      const out = new Float64Array(n);
      for (let l = 0; l < factors.length; l++) {
        const a = off[l];
        const k = off[l + 1] - a;
        const L = factors[l];
        const w = Float64Array.from(v.subarray(a, a + k));
        forwardSolve(L, k, w);
        backSolve(L, k, w);
        for (let i = 0; i < n; i++) {
          let s = 0;
          const base = i * D + a;
          for (let j = 0; j < k; j++) s += w[j] * G[base + j];
          out[i] += s;
        }
      }
      return out;
    },
    selfInfluence(train) {
      const D = validateGradientSet(train);
      const factors = layerFactors(train, options);
      const off = layerOffsets(train.layerDims);
      const G = train.checkpoints[train.checkpoints.length - 1].grads;
      const n = train.examples.length;
      const out = new Float64Array(n);
      for (let l = 0; l < factors.length; l++) {
        const a = off[l];
        const k = off[l + 1] - a;
        const L = factors[l];
        const y = new Float64Array(k);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < k; j++) y[j] = G[i * D + a + j];
          forwardSolve(L, k, y);
          let s = 0;
          for (let j = 0; j < k; j++) s += y[j] * y[j];
          out[i] += s;
        }
      }
      return out;
    },
  };
}

export function influenceMethod(name: InfluenceMethodName, options: DataInfOptions = {}): InfluenceMethod {
  if (name === 'datainf') return dataInf(options);
  if (name === 'grad-dot') return gradDot();
  if (name === 'tracin') return tracIn();
  throw new AttributionError(
    'INVALID_PARAM',
    `unknown influence method ${String(name)} (datainf, grad-dot, tracin)`,
  );
}

function dots(G: Float32Array, v: Float32Array, n: number, D: number, scale: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const base = i * D;
    for (let j = 0; j < D; j++) s += G[base + j] * v[j];
    out[i] = s * scale;
  }
  return out;
}

function sqNorms(G: Float32Array, n: number, D: number, scale: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const base = i * D;
    for (let j = 0; j < D; j++) s += G[base + j] * G[base + j];
    out[i] = s * scale;
  }
  return out;
}

/** Sums example influences per contributor (negative influences included; see receipts for normalisation). */
export function contributorInfluence(train: GradientSet, scores: ArrayLike<number>): Map<string, number> {
  const out = new Map<string, number>();
  train.examples.forEach((e, i) => {
    out.set(e.contributor, (out.get(e.contributor) ?? 0) + scores[i]);
  });
  return out;
}
