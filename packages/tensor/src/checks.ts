// Argument checks shared by every backend. The native and wasm kernels trust their pointers, so
// every size is checked here first; a bad call throws a RangeError naming the argument and the limit.
import type { Kernels } from './types.ts';

function dim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
}

const isLoraMatrix = (m: unknown) => m instanceof Float32Array || m instanceof Uint16Array;

function len(name: string, arr: ArrayLike<number>, need: number): void {
  if (arr.length < need) throw new RangeError(`${name} has ${arr.length} elements, needs at least ${need}`);
}

/** Elements a row-major rows×cols matrix with leading dimension ld spans. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

export function checkGemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  batch = 1,
  strideA = 0,
  strideB = 0,
  strideC = 0,
): void {
  dim('m', m);
  dim('n', n);
  dim('k', k);
  dim('batch', batch);
  dim('strideA', strideA);
  dim('strideB', strideB);
  dim('strideC', strideC);
  const [ar, ac] = transA ? [k, m] : [m, k];
  const [br, bc] = transB ? [n, k] : [k, n];
  if (!Number.isInteger(lda) || lda < Math.max(1, ac))
    throw new RangeError(`lda must be ≥ ${Math.max(1, ac)}, got ${lda}`);
  if (!Number.isInteger(ldb) || ldb < Math.max(1, bc))
    throw new RangeError(`ldb must be ≥ ${Math.max(1, bc)}, got ${ldb}`);
  if (!Number.isInteger(ldc) || ldc < Math.max(1, n))
    throw new RangeError(`ldc must be ≥ ${Math.max(1, n)}, got ${ldc}`);
  if (batch === 0 || m === 0 || n === 0) return;
  const last = batch - 1;
  len('a', a, last * strideA + span(ar, ac, lda));
  len('b', b, last * strideB + span(br, bc, ldb));
  len('c', c, last * strideC + span(m, n, ldc));
}

/** Wraps a backend so that every call is checked before it runs. */
export function withChecks(k: Kernels): Kernels {
  return {
    backend: k.backend,
    sgemm(transA, transB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc) {
      checkGemm(transA, transB, m, n, kk, a, lda, b, ldb, c, ldc);
      if (m === 0 || n === 0) return;
      k.sgemm(transA, transB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc);
    },
    sgemmStridedBatched(transA, transB, m, n, kk, alpha, a, lda, sA, b, ldb, sB, beta, c, ldc, sC, batch) {
      checkGemm(transA, transB, m, n, kk, a, lda, b, ldb, c, ldc, batch, sA, sB, sC);
      if (m === 0 || n === 0 || batch === 0) return;
      k.sgemmStridedBatched(transA, transB, m, n, kk, alpha, a, lda, sA, b, ldb, sB, beta, c, ldc, sC, batch);
    },
    softmaxRows(x, rows, cols) {
      dim('rows', rows);
      dim('cols', cols);
      len('x', x, rows * cols);
      k.softmaxRows(x, rows, cols);
    },
    rmsnorm(out, x, weight, rows, d, eps, invRmsOut) {
      dim('rows', rows);
      dim('dim', d);
      len('x', x, rows * d);
      len('out', out, rows * d);
      len('weight', weight, d);
      if (invRmsOut) len('invRmsOut', invRmsOut, rows);
      return k.rmsnorm(out, x, weight, rows, d, eps, invRmsOut);
    },
    rope(x, seq, heads, headDim, posOffset, theta) {
      dim('seq', seq);
      dim('heads', heads);
      dim('headDim', headDim);
      if (headDim % 2 !== 0) throw new RangeError(`headDim must be even, got ${headDim}`);
      if (!Number.isInteger(posOffset))
        throw new RangeError(`posOffset must be an integer, got ${posOffset}`);
      len('x', x, seq * heads * headDim);
      k.rope(x, seq, heads, headDim, posOffset, theta);
    },
    ropeAt(x, positions, heads, headDim, theta, inverse) {
      dim('heads', heads);
      dim('headDim', headDim);
      if (headDim % 2 !== 0) throw new RangeError(`headDim must be even, got ${headDim}`);
      len('x', x, positions.length * heads * headDim);
      k.ropeAt(x, positions, heads, headDim, theta, inverse);
    },
    silu(out, x, n) {
      dim('n', n);
      len('x', x, n);
      len('out', out, n);
      k.silu(out, x, n);
    },
    swiglu(out, gate, up, n) {
      dim('n', n);
      len('gate', gate, n);
      len('up', up, n);
      len('out', out, n);
      k.swiglu(out, gate, up, n);
    },
    crossEntropy(logits, targets, rows, vocab, dlogits) {
      dim('rows', rows);
      dim('vocab', vocab);
      len('logits', logits, rows * vocab);
      len('targets', targets, rows);
      if (dlogits) len('dlogits', dlogits, rows * vocab);
      for (let r = 0; r < rows; r++) {
        if (targets[r] >= vocab)
          throw new RangeError(`targets[${r}] = ${targets[r]} must be < vocab ${vocab}`);
      }
      return k.crossEntropy(logits, targets, rows, vocab, dlogits);
    },
    adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step) {
      dim('n', n);
      len('param', param, n);
      len('grad', grad, n);
      len('m', m, n);
      len('v', v, n);
      if (!Number.isInteger(step) || step < 1)
        throw new RangeError(`step must be an integer ≥ 1, got ${step}`);
      k.adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
    },
    loraSegmented(y, x, rows, inDim, outDim, segments) {
      dim('rows', rows);
      dim('inDim', inDim);
      dim('outDim', outDim);
      len('x', x, rows * inDim);
      len('y', y, rows * outDim);
      for (let i = 0; i < segments.length; i++) {
        const s = segments[i];
        // the messages are built only on failure: a decode step checks dozens of segments per call
        if (!Number.isInteger(s.rank) || s.rank < 0) dim(`segments[${i}].rank`, s.rank);
        if (
          !Number.isInteger(s.start) ||
          !Number.isInteger(s.end) ||
          s.start < 0 ||
          s.end > rows ||
          s.start > s.end
        )
          throw new RangeError(`segments[${i}] rows ${s.start}..${s.end} must lie within 0..${rows}`);
        if (!isLoraMatrix(s.a) || !isLoraMatrix(s.b))
          throw new TypeError(`segments[${i}]: a and b must be Float32Arrays or Uint16Arrays of half bits`);
        if (s.a.length < s.rank * inDim) len(`segments[${i}].a`, s.a, s.rank * inDim);
        if (s.b.length < outDim * s.rank) len(`segments[${i}].b`, s.b, outDim * s.rank);
      }
      k.loraSegmented(y, x, rows, inDim, outDim, segments);
    },
    attentionCached(
      o,
      q,
      kk,
      v,
      kCache,
      vCache,
      slots,
      past,
      counts,
      rows,
      maxSeq,
      nHeads,
      nKvHeads,
      headDim,
      scale,
    ) {
      dim('rows', rows);
      dim('maxSeq', maxSeq);
      dim('nHeads', nHeads);
      dim('headDim', headDim);
      if (!Number.isInteger(nKvHeads) || nKvHeads < 1 || nHeads % nKvHeads !== 0)
        throw new RangeError(`nKvHeads must be ≥ 1 and divide nHeads ${nHeads}, got ${nKvHeads}`);
      const qDim = nHeads * headDim;
      const kvDim = nKvHeads * headDim;
      len('slots', slots, rows);
      len('past', past, rows);
      len('counts', counts, rows);
      const slotFloats = maxSeq * kvDim;
      let tokens = 0;
      for (let b = 0; b < rows; b++) {
        const s = slots[b];
        if (!(s >= 0) || (s + 1) * slotFloats > Math.min(kCache.length, vCache.length))
          throw new RangeError(`slots[${b}] = ${s} lies outside the caches`);
        if (!(counts[b] >= 0)) throw new RangeError(`counts[${b}] must be ≥ 0, got ${counts[b]}`);
        if (!(past[b] >= 0) || past[b] + counts[b] > maxSeq)
          throw new RangeError(
            `past[${b}] + counts[${b}] = ${past[b] + counts[b]} must be within 0..${maxSeq}`,
          );
        tokens += counts[b];
      }
      len('q', q, tokens * qDim);
      len('o', o, tokens * qDim);
      len('k', kk, tokens * kvDim);
      len('v', v, tokens * kvDim);
      if (tokens === 0) return;
      k.attentionCached(
        o,
        q,
        kk,
        v,
        kCache,
        vCache,
        slots,
        past,
        counts,
        rows,
        maxSeq,
        nHeads,
        nKvHeads,
        headDim,
        scale,
      );
    },
    sampleRows(logits, rows, vocab, temperature, uniform, out) {
      dim('rows', rows);
      dim('vocab', vocab);
      if (vocab < 1) throw new RangeError('vocab must be ≥ 1');
      len('logits', logits, rows * vocab);
      len('temperature', temperature, rows);
      len('uniform', uniform, rows);
      len('out', out, rows);
      for (let r = 0; r < rows; r++)
        if (!(temperature[r] >= 0))
          throw new RangeError(`temperature[${r}] must be ≥ 0, got ${temperature[r]}`);
      k.sampleRows(logits, rows, vocab, temperature, uniform, out);
    },
    softmaxRowsBackward(dx, y, dy, rows, cols) {
      dim('rows', rows);
      dim('cols', cols);
      for (const [nm, arr] of [
        ['dx', dx],
        ['y', y],
        ['dy', dy],
      ] as const)
        len(nm, arr, rows * cols);
      k.softmaxRowsBackward(dx, y, dy, rows, cols);
    },
    rmsnormBackward(dx, dWeight, dout, x, weight, invRms, rows, d) {
      dim('rows', rows);
      dim('dim', d);
      for (const [nm, arr] of [
        ['dx', dx],
        ['dout', dout],
        ['x', x],
      ] as const)
        len(nm, arr, rows * d);
      len('dWeight', dWeight, d);
      len('weight', weight, d);
      len('invRms', invRms, rows);
      k.rmsnormBackward(dx, dWeight, dout, x, weight, invRms, rows, d);
    },
    swigluBackward(dgate, dup, dout, gate, up, n) {
      dim('n', n);
      for (const [nm, arr] of [
        ['dgate', dgate],
        ['dup', dup],
        ['dout', dout],
        ['gate', gate],
        ['up', up],
      ] as const)
        len(nm, arr, n);
      k.swigluBackward(dgate, dup, dout, gate, up, n);
    },
  };
}
