/** Which implementation runs the kernels. */
export type Backend = 'native' | 'wasm' | 'js';

/**
 * A LoRA matrix: float32 values, or IEEE half-precision bits. Serving keeps adapters at half width
 * because a decode step over many adapters is bound by the adapter bytes it reads.
 */
export type LoraMatrix = Float32Array | Uint16Array;

/** One adapter's rows in a mixed-adapter batch (rows `start`..`end-1`, end exclusive). */
export interface LoraSegment {
  start: number;
  end: number;
  /** LoRA down-projection A, rank×inDim, row-major. */
  a: LoraMatrix;
  /** LoRA up-projection B, outDim×rank, row-major. */
  b: LoraMatrix;
  rank: number;
  scale: number;
}

/**
 * The numeric kernel API. All matrices are row-major Float32Arrays; every array may be a
 * subarray view. Element counts are checked before a kernel runs (a too-short array throws a
 * RangeError naming the argument), so no backend ever reads or writes out of bounds.
 */
export interface Kernels {
  readonly backend: Backend;

  /**
   * Row-major C = alpha·op(A)·op(B) + beta·C; op(X) = X or Xᵀ. op(A) is m×k, op(B) is k×n, C is m×n.
   * A is stored m×k (lda ≥ k) or, when transposed, k×m (lda ≥ m); likewise B (k×n, ldb ≥ n, or n×k).
   * beta = 0 overwrites C (NaNs already in C do not propagate), as in BLAS.
   */
  sgemm(
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
  ): void;

  /** `batch` sgemms; matrix i starts at a[i·strideA], b[i·strideB], c[i·strideC]. */
  sgemmStridedBatched(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    strideA: number,
    b: Float32Array,
    ldb: number,
    strideB: number,
    beta: number,
    c: Float32Array,
    ldc: number,
    strideC: number,
    batch: number,
  ): void;

  /** In place, numerically stable (max subtracted). A row that is all -Infinity becomes all 0. */
  softmaxRows(x: Float32Array, rows: number, cols: number): void;

  /**
   * out[r] = x[r] · invRms[r] · weight, invRms[r] = 1/sqrt(mean(x[r]²) + eps).
   * Returns invRms (rows values; written into `invRmsOut` when given). `out` may alias `x`.
   */
  rmsnorm(
    out: Float32Array,
    x: Float32Array,
    weight: Float32Array,
    rows: number,
    dim: number,
    eps: number,
    invRmsOut?: Float32Array,
  ): Float32Array;

  /**
   * In place rotary embedding of x laid out [seq][heads][headDim], position of row s = posOffset + s.
   * Llama / Hugging Face "rotate half" convention: pairs (i, i + headDim/2), frequency theta^(-2i/headDim).
   */
  rope(x: Float32Array, seq: number, heads: number, headDim: number, posOffset: number, theta: number): void;

  /** out = x·sigmoid(x). `out` may alias `x`. */
  silu(out: Float32Array, x: Float32Array, n: number): void;

  /** out = silu(gate)·up. `out` may alias either input. */
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;

  /**
   * Mean cross-entropy over rows whose target is ≥ 0 (rows with a negative target are ignored; 0 when
   * none count). When `dlogits` is given it receives d(mean loss)/d(logits) (zero rows for ignored targets).
   * `dlogits` may be `logits` itself: the gradient then overwrites the logits (training needs no second
   * rows×vocab buffer).
   */
  crossEntropy(
    logits: Float32Array,
    targets: Int32Array,
    rows: number,
    vocab: number,
    dlogits?: Float32Array,
  ): number;

  /**
   * One AdamW step (PyTorch semantics: decoupled weight decay param -= lr·wd·param, bias-corrected
   * moments, eps added to sqrt(v̂)). `step` counts from 1. Updates param, m, v in place.
   */
  adamw(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
  ): void;

  /**
   * LoRA for a batch whose rows belong to different adapters (S-LoRA / Punica segmented matmul):
   * y[rows of segment s] += scale[s]·(x[rows]·Aₛᵀ)·Bₛᵀ, with x rows×inDim, y rows×outDim.
   * Rows outside every segment are left unchanged.
   */
  loraSegmented(
    y: Float32Array,
    x: Float32Array,
    rows: number,
    inDim: number,
    outDim: number,
    segments: readonly LoraSegment[],
  ): void;

  // ---- additions beyond the original brief (backward passes the model needs) ----

  /** Like rope but with an explicit position per row (length seq) and optional inverse rotation (backward). */
  ropeAt(
    x: Float32Array,
    positions: Int32Array,
    heads: number,
    headDim: number,
    theta: number,
    inverse: boolean,
  ): void;

  /** Backward of softmaxRows: dx = y ⊙ (dy − rowsum(dy ⊙ y)); written into dx (may alias dy). */
  softmaxRowsBackward(dx: Float32Array, y: Float32Array, dy: Float32Array, rows: number, cols: number): void;

  /**
   * Backward of rmsnorm given the forward's invRms: dx (overwritten) and dWeight (accumulated, +=).
   */
  rmsnormBackward(
    dx: Float32Array,
    dWeight: Float32Array,
    dout: Float32Array,
    x: Float32Array,
    weight: Float32Array,
    invRms: Float32Array,
    rows: number,
    dim: number,
  ): void;

  // ---- serving (decode) kernels ----

  /**
   * Attention of new tokens over a KV cache with one sequence per slot (serving). Row b has
   * counts[b] new tokens (the token rows of all rows back to back, so a step may mix prompts of
   * different lengths with one-token decode rows). They are first written to slot slots[b] at
   * positions past[b] … past[b]+counts[b]−1 of kCache / vCache ([slot][maxSeq][nKvHeads·headDim],
   * keys already rotated); then the query at position P attends causally to positions 0 … P of its
   * slot: o = softmax(scale·q·kᵀ)·v per head, query head h reading kv head h / (nHeads / nKvHeads)
   * (grouped-query attention). q, o: [Σcounts][nHeads·headDim]; k, v: [Σcounts][nKvHeads·headDim].
   * Needs past[b] + counts[b] ≤ maxSeq.
   */
  attentionCached(
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
  ): void;

  /**
   * Samples one token per row of logits ([rows][vocab]) with the caller's uniform draws: temperature
   * 0 takes the first largest logit; otherwise with p_i = e^((z_i − max)/temperature) the token is the
   * first i at which the running sum of p exceeds uniform[r]·Σp (inverse CDF). Written into `out`.
   */
  sampleRows(
    logits: Float32Array,
    rows: number,
    vocab: number,
    temperature: Float64Array,
    uniform: Float64Array,
    out: Int32Array,
  ): void;

  /** Backward of swiglu: dgate, dup overwritten. */
  swigluBackward(
    dgate: Float32Array,
    dup: Float32Array,
    dout: Float32Array,
    gate: Float32Array,
    up: Float32Array,
    n: number,
  ): void;
}

/** What a task run by a KernelPool receives next to its input. */
export interface TaskContext {
  kernels: Kernels;
}
