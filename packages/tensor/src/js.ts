// Plain-JS reference backend. It is the oracle the other backends are tested against, so it favours
// obviously-correct loops (with f64 accumulators for reductions) over speed.
import { halfToFloat32, loraMatrixF32 } from './half.ts';
import type { Kernels, LoraSegment } from './types.ts';

export function sgemmJs(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
): void {
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    if (beta === 0) c.fill(0, ci, ci + n);
    else if (beta !== 1) for (let j = 0; j < n; j++) c[ci + j] *= beta;
  }
  if (alpha === 0 || k === 0) return;
  if (!transB) {
    // i-p-j order: contiguous inner loop over a row of B and C.
    const row = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[p * lda + i] : a[i * lda + p];
        if (aip === 0) continue;
        const bp = p * ldb;
        for (let j = 0; j < n; j++) row[j] += aip * b[bp + j];
      }
      const ci = i * ldc;
      for (let j = 0; j < n; j++) c[ci + j] += alpha * row[j];
    }
  } else {
    for (let i = 0; i < m; i++) {
      const ci = i * ldc;
      for (let j = 0; j < n; j++) {
        const bj = j * ldb;
        let s = 0;
        if (transA) for (let p = 0; p < k; p++) s += a[p * lda + i] * b[bj + p];
        else {
          const ai = i * lda;
          for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
        }
        c[ci + j] += alpha * s;
      }
    }
  }
}

function ropeAtJs(
  x: Float32Array,
  positions: Int32Array,
  heads: number,
  headDim: number,
  theta: number,
  inverse: boolean,
): void {
  const half = headDim >> 1;
  const seq = positions.length;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = theta ** ((-2 * i) / headDim);
  const sign = inverse ? -1 : 1;
  for (let s = 0; s < seq; s++) {
    const pos = positions[s];
    for (let i = 0; i < half; i++) {
      const ang = pos * invFreq[i];
      const cos = Math.cos(ang);
      const sin = sign * Math.sin(ang);
      for (let h = 0; h < heads; h++) {
        const o = (s * heads + h) * headDim;
        const x1 = x[o + i];
        const x2 = x[o + i + half];
        x[o + i] = x1 * cos - x2 * sin;
        x[o + i + half] = x2 * cos + x1 * sin;
      }
    }
  }
}

export function positionsFrom(seq: number, posOffset: number): Int32Array {
  const p = new Int32Array(seq);
  for (let s = 0; s < seq; s++) p[s] = posOffset + s;
  return p;
}

/** loraSegmented expressed with two sgemms per segment; shared by the backends with a fast sgemm. */
export function loraSegmentedViaSgemm(
  sgemm: Kernels['sgemm'],
  y: Float32Array,
  x: Float32Array,
  inDim: number,
  outDim: number,
  segments: readonly LoraSegment[],
  scratch: { t: Float32Array; a: Float32Array; b: Float32Array },
): void {
  for (const seg of segments) {
    const len = seg.end - seg.start;
    if (len <= 0 || seg.rank === 0 || seg.scale === 0) continue;
    const need = len * seg.rank;
    if (scratch.t.length < need) scratch.t = new Float32Array(need);
    const t = scratch.t;
    // half matrices are widened into reused scratch, not fresh arrays per call
    let a = seg.a;
    if (a instanceof Uint16Array) {
      if (scratch.a.length < a.length) scratch.a = new Float32Array(a.length);
      a = halfToFloat32(a, scratch.a.subarray(0, a.length));
    }
    let b = seg.b;
    if (b instanceof Uint16Array) {
      if (scratch.b.length < b.length) scratch.b = new Float32Array(b.length);
      b = halfToFloat32(b, scratch.b.subarray(0, b.length));
    }
    sgemm(
      false,
      true,
      len,
      seg.rank,
      inDim,
      1,
      x.subarray(seg.start * inDim),
      inDim,
      a,
      inDim,
      0,
      t,
      seg.rank,
    );
    sgemm(
      false,
      true,
      len,
      outDim,
      seg.rank,
      seg.scale,
      t,
      seg.rank,
      b,
      seg.rank,
      1,
      y.subarray(seg.start * outDim),
      outDim,
    );
  }
}

/** Reference of Kernels.attentionCached: plain loops, f64 scores and sums. */
export function attentionCachedJs(
  o: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  slots: Int32Array,
  past: Int32Array,
  counts: Int32Array,
  rows: number,
  maxSeq: number,
  nHeads: number,
  nKvHeads: number,
  headDim: number,
  scale: number,
): void {
  const kvDim = nKvHeads * headDim;
  const qDim = nHeads * headDim;
  const group = nHeads / nKvHeads;
  for (let b = 0, row = 0; b < rows; row += counts[b], b++) {
    const base = (slots[b] * maxSeq + past[b]) * kvDim;
    kCache.set(k.subarray(row * kvDim, (row + counts[b]) * kvDim), base);
    vCache.set(v.subarray(row * kvDim, (row + counts[b]) * kvDim), base);
  }
  const p = new Float64Array(maxSeq);
  const acc = new Float64Array(headDim);
  for (let b = 0, row = 0; b < rows; row += counts[b], b++) {
    const s0 = slots[b] * maxSeq * kvDim;
    for (let t = 0; t < counts[b]; t++) {
      const L = past[b] + t + 1;
      const r = row + t;
      for (let h = 0; h < nHeads; h++) {
        const qo = r * qDim + h * headDim;
        const ko = s0 + Math.floor(h / group) * headDim;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < L; j++) {
          let s = 0;
          for (let d = 0; d < headDim; d++) s += q[qo + d] * kCache[ko + j * kvDim + d];
          p[j] = s * scale;
          if (p[j] > max) max = p[j];
        }
        let sum = 0;
        for (let j = 0; j < L; j++) {
          p[j] = Math.exp(p[j] - max);
          sum += p[j];
        }
        acc.fill(0);
        for (let j = 0; j < L; j++) {
          const w = p[j] / sum;
          for (let d = 0; d < headDim; d++) acc[d] += w * vCache[ko + j * kvDim + d];
        }
        for (let d = 0; d < headDim; d++) o[qo + d] = acc[d];
      }
    }
  }
}

/** Reference of Kernels.sampleRows (f64 probabilities, running sum in index order). */
export function sampleRowsJs(
  logits: Float32Array,
  rows: number,
  vocab: number,
  temperature: Float64Array,
  uniform: Float64Array,
  out: Int32Array,
  scratch?: Float64Array,
): void {
  const p = scratch && scratch.length >= vocab ? scratch : new Float64Array(vocab);
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    let best = 0;
    for (let i = 1; i < vocab; i++) if (logits[o + i] > logits[o + best]) best = i;
    out[r] = best;
    const max = logits[o + best];
    if (temperature[r] === 0 || vocab === 0 || max === Number.NEGATIVE_INFINITY) continue;
    const temp = temperature[r];
    let total = 0;
    for (let i = 0; i < vocab; i++) {
      p[i] = Math.exp((logits[o + i] - max) / temp);
      total += p[i];
    }
    let left = uniform[r] * total;
    let pick = -1;
    let lastPos = best;
    for (let i = 0; i < vocab; i++) {
      if (p[i] > 0) lastPos = i;
      left -= p[i];
      if (left < 0) {
        pick = i;
        break;
      }
    }
    out[r] = pick >= 0 ? pick : lastPos;
  }
}

export function createJsKernels(): Kernels {
  const kernels: Kernels = {
    backend: 'js',
    sgemm: sgemmJs,
    sgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, sA, b, ldb, sB, beta, c, ldc, sC, batch) {
      for (let i = 0; i < batch; i++) {
        sgemmJs(
          transA,
          transB,
          m,
          n,
          k,
          alpha,
          a.subarray(i * sA),
          lda,
          b.subarray(i * sB),
          ldb,
          beta,
          c.subarray(i * sC),
          ldc,
        );
      }
    },
    softmaxRows(x, rows, cols) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j];
        if (max === Number.NEGATIVE_INFINITY) {
          x.fill(0, o, o + cols);
          continue;
        }
        let sum = 0;
        for (let j = 0; j < cols; j++) {
          const e = Math.exp(x[o + j] - max);
          x[o + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j < cols; j++) x[o + j] *= inv;
      }
    },
    rmsnorm(out, x, weight, rows, dim, eps, invRmsOut) {
      const inv = invRmsOut ?? new Float32Array(rows);
      for (let r = 0; r < rows; r++) {
        const o = r * dim;
        let ss = 0;
        for (let j = 0; j < dim; j++) ss += x[o + j] * x[o + j];
        const s = 1 / Math.sqrt(ss / dim + eps);
        inv[r] = s;
        for (let j = 0; j < dim; j++) out[o + j] = x[o + j] * s * weight[j];
      }
      return inv;
    },
    rope(x, seq, heads, headDim, posOffset, theta) {
      ropeAtJs(x, positionsFrom(seq, posOffset), heads, headDim, theta, false);
    },
    ropeAt: ropeAtJs,
    silu(out, x, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v / (1 + Math.exp(-v));
      }
    },
    swiglu(out, gate, up, n) {
      for (let i = 0; i < n; i++) {
        const g = gate[i];
        out[i] = (g / (1 + Math.exp(-g))) * up[i];
      }
    },
    crossEntropy(logits, targets, rows, vocab, dlogits) {
      let count = 0;
      for (let r = 0; r < rows; r++) if (targets[r] >= 0) count++;
      let loss = 0;
      for (let r = 0; r < rows; r++) {
        const o = r * vocab;
        const t = targets[r];
        if (t < 0) {
          if (dlogits) dlogits.fill(0, o, o + vocab);
          continue;
        }
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < vocab; j++) if (logits[o + j] > max) max = logits[o + j];
        let sum = 0;
        for (let j = 0; j < vocab; j++) sum += Math.exp(logits[o + j] - max);
        const lse = max + Math.log(sum);
        loss += lse - logits[o + t];
        if (dlogits) {
          const inv = 1 / count;
          for (let j = 0; j < vocab; j++) dlogits[o + j] = Math.exp(logits[o + j] - lse) * inv;
          dlogits[o + t] -= inv;
        }
      }
      return count === 0 ? 0 : loss / count;
    },
    adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step) {
      const bc1 = 1 - beta1 ** step;
      const bc2 = 1 - beta2 ** step;
      const decay = 1 - lr * weightDecay;
      for (let i = 0; i < n; i++) {
        const g = grad[i];
        const mi = beta1 * m[i] + (1 - beta1) * g;
        const vi = beta2 * v[i] + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * decay - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
      }
    },
    loraSegmented(y, x, _rows, inDim, outDim, segments) {
      for (const seg of segments) {
        const r = seg.rank;
        const t = new Float64Array(r);
        const a = loraMatrixF32(seg.a);
        const b = loraMatrixF32(seg.b);
        for (let row = seg.start; row < seg.end; row++) {
          const xo = row * inDim;
          for (let q = 0; q < r; q++) {
            let s = 0;
            const ao = q * inDim;
            for (let p = 0; p < inDim; p++) s += x[xo + p] * a[ao + p];
            t[q] = s;
          }
          const yo = row * outDim;
          for (let j = 0; j < outDim; j++) {
            let s = 0;
            const bo = j * r;
            for (let q = 0; q < r; q++) s += t[q] * b[bo + q];
            y[yo + j] += seg.scale * s;
          }
        }
      }
    },
    attentionCached: attentionCachedJs,
    sampleRows: (logits, rows, vocab, temperature, uniform, out) =>
      sampleRowsJs(logits, rows, vocab, temperature, uniform, out),
    softmaxRowsBackward(dx, y, dy, rows, cols) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += dy[o + j] * y[o + j];
        for (let j = 0; j < cols; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
      }
    },
    rmsnormBackward(dx, dWeight, dout, x, weight, invRms, rows, dim) {
      // y = x·s·w, s = (mean(x²)+eps)^-1/2; dx = s·(dout⊙w) − x·s³·mean((dout⊙w)⊙x)
      for (let r = 0; r < rows; r++) {
        const o = r * dim;
        const s = invRms[r];
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += dout[o + j] * weight[j] * x[o + j];
        const coef = (s * s * s * dot) / dim;
        for (let j = 0; j < dim; j++) {
          const g = dout[o + j];
          dWeight[j] += g * x[o + j] * s;
          dx[o + j] = s * g * weight[j] - x[o + j] * coef;
        }
      }
    },
    swigluBackward(dgate, dup, dout, gate, up, n) {
      for (let i = 0; i < n; i++) {
        const g = gate[i];
        const sig = 1 / (1 + Math.exp(-g));
        const d = dout[i];
        const u = up[i];
        dup[i] = d * g * sig;
        dgate[i] = d * u * sig * (1 + g * (1 - sig));
      }
    },
  };
  return kernels;
}
