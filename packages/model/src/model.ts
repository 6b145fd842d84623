// Llama-architecture transformer: weights, forward and a hand-written backward, in the style of
// llm.c / nanoGPT. Every matmul goes through the tensor package's sgemm; everything else is a kernel
// call or a plain loop. Layout conventions (all row-major Float32Array):
//   activations  [N = B·T rows][features]
//   linear W     [out][in] (Hugging Face layout), y = x·Wᵀ
//   q            [N][nHeads·headDim], k, v [N][nKvHeads·headDim]; RoPE is HF "rotate half".
import { getKernels, type Kernels } from '@openledger/tensor';
import { headDim, type LlamaConfig, validateConfig } from './config.ts';
import { invalid } from './errors.ts';
import { LORA_TARGETS, type LoraAdapter, type LoraPair, type LoraTarget, loraScale } from './lora.ts';
import { Rng } from './rng.ts';

export interface LayerWeights {
  attnNorm: Float32Array; // [dim]
  wq: Float32Array; // [dim][dim]
  wk: Float32Array; // [kvDim][dim]
  wv: Float32Array; // [kvDim][dim]
  wo: Float32Array; // [dim][dim]
  ffnNorm: Float32Array; // [dim]
  wGate: Float32Array; // [ffn][dim]
  wUp: Float32Array; // [ffn][dim]
  wDown: Float32Array; // [dim][ffn]
}

export interface LlamaWeights {
  tokEmb: Float32Array; // [vocab][dim]
  layers: LayerWeights[];
  finalNorm: Float32Array; // [dim]
  /** [vocab][dim]; the same array as tokEmb when embeddings are tied. */
  output: Float32Array;
}

export interface LlamaModel {
  config: LlamaConfig;
  weights: LlamaWeights;
}

const LAYER_KEYS = ['attnNorm', 'wq', 'wk', 'wv', 'wo', 'ffnNorm', 'wGate', 'wUp', 'wDown'] as const;
type LayerKey = (typeof LAYER_KEYS)[number];

/** Hugging Face parameter name of each layer weight. */
export const HF_LAYER_NAMES: Record<LayerKey, string> = {
  attnNorm: 'input_layernorm.weight',
  wq: 'self_attn.q_proj.weight',
  wk: 'self_attn.k_proj.weight',
  wv: 'self_attn.v_proj.weight',
  wo: 'self_attn.o_proj.weight',
  ffnNorm: 'post_attention_layernorm.weight',
  wGate: 'mlp.gate_proj.weight',
  wUp: 'mlp.up_proj.weight',
  wDown: 'mlp.down_proj.weight',
};

const TARGET_WEIGHT: Record<LoraTarget, LayerKey> = {
  q: 'wq',
  k: 'wk',
  v: 'wv',
  o: 'wo',
  gate: 'wGate',
  up: 'wUp',
  down: 'wDown',
};

export function layerShapes(c: LlamaConfig): Record<LayerKey, number[]> {
  const kvDim = c.nKvHeads * headDim(c);
  return {
    attnNorm: [c.dim],
    wq: [c.dim, c.dim],
    wk: [kvDim, c.dim],
    wv: [kvDim, c.dim],
    wo: [c.dim, c.dim],
    ffnNorm: [c.dim],
    wGate: [c.ffnDim, c.dim],
    wUp: [c.ffnDim, c.dim],
    wDown: [c.dim, c.ffnDim],
  };
}

export interface NamedParam {
  /** Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight. */
  name: string;
  /** Row-major shape, outermost first (PyTorch order). */
  shape: number[];
  data: Float32Array;
}

/** All distinct parameter arrays with their HF names (lm_head omitted when tied). */
export function namedParams(m: { config: LlamaConfig; weights: LlamaWeights }): NamedParam[] {
  const c = m.config;
  const w = m.weights;
  const out: NamedParam[] = [
    { name: 'model.embed_tokens.weight', shape: [c.vocabSize, c.dim], data: w.tokEmb },
  ];
  const shapes = layerShapes(c);
  w.layers.forEach((layer, l) => {
    for (const k of LAYER_KEYS)
      out.push({ name: `model.layers.${l}.${HF_LAYER_NAMES[k]}`, shape: shapes[k], data: layer[k] });
  });
  out.push({ name: 'model.norm.weight', shape: [c.dim], data: w.finalNorm });
  if (!c.tiedEmbeddings) out.push({ name: 'lm_head.weight', shape: [c.vocabSize, c.dim], data: w.output });
  return out;
}

/** Weights of zeros (gradient / moment buffers); tied models share tokEmb and output. */
export function zeroWeights(c: LlamaConfig): LlamaWeights {
  const shapes = layerShapes(c);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const layer = {} as LayerWeights;
    for (const k of LAYER_KEYS) layer[k] = new Float32Array(shapes[k].reduce((a, b) => a * b, 1));
    layers.push(layer);
  }
  const tokEmb = new Float32Array(c.vocabSize * c.dim);
  return {
    tokEmb,
    layers,
    finalNorm: new Float32Array(c.dim),
    output: c.tiedEmbeddings ? tokEmb : new Float32Array(c.vocabSize * c.dim),
  };
}

/** A randomly initialised model: N(0, 0.02), residual projections scaled by 1/sqrt(2·layers), norms 1. */
export function createModel(config: LlamaConfig, seed = 1): LlamaModel {
  const c = validateConfig({ ...config });
  const w = zeroWeights(c);
  const rng = new Rng(seed);
  const fill = (a: Float32Array, std: number) => {
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
  };
  fill(w.tokEmb, 0.02);
  const resid = 0.02 / Math.sqrt(2 * c.nLayers);
  for (const layer of w.layers) {
    layer.attnNorm.fill(1);
    layer.ffnNorm.fill(1);
    fill(layer.wq, 0.02);
    fill(layer.wk, 0.02);
    fill(layer.wv, 0.02);
    fill(layer.wo, resid);
    fill(layer.wGate, 0.02);
    fill(layer.wUp, 0.02);
    fill(layer.wDown, resid);
  }
  w.finalNorm.fill(1);
  if (!c.tiedEmbeddings) fill(w.output, 0.02);
  return { config: c, weights: w };
}

/** A deep copy (tied embeddings stay tied). */
export function cloneModel(m: LlamaModel): LlamaModel {
  const w = m.weights;
  const tokEmb = w.tokEmb.slice();
  return {
    config: { ...m.config },
    weights: {
      tokEmb,
      layers: w.layers.map((layer) => {
        const out = {} as LayerWeights;
        for (const k of LAYER_KEYS) out[k] = layer[k].slice();
        return out;
      }),
      finalNorm: w.finalNorm.slice(),
      output: m.config.tiedEmbeddings ? tokEmb : w.output.slice(),
    },
  };
}

/**
 * Adds scale·B·A of each adapter (weighted) into a copy of the base: W' = W + Σᵢ wᵢ·scaleᵢ·BᵢAᵢ.
 * The result runs without LoRA and equals the unmerged forward.
 */
export function mergeLora(
  base: LlamaModel,
  adapters: LoraAdapter | { adapter: LoraAdapter; weight: number }[],
): LlamaModel {
  const list = Array.isArray(adapters) ? adapters : [{ adapter: adapters, weight: 1 }];
  const out = cloneModel(base);
  const K = getKernels();
  for (const { adapter, weight } of list) {
    if (adapter.layers.length !== base.config.nLayers)
      throw invalid(
        'adapter.layers',
        `has ${adapter.layers.length} layers, model has ${base.config.nLayers}`,
      );
    const scale = loraScale(adapter.config) * weight;
    const r = adapter.config.rank;
    adapter.layers.forEach((layer, l) => {
      for (const t of LORA_TARGETS) {
        const p = layer[t];
        if (!p) continue;
        const W = out.weights.layers[l][TARGET_WEIGHT[t]];
        const inDim = p.a.length / r;
        const outDim = p.b.length / r;
        if (W.length !== inDim * outDim)
          throw invalid(`adapter.layers[${l}].${t}`, 'shape does not match the model');
        // W[out][in] += scale · B[out][r] · A[r][in]
        K.sgemm(false, false, outDim, inDim, r, scale, p.b, r, p.a, inDim, 1, W, inDim);
      }
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Forward with saved activations (training / scoring).

/** Saved state of one LoRA branch: the (dropped-out) input and t = x·Aᵀ. */
interface LoraAct {
  pair: LoraPair;
  scale: number;
  rank: number;
  /** Dropout multipliers (0 or 1/(1-p)) when dropout was applied, else null. */
  mask: Float32Array | null;
  xd: Float32Array; // [N][in]
  t: Float32Array; // [N][rank]
}

interface LayerActs {
  xIn: Float32Array; // residual input [N][dim]
  h1: Float32Array; // attn-normed input
  inv1: Float32Array; // [N]
  q: Float32Array; // after RoPE [N][dim]
  k: Float32Array; // after RoPE [N][kvDim]
  v: Float32Array;
  att: Float32Array; // softmax probabilities [B][nHeads][T][T]
  o: Float32Array; // attention output before wo [N][dim]
  xMid: Float32Array; // residual after attention
  h2: Float32Array;
  inv2: Float32Array;
  gate: Float32Array; // [N][ffn]
  up: Float32Array;
  act: Float32Array; // silu(gate)·up
  lora: Partial<Record<LoraTarget, LoraAct>>;
}

export interface Activations {
  B: number;
  T: number;
  tokens: Int32Array;
  positions: Int32Array; // [N]
  layers: LayerActs[];
  xFinal: Float32Array; // residual before the final norm
  hF: Float32Array;
  invF: Float32Array;
  logits: Float32Array; // [N][vocab]
}

export interface ForwardOptions {
  lora?: LoraAdapter | null;
  /** Apply LoRA dropout (training). */
  training?: boolean;
  /** Seed for dropout masks. */
  seed?: number;
}

function checkTokens(c: LlamaConfig, tokens: Int32Array, B: number, T: number): void {
  if (!Number.isInteger(B) || B < 1) throw invalid('batch', `must be ≥ 1, got ${B}`);
  if (!Number.isInteger(T) || T < 1 || T > c.maxSeq)
    throw invalid('seqLen', `must be in 1..${c.maxSeq}, got ${T}`);
  if (tokens.length !== B * T)
    throw invalid('tokens', `must have batch·seqLen = ${B * T} entries, got ${tokens.length}`);
  for (let i = 0; i < tokens.length; i++)
    if (!(tokens[i] >= 0 && tokens[i] < c.vocabSize))
      throw invalid('tokens', `token ${tokens[i]} at ${i} outside vocabulary 0..${c.vocabSize - 1}`);
}

/** y[N][out] = x·Wᵀ (+ scale·(drop(x)·Aᵀ)·Bᵀ), saving the LoRA branch state into `acts`. */
function linear(
  K: Kernels,
  x: Float32Array,
  N: number,
  inDim: number,
  W: Float32Array,
  outDim: number,
  y: Float32Array,
  lora: { pair: LoraPair; rank: number; scale: number; dropout: number; rng: Rng | null } | null,
): LoraAct | null {
  K.sgemm(false, true, N, outDim, inDim, 1, x, inDim, W, inDim, 0, y, outDim);
  if (!lora) return null;
  const { pair, rank, scale } = lora;
  let mask: Float32Array | null = null;
  let xd = x;
  if (lora.rng && lora.dropout > 0) {
    mask = new Float32Array(N * inDim);
    xd = new Float32Array(N * inDim);
    const keep = 1 / (1 - lora.dropout);
    for (let i = 0; i < mask.length; i++) {
      mask[i] = lora.rng.next() < lora.dropout ? 0 : keep;
      xd[i] = x[i] * mask[i];
    }
  }
  const t = new Float32Array(N * rank);
  K.sgemm(false, true, N, rank, inDim, 1, xd, inDim, pair.a, inDim, 0, t, rank);
  K.sgemm(false, true, N, outDim, rank, scale, t, rank, pair.b, rank, 1, y, outDim);
  return { pair, scale, rank, mask, xd, t };
}

/**
 * Causal self-attention over B sequences of T rows: o = softmax(q·kᵀ/√d + mask)·v per head,
 * query head h reading kv head h / (nHeads / nKvHeads). Saves the probabilities into `att`.
 */
function attention(
  K: Kernels,
  c: LlamaConfig,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  B: number,
  T: number,
  att: Float32Array,
  o: Float32Array,
): void {
  const hd = headDim(c);
  const qDim = c.dim;
  const kvDim = c.nKvHeads * hd;
  const group = c.nHeads / c.nKvHeads;
  const scale = 1 / Math.sqrt(hd);
  // Query heads g·group … g·group+group-1 share kv head g: one strided-batched sgemm per (b, g).
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < c.nKvHeads; g++) {
      const Pg = att.subarray((b * c.nHeads + g * group) * T * T);
      const qbg = q.subarray(b * T * qDim + g * group * hd);
      const kbg = k.subarray(b * T * kvDim + g * hd);
      K.sgemmStridedBatched(
        false,
        true,
        T,
        T,
        hd,
        scale,
        qbg,
        qDim,
        hd,
        kbg,
        kvDim,
        0,
        0,
        Pg,
        T,
        T * T,
        group,
      );
    }
  }
  // causal mask (row i of each head sees keys 0..i), then one softmax over all B·nHeads·T rows
  const rows = B * c.nHeads * T;
  for (let r = 0; r < rows; r++) att.fill(Number.NEGATIVE_INFINITY, r * T + (r % T) + 1, (r + 1) * T);
  K.softmaxRows(att, rows, T);
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < c.nKvHeads; g++) {
      const Pg = att.subarray((b * c.nHeads + g * group) * T * T);
      const vbg = v.subarray(b * T * kvDim + g * hd);
      const obg = o.subarray(b * T * qDim + g * group * hd);
      K.sgemmStridedBatched(false, false, T, hd, T, 1, Pg, T, T * T, vbg, kvDim, 0, 0, obg, qDim, hd, group);
    }
  }
}

/** Full forward over B sequences of T tokens, keeping what backward needs. */
export function forward(
  model: LlamaModel,
  tokens: Int32Array,
  B: number,
  T: number,
  opts: ForwardOptions = {},
): Activations {
  const K = getKernels();
  const c = model.config;
  checkTokens(c, tokens, B, T);
  const w = model.weights;
  const N = B * T;
  const D = c.dim;
  const hd = headDim(c);
  const kvDim = c.nKvHeads * hd;
  const F = c.ffnDim;
  const V = c.vocabSize;
  const lora = opts.lora ?? null;
  if (lora && lora.layers.length !== c.nLayers)
    throw invalid('lora.layers', `has ${lora.layers.length} layers, model has ${c.nLayers}`);
  const rng = opts.training && lora && lora.config.dropout > 0 ? new Rng(opts.seed ?? 0) : null;
  const positions = new Int32Array(N);
  for (let i = 0; i < N; i++) positions[i] = i % T;

  // token embedding
  let x = new Float32Array(N * D);
  for (let i = 0; i < N; i++) x.set(w.tokEmb.subarray(tokens[i] * D, (tokens[i] + 1) * D), i * D);

  const layers: LayerActs[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const lw = w.layers[l];
    const ll = lora?.layers[l];
    const branch = (t: LoraTarget) => {
      const pair = ll?.[t];
      if (!pair || !lora) return null;
      return {
        pair,
        rank: lora.config.rank,
        scale: loraScale(lora.config),
        dropout: lora.config.dropout,
        rng,
      };
    };
    const a = { xIn: x, lora: {} } as LayerActs;
    const save = (t: LoraTarget, s: LoraAct | null) => {
      if (s) a.lora[t] = s;
    };
    // attention block
    a.h1 = new Float32Array(N * D);
    a.inv1 = K.rmsnorm(a.h1, x, lw.attnNorm, N, D, c.normEps);
    a.q = new Float32Array(N * D);
    a.k = new Float32Array(N * kvDim);
    a.v = new Float32Array(N * kvDim);
    save('q', linear(K, a.h1, N, D, lw.wq, D, a.q, branch('q')));
    save('k', linear(K, a.h1, N, D, lw.wk, kvDim, a.k, branch('k')));
    save('v', linear(K, a.h1, N, D, lw.wv, kvDim, a.v, branch('v')));
    K.ropeAt(a.q, positions, c.nHeads, hd, c.ropeTheta, false);
    K.ropeAt(a.k, positions, c.nKvHeads, hd, c.ropeTheta, false);
    a.att = new Float32Array(B * c.nHeads * T * T);
    a.o = new Float32Array(N * D);
    attention(K, c, a.q, a.k, a.v, B, T, a.att, a.o);
    const attnOut = new Float32Array(N * D);
    save('o', linear(K, a.o, N, D, lw.wo, D, attnOut, branch('o')));
    a.xMid = new Float32Array(N * D);
    for (let i = 0; i < N * D; i++) a.xMid[i] = x[i] + attnOut[i];
    // MLP block
    a.h2 = new Float32Array(N * D);
    a.inv2 = K.rmsnorm(a.h2, a.xMid, lw.ffnNorm, N, D, c.normEps);
    a.gate = new Float32Array(N * F);
    a.up = new Float32Array(N * F);
    save('gate', linear(K, a.h2, N, D, lw.wGate, F, a.gate, branch('gate')));
    save('up', linear(K, a.h2, N, D, lw.wUp, F, a.up, branch('up')));
    a.act = new Float32Array(N * F);
    K.swiglu(a.act, a.gate, a.up, N * F);
    const mlpOut = new Float32Array(N * D);
    save('down', linear(K, a.act, N, F, lw.wDown, D, mlpOut, branch('down')));
    const xOut = new Float32Array(N * D);
    for (let i = 0; i < N * D; i++) xOut[i] = a.xMid[i] + mlpOut[i];
    layers.push(a);
    x = xOut;
  }
  const hF = new Float32Array(N * D);
  const invF = K.rmsnorm(hF, x, w.finalNorm, N, D, c.normEps);
  const logits = new Float32Array(N * V);
  K.sgemm(false, true, N, V, D, 1, hF, D, w.output, D, 0, logits, V);
  return { B, T, tokens, positions, layers, xFinal: x, hF, invF, logits };
}

// ---------------------------------------------------------------------------------------------
// Backward.

export interface BackwardOptions {
  /** Accumulate (+=) base weight gradients here; null = base frozen (LoRA-only training). */
  grads?: LlamaWeights | null;
  /** Accumulate LoRA gradients here (same shapes as the adapter used in forward). */
  loraGrads?: LoraAdapter | null;
  /**
   * Per-example LoRA gradients: one adapter-shaped buffer per sequence b (rows b·T … b·T+T-1),
   * accumulated (+=). Exact because sequences do not interact in the forward.
   */
  perExampleLoraGrads?: LoraAdapter[] | null;
}

/** dx (+)= dy·W, dW += dyᵀ·x, and the LoRA branch's dA, dB, dx contribution. */
function linearBackward(
  K: Kernels,
  dy: Float32Array,
  x: Float32Array,
  N: number,
  inDim: number,
  W: Float32Array,
  outDim: number,
  dx: Float32Array,
  accumulateDx: boolean,
  dW: Float32Array | null,
  la: LoraAct | null,
  dLora: LoraPair | null,
  perExample: { T: number; pairs: LoraPair[] } | null,
): void {
  K.sgemm(false, false, N, inDim, outDim, 1, dy, outDim, W, inDim, accumulateDx ? 1 : 0, dx, inDim);
  if (dW) K.sgemm(true, false, outDim, inDim, N, 1, dy, outDim, x, inDim, 1, dW, inDim);
  if (!la) return;
  const { pair, rank: r, scale } = la;
  // dt = scale · dy·B   [N][r]
  const dt = new Float32Array(N * r);
  K.sgemm(false, false, N, r, outDim, scale, dy, outDim, pair.b, r, 0, dt, r);
  if (dLora) {
    K.sgemm(true, false, outDim, r, N, scale, dy, outDim, la.t, r, 1, dLora.b, r); // dB += scale·dyᵀ·t
    K.sgemm(true, false, r, inDim, N, 1, dt, r, la.xd, inDim, 1, dLora.a, inDim); // dA += dtᵀ·xd
  }
  if (perExample) {
    const T = perExample.T;
    perExample.pairs.forEach((g, b) => {
      const rows = b * T;
      const dyb = dy.subarray(rows * outDim);
      K.sgemm(true, false, outDim, r, T, scale, dyb, outDim, la.t.subarray(rows * r), r, 1, g.b, r);
      K.sgemm(
        true,
        false,
        r,
        inDim,
        T,
        1,
        dt.subarray(rows * r),
        r,
        la.xd.subarray(rows * inDim),
        inDim,
        1,
        g.a,
        inDim,
      );
    });
  }
  // dx += (dt·A) ⊙ mask
  if (!la.mask) {
    K.sgemm(false, false, N, inDim, r, 1, dt, r, pair.a, inDim, 1, dx, inDim);
  } else {
    const tmp = new Float32Array(N * inDim);
    K.sgemm(false, false, N, inDim, r, 1, dt, r, pair.a, inDim, 0, tmp, inDim);
    for (let i = 0; i < tmp.length; i++) dx[i] += tmp[i] * la.mask[i];
  }
}

/**
 * Backpropagates dlogits ([N][vocab], e.g. from crossEntropy) through the network. Base weight
 * gradients are only computed when `grads` is given; input gradients always flow (LoRA needs them).
 */
export function backward(
  model: LlamaModel,
  acts: Activations,
  dlogits: Float32Array,
  opts: BackwardOptions = {},
): void {
  const K = getKernels();
  const c = model.config;
  const w = model.weights;
  const { B, T } = acts;
  const N = B * T;
  const D = c.dim;
  const hd = headDim(c);
  const kvDim = c.nKvHeads * hd;
  const F = c.ffnDim;
  const V = c.vocabSize;
  const g = opts.grads ?? null;
  const lg = opts.loraGrads ?? null;
  const pe = opts.perExampleLoraGrads ?? null;
  if (pe && pe.length !== B) throw invalid('perExampleLoraGrads', `needs ${B} buffers, got ${pe.length}`);

  // lm head and final norm
  const dhF = new Float32Array(N * D);
  K.sgemm(false, false, N, D, V, 1, dlogits, V, w.output, D, 0, dhF, D);
  if (g) K.sgemm(true, false, V, D, N, 1, dlogits, V, acts.hF, D, 1, g.output, D);
  let dx = new Float32Array(N * D);
  K.rmsnormBackward(
    dx,
    g ? g.finalNorm : new Float32Array(D),
    dhF,
    acts.xFinal,
    w.finalNorm,
    acts.invF,
    N,
    D,
  );

  const group = c.nHeads / c.nKvHeads;
  const scale = 1 / Math.sqrt(hd);
  const dP = new Float32Array((c.nHeads / c.nKvHeads) * T * T);
  for (let l = c.nLayers - 1; l >= 0; l--) {
    const a = acts.layers[l];
    const lw = w.layers[l];
    const lgw = g ? g.layers[l] : null;
    const branch = (t: LoraTarget) => a.lora[t] ?? null;
    const dBranch = (t: LoraTarget) => (lg && a.lora[t] ? lg.layers[l][t]! : null);
    const peBranch = (t: LoraTarget) =>
      pe && a.lora[t] ? { T, pairs: pe.map((p) => p.layers[l][t]!) } : null;

    // MLP block: xOut = xMid + down(swiglu(gate(h2), up(h2)))
    const dAct = new Float32Array(N * F);
    linearBackward(
      K,
      dx,
      a.act,
      N,
      F,
      lw.wDown,
      D,
      dAct,
      false,
      lgw?.wDown ?? null,
      branch('down'),
      dBranch('down'),
      peBranch('down'),
    );
    const dGate = new Float32Array(N * F);
    const dUp = new Float32Array(N * F);
    K.swigluBackward(dGate, dUp, dAct, a.gate, a.up, N * F);
    const dh2 = new Float32Array(N * D);
    linearBackward(
      K,
      dGate,
      a.h2,
      N,
      D,
      lw.wGate,
      F,
      dh2,
      false,
      lgw?.wGate ?? null,
      branch('gate'),
      dBranch('gate'),
      peBranch('gate'),
    );
    linearBackward(
      K,
      dUp,
      a.h2,
      N,
      D,
      lw.wUp,
      F,
      dh2,
      true,
      lgw?.wUp ?? null,
      branch('up'),
      dBranch('up'),
      peBranch('up'),
    );
    const dxMid = new Float32Array(N * D);
    K.rmsnormBackward(dxMid, lgw ? lgw.ffnNorm : new Float32Array(D), dh2, a.xMid, lw.ffnNorm, a.inv2, N, D);
    for (let i = 0; i < N * D; i++) dxMid[i] += dx[i];

    // attention block: xMid = xIn + o(attn(rope(q(h1)), rope(k(h1)), v(h1)))
    const dO = new Float32Array(N * D);
    linearBackward(
      K,
      dxMid,
      a.o,
      N,
      D,
      lw.wo,
      D,
      dO,
      false,
      lgw?.wo ?? null,
      branch('o'),
      dBranch('o'),
      peBranch('o'),
    );
    const dq = new Float32Array(N * D);
    const dk = new Float32Array(N * kvDim);
    const dv = new Float32Array(N * kvDim);
    for (let b = 0; b < B; b++) {
      for (let g = 0; g < c.nKvHeads; g++) {
        const h0 = b * c.nHeads + g * group;
        const Pg = a.att.subarray(h0 * T * T, (h0 + group) * T * T);
        const qOff = b * T * D + g * group * hd;
        const kOff = b * T * kvDim + g * hd;
        const dObg = dO.subarray(qOff);
        const vbg = a.v.subarray(kOff);
        const kbg = a.k.subarray(kOff);
        // dP = dO·vᵀ for the group's heads
        K.sgemmStridedBatched(false, true, T, T, hd, 1, dObg, D, hd, vbg, kvDim, 0, 0, dP, T, T * T, group);
        for (let j = 0; j < group; j++) {
          // dv += Pᵀ·dO (heads of a group accumulate into one kv head)
          K.sgemm(
            true,
            false,
            T,
            hd,
            T,
            1,
            Pg.subarray(j * T * T),
            T,
            dO.subarray(qOff + j * hd),
            D,
            1,
            dv.subarray(kOff),
            kvDim,
          );
        }
        K.softmaxRowsBackward(dP, Pg, dP, group * T, T); // dS (masked entries have P = 0)
        K.sgemmStridedBatched(
          false,
          false,
          T,
          hd,
          T,
          scale,
          dP,
          T,
          T * T,
          kbg,
          kvDim,
          0,
          0,
          dq.subarray(qOff),
          D,
          hd,
          group,
        );
        for (let j = 0; j < group; j++) {
          // dk += scale·dSᵀ·q
          K.sgemm(
            true,
            false,
            T,
            hd,
            T,
            scale,
            dP.subarray(j * T * T),
            T,
            a.q.subarray(qOff + j * hd),
            D,
            1,
            dk.subarray(kOff),
            kvDim,
          );
        }
      }
    }
    K.ropeAt(dq, acts.positions, c.nHeads, hd, c.ropeTheta, true);
    K.ropeAt(dk, acts.positions, c.nKvHeads, hd, c.ropeTheta, true);
    const dh1 = new Float32Array(N * D);
    linearBackward(
      K,
      dq,
      a.h1,
      N,
      D,
      lw.wq,
      D,
      dh1,
      false,
      lgw?.wq ?? null,
      branch('q'),
      dBranch('q'),
      peBranch('q'),
    );
    linearBackward(
      K,
      dk,
      a.h1,
      N,
      D,
      lw.wk,
      kvDim,
      dh1,
      true,
      lgw?.wk ?? null,
      branch('k'),
      dBranch('k'),
      peBranch('k'),
    );
    linearBackward(
      K,
      dv,
      a.h1,
      N,
      D,
      lw.wv,
      kvDim,
      dh1,
      true,
      lgw?.wv ?? null,
      branch('v'),
      dBranch('v'),
      peBranch('v'),
    );
    const dxIn = new Float32Array(N * D);
    K.rmsnormBackward(dxIn, lgw ? lgw.attnNorm : new Float32Array(D), dh1, a.xIn, lw.attnNorm, a.inv1, N, D);
    for (let i = 0; i < N * D; i++) dxIn[i] += dxMid[i];
    dx = dxIn;
  }
  // token embedding (scatter-add; tied models add into the same array as the lm head)
  if (g) {
    for (let i = 0; i < N; i++) {
      const row = acts.tokens[i] * D;
      for (let j = 0; j < D; j++) g.tokEmb[row + j] += dx[i * D + j];
    }
  }
}

/** Mean cross-entropy of next-token targets (negative target = ignored) and d(loss)/d(logits). */
export function crossEntropyLoss(
  logits: Float32Array,
  targets: Int32Array,
  vocab: number,
  withGrad: boolean,
) {
  const K = getKernels();
  const rows = targets.length;
  const dlogits = withGrad ? new Float32Array(rows * vocab) : undefined;
  const loss = K.crossEntropy(logits, targets, rows, vocab, dlogits);
  return { loss, dlogits };
}

export interface Batch {
  /** B·T input tokens. */
  tokens: Int32Array;
  /** B·T next-token targets, -1 = ignored (padding, prompt). */
  targets: Int32Array;
  B: number;
  T: number;
}

/** Loss of a batch (no gradients). */
export function evalLoss(model: LlamaModel, batch: Batch, lora?: LoraAdapter | null): number {
  const acts = forward(model, batch.tokens, batch.B, batch.T, { lora });
  return crossEntropyLoss(acts.logits, batch.targets, model.config.vocabSize, false).loss;
}

/**
 * One forward + backward. With `trainBase` the base gradients are returned; with a LoRA adapter its
 * gradients are returned (base frozen unless trainBase). Loss is the mean over counted targets.
 */
export function lossAndGrads(
  model: LlamaModel,
  batch: Batch,
  opts: { lora?: LoraAdapter | null; trainBase?: boolean; training?: boolean; seed?: number } = {},
): { loss: number; grads: LlamaWeights | null; loraGrads: LoraAdapter | null } {
  if (batch.targets.length !== batch.B * batch.T)
    throw invalid('targets', `must have ${batch.B * batch.T} entries, got ${batch.targets.length}`);
  const acts = forward(model, batch.tokens, batch.B, batch.T, {
    lora: opts.lora,
    training: opts.training,
    seed: opts.seed,
  });
  const { loss, dlogits } = crossEntropyLoss(acts.logits, batch.targets, model.config.vocabSize, true);
  const grads = opts.trainBase ? zeroWeights(model.config) : null;
  const loraGrads = opts.lora ? zeroLoraGrads(opts.lora) : null;
  backward(model, acts, dlogits!, { grads, loraGrads });
  return { loss, grads, loraGrads };
}

function zeroLoraGrads(ad: LoraAdapter): LoraAdapter {
  return {
    config: { ...ad.config },
    layers: ad.layers.map((layer) => {
      const out: Partial<Record<LoraTarget, LoraPair>> = {};
      for (const t of LORA_TARGETS) {
        const p = layer[t];
        if (p) out[t] = { a: new Float32Array(p.a.length), b: new Float32Array(p.b.length) };
      }
      return out;
    }),
  };
}

/** Calls fn(param, grad) for each distinct base parameter array. */
export function forEachParam(
  weights: LlamaWeights,
  grads: LlamaWeights,
  tied: boolean,
  fn: (p: Float32Array, g: Float32Array, name: string) => void,
): void {
  fn(weights.tokEmb, grads.tokEmb, 'tokEmb');
  weights.layers.forEach((layer, l) => {
    for (const k of LAYER_KEYS) fn(layer[k], grads.layers[l][k], `layers.${l}.${k}`);
  });
  fn(weights.finalNorm, grads.finalNorm, 'finalNorm');
  if (!tied) fn(weights.output, grads.output, 'output');
}

export type { LayerKey };
export { LAYER_KEYS, TARGET_WEIGHT };
