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

/**
 * Buffers that forward / backward reuse from one call to the next at the same shape (a training
 * loop). Without one, every step allocates its activations afresh — on the shipped model about
 * 100 MB of Float32Arrays per step, whose page faults and garbage collection cost more than the
 * elementwise kernels. Activations from a forward that used a workspace stay valid until the next
 * forward with that workspace; buffers are not cleared between uses, so every user overwrites
 * (sgemm with beta = 0, kernels that write their whole output) before it accumulates.
 */
export class Workspace {
  private readonly f32s = new Map<string, Float32Array>();
  private readonly i32s = new Map<string, Int32Array>();

  /** n floats for `key`, reused across calls (contents unspecified). */
  f32(key: string, n: number): Float32Array {
    let b = this.f32s.get(key);
    if (!b || b.length !== n) {
      b = new Float32Array(n);
      this.f32s.set(key, b);
    }
    return b;
  }

  i32(key: string, n: number): Int32Array {
    let b = this.i32s.get(key);
    if (!b || b.length !== n) {
      b = new Int32Array(n);
      this.i32s.set(key, b);
    }
    return b;
  }
}

type Alloc = (key: string, n: number) => Float32Array;
const allocator = (ws: Workspace | null | undefined): Alloc =>
  ws ? (key, n) => ws.f32(key, n) : (_key, n) => new Float32Array(n);

/** One adapted target inside a LoRA group: its pair and its output width. */
interface LoraMember {
  target: LoraTarget;
  pair: LoraPair;
  outDim: number;
}

/**
 * Saved state of the LoRA branches of targets that read the same input (q, k, v read h1; gate, up
 * read h2). Their A matrices are stacked into one (members·rank)×in matrix so that t = x·Aᵀ is one
 * sgemm for the group and, in backward, dA and the input gradient dt·A are one sgemm each, instead
 * of one per target with n = rank (8): such thin products run far below sgemm peak. With dropout
 * every target draws its own mask (PEFT semantics), so each target is then a group of its own.
 */
interface LoraGroup {
  members: LoraMember[];
  scale: number;
  rank: number;
  inDim: number;
  /** Dropout multipliers (0 or 1/(1-p)) when dropout was applied, else null (only for one member). */
  mask: Float32Array | null;
  xd: Float32Array; // [N][in], the (dropped-out) input
  /** Stacked A, (members·rank)×in; the member's own A when the group has one member. */
  aCat: Float32Array;
  /** t = xd·aCatᵀ, [N][members·rank]; member i's t is columns i·rank … i·rank+rank-1. */
  t: Float32Array;
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
  /** LoRA groups reading h1 (q, k, v), o, h2 (gate, up) and act (down). */
  loraQkv: LoraGroup[];
  loraO: LoraGroup[];
  loraGateUp: LoraGroup[];
  loraDown: LoraGroup[];
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
  /** Reuse buffers across calls (see Workspace); the result is valid until its next forward. */
  workspace?: Workspace | null;
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

interface LoraRun {
  rank: number;
  scale: number;
  dropout: number;
  rng: Rng | null;
}

/**
 * The LoRA branches of `members` (all reading x): y_i += scale·(drop(x)·A_iᵀ)·B_iᵀ, where y_i is
 * outputs[i]. Returns the saved groups (one, or one per member when dropout is on).
 */
function loraForward(
  K: Kernels,
  x: Float32Array,
  N: number,
  inDim: number,
  members: LoraMember[],
  outputs: Float32Array[],
  run: LoraRun,
  alloc: Alloc,
  key: string,
): LoraGroup[] {
  if (members.length === 0) return [];
  const { rank: r, scale } = run;
  const dropping = run.rng !== null && run.dropout > 0;
  const groups: LoraGroup[] = [];
  const parts = dropping ? members.map((m) => [m]) : [members];
  parts.forEach((part, pi) => {
    let mask: Float32Array | null = null;
    let xd = x;
    if (dropping) {
      mask = alloc(`${key}.${pi}.mask`, N * inDim);
      xd = alloc(`${key}.${pi}.xd`, N * inDim);
      const keep = 1 / (1 - run.dropout);
      const rng = run.rng!;
      for (let i = 0; i < mask.length; i++) {
        mask[i] = rng.next() < run.dropout ? 0 : keep;
        xd[i] = x[i] * mask[i];
      }
    }
    const width = part.length * r;
    let aCat = part[0].pair.a;
    if (part.length > 1) {
      aCat = alloc(`${key}.${pi}.a`, width * inDim);
      part.forEach((m, i) => {
        aCat.set(m.pair.a.subarray(0, r * inDim), i * r * inDim);
      });
    }
    const t = alloc(`${key}.${pi}.t`, N * width);
    K.sgemm(false, true, N, width, inDim, 1, xd, inDim, aCat, inDim, 0, t, width);
    part.forEach((m, i) => {
      const y = outputs[members.indexOf(m)];
      K.sgemm(false, true, N, m.outDim, r, scale, t.subarray(i * r), width, m.pair.b, r, 1, y, m.outDim);
    });
    groups.push({ members: part, scale, rank: r, inDim, mask, xd, aCat, t });
  });
  return groups;
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
  const alloc = allocator(opts.workspace);
  const positions = opts.workspace ? opts.workspace.i32('positions', N) : new Int32Array(N);
  for (let i = 0; i < N; i++) positions[i] = i % T;
  const run: LoraRun | null = lora
    ? { rank: lora.config.rank, scale: loraScale(lora.config), dropout: lora.config.dropout, rng }
    : null;

  // token embedding
  let x = alloc('x0', N * D);
  for (let i = 0; i < N; i++) x.set(w.tokEmb.subarray(tokens[i] * D, (tokens[i] + 1) * D), i * D);

  const layers: LayerActs[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const lw = w.layers[l];
    const ll = lora?.layers[l];
    const p = `l${l}.`;
    // The adapted targets among `ts`, with their outputs, in LORA_TARGETS order.
    const adapted = (ts: [LoraTarget, Float32Array, number][]) => {
      const members: LoraMember[] = [];
      const outputs: Float32Array[] = [];
      for (const [t, y, outDim] of ts) {
        const pair = ll?.[t];
        if (!pair) continue;
        members.push({ target: t, pair, outDim });
        outputs.push(y);
      }
      return { members, outputs };
    };
    const branch = (
      inp: Float32Array,
      inDim: number,
      ts: [LoraTarget, Float32Array, number][],
      key: string,
    ) => {
      if (!run) return [];
      const { members, outputs } = adapted(ts);
      return loraForward(K, inp, N, inDim, members, outputs, run, alloc, p + key);
    };
    // attention block
    const h1 = alloc(`${p}h1`, N * D);
    const inv1 = K.rmsnorm(h1, x, lw.attnNorm, N, D, c.normEps, alloc(`${p}inv1`, N));
    const q = alloc(`${p}q`, N * D);
    const k = alloc(`${p}k`, N * kvDim);
    const v = alloc(`${p}v`, N * kvDim);
    K.sgemm(false, true, N, D, D, 1, h1, D, lw.wq, D, 0, q, D);
    K.sgemm(false, true, N, kvDim, D, 1, h1, D, lw.wk, D, 0, k, kvDim);
    K.sgemm(false, true, N, kvDim, D, 1, h1, D, lw.wv, D, 0, v, kvDim);
    const loraQkv = branch(
      h1,
      D,
      [
        ['q', q, D],
        ['k', k, kvDim],
        ['v', v, kvDim],
      ],
      'qkv',
    );
    K.ropeAt(q, positions, c.nHeads, hd, c.ropeTheta, false);
    K.ropeAt(k, positions, c.nKvHeads, hd, c.ropeTheta, false);
    const att = alloc(`${p}att`, B * c.nHeads * T * T);
    const o = alloc(`${p}o`, N * D);
    attention(K, c, q, k, v, B, T, att, o);
    // residual: xMid = x + o·Woᵀ (+ LoRA), the projection accumulating onto a copy of x
    const xMid = alloc(`${p}xMid`, N * D);
    xMid.set(x);
    K.sgemm(false, true, N, D, D, 1, o, D, lw.wo, D, 1, xMid, D);
    const loraO = branch(o, D, [['o', xMid, D]], 'o');
    // MLP block
    const h2 = alloc(`${p}h2`, N * D);
    const inv2 = K.rmsnorm(h2, xMid, lw.ffnNorm, N, D, c.normEps, alloc(`${p}inv2`, N));
    const gate = alloc(`${p}gate`, N * F);
    const up = alloc(`${p}up`, N * F);
    K.sgemm(false, true, N, F, D, 1, h2, D, lw.wGate, D, 0, gate, F);
    K.sgemm(false, true, N, F, D, 1, h2, D, lw.wUp, D, 0, up, F);
    const loraGateUp = branch(
      h2,
      D,
      [
        ['gate', gate, F],
        ['up', up, F],
      ],
      'gu',
    );
    const act = alloc(`${p}act`, N * F);
    K.swiglu(act, gate, up, N * F);
    const xOut = alloc(`${p}xOut`, N * D);
    xOut.set(xMid);
    K.sgemm(false, true, N, D, F, 1, act, F, lw.wDown, F, 1, xOut, D);
    const loraDown = branch(act, F, [['down', xOut, D]], 'down');
    layers.push({
      xIn: x,
      h1,
      inv1,
      q,
      k,
      v,
      att,
      o,
      xMid,
      h2,
      inv2,
      gate,
      up,
      act,
      loraQkv,
      loraO,
      loraGateUp,
      loraDown,
    });
    x = xOut;
  }
  const hF = alloc('hF', N * D);
  const invF = K.rmsnorm(hF, x, w.finalNorm, N, D, c.normEps, alloc('invF', N));
  const logits = alloc('logits', N * V);
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
  /** Reuse scratch buffers across calls (see Workspace). */
  workspace?: Workspace | null;
}

/** dx (+)= dy·W (skipped when dx is null) and, when dW is given, dW += dyᵀ·x. */
function linearBackward(
  K: Kernels,
  dy: Float32Array,
  x: Float32Array,
  N: number,
  inDim: number,
  W: Float32Array,
  outDim: number,
  dx: Float32Array | null,
  accumulateDx: boolean,
  dW: Float32Array | null,
): void {
  if (dx) K.sgemm(false, false, N, inDim, outDim, 1, dy, outDim, W, inDim, accumulateDx ? 1 : 0, dx, inDim);
  if (dW) K.sgemm(true, false, outDim, inDim, N, 1, dy, outDim, x, inDim, 1, dW, inDim);
}

/**
 * Backward of one LoRA group: dt = scale·dy_i·B_i into the group's columns, dB_i += scale·dy_iᵀ·t_i,
 * dA += dtᵀ·xd (one sgemm for the stacked A, then split), per-example dA, dB per sequence, and
 * dx += (dt·aCat) ⊙ mask unless dx is null (nothing upstream needs it).
 */
function loraBackward(
  K: Kernels,
  grp: LoraGroup,
  dys: Partial<Record<LoraTarget, Float32Array>>,
  N: number,
  dx: Float32Array | null,
  dLora: Partial<Record<LoraTarget, LoraPair>> | null,
  perExample: { T: number; layers: Partial<Record<LoraTarget, LoraPair>>[] } | null,
  alloc: Alloc,
): void {
  const { members, rank: r, scale, inDim } = grp;
  const width = members.length * r;
  const dt = alloc(`dt${width}`, N * width);
  members.forEach((m, i) => {
    const dy = dys[m.target]!;
    K.sgemm(false, false, N, r, m.outDim, scale, dy, m.outDim, m.pair.b, r, 0, dt.subarray(i * r), width);
  });
  if (dLora) {
    members.forEach((m, i) => {
      const dy = dys[m.target]!;
      // dB += scale·dyᵀ·t
      K.sgemm(
        true,
        false,
        m.outDim,
        r,
        N,
        scale,
        dy,
        m.outDim,
        grp.t.subarray(i * r),
        width,
        1,
        dLora[m.target]!.b,
        r,
      );
    });
    if (members.length === 1) {
      K.sgemm(true, false, r, inDim, N, 1, dt, width, grp.xd, inDim, 1, dLora[members[0].target]!.a, inDim);
    } else {
      const dA = alloc(`dA${width}x${inDim}`, width * inDim);
      K.sgemm(true, false, width, inDim, N, 1, dt, width, grp.xd, inDim, 0, dA, inDim);
      members.forEach((m, i) => {
        const into = dLora[m.target]!.a;
        const from = dA.subarray(i * r * inDim, (i + 1) * r * inDim);
        for (let j = 0; j < from.length; j++) into[j] += from[j];
      });
    }
  }
  if (perExample) {
    const T = perExample.T;
    perExample.layers.forEach((g, b) => {
      const rows = b * T;
      members.forEach((m, i) => {
        const dyb = dys[m.target]!.subarray(rows * m.outDim);
        const pair = g[m.target]!;
        K.sgemm(
          true,
          false,
          m.outDim,
          r,
          T,
          scale,
          dyb,
          m.outDim,
          grp.t.subarray(rows * width + i * r),
          width,
          1,
          pair.b,
          r,
        );
        K.sgemm(
          true,
          false,
          r,
          inDim,
          T,
          1,
          dt.subarray(rows * width + i * r),
          width,
          grp.xd.subarray(rows * inDim),
          inDim,
          1,
          pair.a,
          inDim,
        );
      });
    });
  }
  if (!dx) return;
  if (!grp.mask) {
    K.sgemm(false, false, N, inDim, width, 1, dt, width, grp.aCat, inDim, 1, dx, inDim);
  } else {
    const tmp = alloc(`dxLora${inDim}`, N * inDim);
    K.sgemm(false, false, N, inDim, width, 1, dt, width, grp.aCat, inDim, 0, tmp, inDim);
    const mask = grp.mask;
    for (let i = 0; i < tmp.length; i++) dx[i] += tmp[i] * mask[i];
  }
}

function addInto(dst: Float32Array, src: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] += src[i];
}

/**
 * Backpropagates dlogits ([N][vocab], e.g. from crossEntropy) through the network. Base weight
 * gradients are only computed when `grads` is given; input gradients flow as far as something
 * needs them (with the base frozen, not below the first layer's q, k, v projections).
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
  // Scratch for the backward pass; layers reuse it (each buffer is overwritten before it is read).
  const alloc = allocator(opts.workspace);
  const sink = new Float32Array(D); // norm-weight gradients nobody asked for
  const dhF = alloc('b.dh', N * D);
  const dAct = alloc('b.dAct', N * F);
  const dGate = alloc('b.dGate', N * F);
  const dUp = alloc('b.dUp', N * F);
  const dh2 = alloc('b.dh2', N * D);
  const dxMid = alloc('b.dxMid', N * D);
  const dO = alloc('b.dO', N * D);
  const dq = alloc('b.dq', N * D);
  const dk = alloc('b.dk', N * kvDim);
  const dv = alloc('b.dv', N * kvDim);
  const dh1 = alloc('b.dh1', N * D);
  const group = c.nHeads / c.nKvHeads;
  const dP = alloc('b.dP', group * T * T);
  // the residual gradient alternates between two buffers, layer by layer
  let dx = alloc('b.dx0', N * D);
  let dxNext = alloc('b.dx1', N * D);

  // lm head and final norm
  K.sgemm(false, false, N, D, V, 1, dlogits, V, w.output, D, 0, dhF, D);
  if (g) K.sgemm(true, false, V, D, N, 1, dlogits, V, acts.hF, D, 1, g.output, D);
  K.rmsnormBackward(dx, g ? g.finalNorm : sink, dhF, acts.xFinal, w.finalNorm, acts.invF, N, D);

  const scale = 1 / Math.sqrt(hd);
  for (let l = c.nLayers - 1; l >= 0; l--) {
    const a = acts.layers[l];
    const lw = w.layers[l];
    const lgw = g ? g.layers[l] : null;
    const dLora = lg ? lg.layers[l] : null;
    const perEx = pe ? { T, layers: pe.map((p) => p.layers[l]) } : null;
    const loraBack = (
      groups: LoraGroup[],
      dys: Partial<Record<LoraTarget, Float32Array>>,
      into: Float32Array | null,
    ) => {
      for (const grp of groups) loraBackward(K, grp, dys, N, into, dLora, perEx, alloc);
    };

    // MLP block: xOut = xMid + down(swiglu(gate(h2), up(h2)))
    linearBackward(K, dx, a.act, N, F, lw.wDown, D, dAct, false, lgw?.wDown ?? null);
    loraBack(a.loraDown, { down: dx }, dAct);
    K.swigluBackward(dGate, dUp, dAct, a.gate, a.up, N * F);
    linearBackward(K, dGate, a.h2, N, D, lw.wGate, F, dh2, false, lgw?.wGate ?? null);
    linearBackward(K, dUp, a.h2, N, D, lw.wUp, F, dh2, true, lgw?.wUp ?? null);
    loraBack(a.loraGateUp, { gate: dGate, up: dUp }, dh2);
    K.rmsnormBackward(dxMid, lgw ? lgw.ffnNorm : sink, dh2, a.xMid, lw.ffnNorm, a.inv2, N, D);
    addInto(dxMid, dx, N * D);

    // attention block: xMid = xIn + o(attn(rope(q(h1)), rope(k(h1)), v(h1)))
    linearBackward(K, dxMid, a.o, N, D, lw.wo, D, dO, false, lgw?.wo ?? null);
    loraBack(a.loraO, { o: dxMid }, dO);
    for (let b = 0; b < B; b++) {
      for (let gi = 0; gi < c.nKvHeads; gi++) {
        const h0 = b * c.nHeads + gi * group;
        const Pg = a.att.subarray(h0 * T * T, (h0 + group) * T * T);
        const qOff = b * T * D + gi * group * hd;
        const kOff = b * T * kvDim + gi * hd;
        const dObg = dO.subarray(qOff);
        const vbg = a.v.subarray(kOff);
        const kbg = a.k.subarray(kOff);
        // dP = dO·vᵀ for the group's heads
        K.sgemmStridedBatched(false, true, T, T, hd, 1, dObg, D, hd, vbg, kvDim, 0, 0, dP, T, T * T, group);
        for (let j = 0; j < group; j++) {
          // dv (=, then +=) Pᵀ·dO: the heads of a group share one kv head
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
            j === 0 ? 0 : 1,
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
          // dk (=, then +=) scale·dSᵀ·q
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
            j === 0 ? 0 : 1,
            dk.subarray(kOff),
            kvDim,
          );
        }
      }
    }
    K.ropeAt(dq, acts.positions, c.nHeads, hd, c.ropeTheta, true);
    K.ropeAt(dk, acts.positions, c.nKvHeads, hd, c.ropeTheta, true);
    // Below the first layer only the token-embedding gradient would consume dh1: with the base
    // frozen, the first layer's input-gradient products (dq·Wq + dk·Wk + dv·Wv, dt·A) are skipped.
    const needInput = l > 0 || g !== null;
    const into = needInput ? dh1 : null;
    linearBackward(K, dq, a.h1, N, D, lw.wq, D, into, false, lgw?.wq ?? null);
    linearBackward(K, dk, a.h1, N, D, lw.wk, kvDim, into, true, lgw?.wk ?? null);
    linearBackward(K, dv, a.h1, N, D, lw.wv, kvDim, into, true, lgw?.wv ?? null);
    loraBack(a.loraQkv, { q: dq, k: dk, v: dv }, into);
    if (!needInput) break;
    K.rmsnormBackward(dxNext, lgw ? lgw.attnNorm : sink, dh1, a.xIn, lw.attnNorm, a.inv1, N, D);
    addInto(dxNext, dxMid, N * D);
    [dx, dxNext] = [dxNext, dx];
  }
  // token embedding (scatter-add; tied models add into the same array as the lm head)
  if (g) {
    for (let i = 0; i < N; i++) {
      const row = acts.tokens[i] * D;
      for (let j = 0; j < D; j++) g.tokEmb[row + j] += dx[i * D + j];
    }
  }
}

/**
 * Mean cross-entropy of next-token targets (negative target = ignored) and d(loss)/d(logits).
 * With `inPlace` the gradient overwrites `logits` (no second vocab-wide buffer; the logits are gone).
 */
export function crossEntropyLoss(
  logits: Float32Array,
  targets: Int32Array,
  vocab: number,
  withGrad: boolean,
  inPlace = false,
) {
  const K = getKernels();
  const rows = targets.length;
  const dlogits = withGrad ? (inPlace ? logits : new Float32Array(rows * vocab)) : undefined;
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
 * A `workspace` makes repeated calls reuse their buffers; `loraGrads` (adapter-shaped) receives the
 * LoRA gradients instead of a fresh adapter (it is zeroed first).
 */
export function lossAndGrads(
  model: LlamaModel,
  batch: Batch,
  opts: {
    lora?: LoraAdapter | null;
    trainBase?: boolean;
    training?: boolean;
    seed?: number;
    workspace?: Workspace | null;
    loraGrads?: LoraAdapter | null;
  } = {},
): { loss: number; grads: LlamaWeights | null; loraGrads: LoraAdapter | null } {
  if (batch.targets.length !== batch.B * batch.T)
    throw invalid('targets', `must have ${batch.B * batch.T} entries, got ${batch.targets.length}`);
  const acts = forward(model, batch.tokens, batch.B, batch.T, {
    lora: opts.lora,
    training: opts.training,
    seed: opts.seed,
    workspace: opts.workspace,
  });
  // the logits are not needed once the loss is known: their gradient takes their place
  const { loss, dlogits } = crossEntropyLoss(acts.logits, batch.targets, model.config.vocabSize, true, true);
  const grads = opts.trainBase ? zeroWeights(model.config) : null;
  let loraGrads: LoraAdapter | null = null;
  if (opts.lora) {
    loraGrads = opts.loraGrads ?? zeroLoraGrads(opts.lora);
    if (opts.loraGrads)
      for (const layer of loraGrads.layers)
        for (const t of LORA_TARGETS) {
          layer[t]?.a.fill(0);
          layer[t]?.b.fill(0);
        }
  }
  backward(model, acts, dlogits!, { grads, loraGrads, workspace: opts.workspace });
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
