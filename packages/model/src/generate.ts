// Inference: a KV cache with independent slots (one sequence each), a batched cached forward in which
// every row may use a different LoRA adapter (segmented LoRA matmul, for serving), sampling and
// streaming generation.
import { getKernels, type Kernels, type LoraSegment } from '@openledger/tensor';
import { headDim } from './config.ts';
import { invalid } from './errors.ts';
import { type LoraAdapter, type LoraTarget, loraScale } from './lora.ts';
import type { LlamaModel } from './model.ts';
import { Rng } from './rng.ts';
import type { BpeTokenizer } from './tokenizer.ts';

/** Keys and values of `slots` sequences, each up to `maxSeq` positions. */
export class KVCache {
  readonly slots: number;
  readonly maxSeq: number;
  readonly kvDim: number;
  /** Per layer [slot][pos][kvDim] (keys after RoPE). */
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** Positions filled per slot. */
  readonly lengths: Int32Array;

  constructor(model: LlamaModel, slots: number, maxSeq = model.config.maxSeq) {
    const c = model.config;
    if (!Number.isInteger(slots) || slots < 1) throw invalid('slots', `must be ≥ 1, got ${slots}`);
    if (!Number.isInteger(maxSeq) || maxSeq < 1 || maxSeq > c.maxSeq)
      throw invalid('maxSeq', `must be in 1..${c.maxSeq}, got ${maxSeq}`);
    this.slots = slots;
    this.maxSeq = maxSeq;
    this.kvDim = c.nKvHeads * headDim(c);
    this.k = [];
    this.v = [];
    for (let l = 0; l < c.nLayers; l++) {
      this.k.push(new Float32Array(slots * maxSeq * this.kvDim));
      this.v.push(new Float32Array(slots * maxSeq * this.kvDim));
    }
    this.lengths = new Int32Array(slots);
  }

  /** Forgets a slot's sequence so it can be reused. */
  reset(slot: number): void {
    this.lengths[slot] = 0;
  }
}

const TARGET_KEY = { q: 'wq', k: 'wk', v: 'wv', o: 'wo', gate: 'wGate', up: 'wUp', down: 'wDown' } as const;

/** Consecutive rows sharing an adapter become one segment. */
function segmentsFor(
  adapters: readonly (LoraAdapter | null | undefined)[],
  T: number,
  layer: number,
  target: LoraTarget,
): LoraSegment[] {
  const segs: LoraSegment[] = [];
  for (let b = 0; b < adapters.length; b++) {
    const ad = adapters[b];
    const pair = ad?.layers[layer]?.[target];
    if (!ad || !pair) continue;
    const last = segs[segs.length - 1];
    if (last && last.a === pair.a && last.end === b * T) last.end = (b + 1) * T;
    else
      segs.push({
        start: b * T,
        end: (b + 1) * T,
        a: pair.a,
        b: pair.b,
        rank: ad.config.rank,
        scale: loraScale(ad.config),
      });
  }
  return segs;
}

function linearMixed(
  K: Kernels,
  x: Float32Array,
  N: number,
  inDim: number,
  W: Float32Array,
  outDim: number,
  y: Float32Array,
  segs: LoraSegment[],
): void {
  K.sgemm(false, true, N, outDim, inDim, 1, x, inDim, W, inDim, 0, y, outDim);
  if (segs.length) K.loraSegmented(y, x, N, inDim, outDim, segs);
}

export interface CachedForwardOptions {
  /** Adapter per row (null = base model). One adapter for all rows may be given directly. */
  adapters?: readonly (LoraAdapter | null | undefined)[] | LoraAdapter | null;
  /** Return logits of every new position (default: only the last of each row). */
  allLogits?: boolean;
}

/**
 * Appends T new tokens to each of B sequences (row b lives in cache slot slots[b]) and returns logits:
 * [B][vocab] for each row's last token, or [B][T][vocab] with allLogits. Rows may be at different
 * positions and may each use a different LoRA adapter (forward only: serving).
 */
export function forwardCached(
  model: LlamaModel,
  cache: KVCache,
  slots: readonly number[],
  tokens: Int32Array,
  T: number,
  opts: CachedForwardOptions = {},
): Float32Array {
  const K = getKernels();
  const c = model.config;
  const w = model.weights;
  const B = slots.length;
  const N = B * T;
  const D = c.dim;
  const hd = headDim(c);
  const kvDim = c.nKvHeads * hd;
  const F = c.ffnDim;
  const V = c.vocabSize;
  if (tokens.length !== N) throw invalid('tokens', `must have ${N} entries (rows·T), got ${tokens.length}`);
  const seen = new Set<number>();
  for (const s of slots) {
    if (!Number.isInteger(s) || s < 0 || s >= cache.slots)
      throw invalid('slots', `slot ${s} outside 0..${cache.slots - 1}`);
    if (seen.has(s)) throw invalid('slots', `slot ${s} appears twice`);
    seen.add(s);
    if (cache.lengths[s] + T > cache.maxSeq)
      throw invalid(
        'tokens',
        `slot ${s} would hold ${cache.lengths[s] + T} positions, limit ${cache.maxSeq}`,
      );
  }
  for (let i = 0; i < N; i++)
    if (!(tokens[i] >= 0 && tokens[i] < V))
      throw invalid('tokens', `token ${tokens[i]} outside vocabulary 0..${V - 1}`);
  const ads = opts.adapters;
  const adapters: readonly (LoraAdapter | null | undefined)[] = Array.isArray(ads)
    ? (ads as (LoraAdapter | null)[])
    : new Array(B).fill((ads as LoraAdapter | null | undefined) ?? null);
  if (adapters.length !== B)
    throw invalid('adapters', `needs one entry per row (${B}), got ${adapters.length}`);
  for (const ad of adapters)
    if (ad && ad.layers.length !== c.nLayers)
      throw invalid('adapters', `adapter has ${ad.layers.length} layers, model has ${c.nLayers}`);

  const positions = new Int32Array(N);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) positions[b * T + t] = cache.lengths[slots[b]] + t;

  let x = new Float32Array(N * D);
  for (let i = 0; i < N; i++) x.set(w.tokEmb.subarray(tokens[i] * D, (tokens[i] + 1) * D), i * D);
  const h = new Float32Array(N * D);
  const q = new Float32Array(N * D);
  const k = new Float32Array(N * kvDim);
  const v = new Float32Array(N * kvDim);
  const o = new Float32Array(N * D);
  const tmp = new Float32Array(N * D);
  const gate = new Float32Array(N * F);
  const up = new Float32Array(N * F);
  const maxL = Math.max(...slots.map((s) => cache.lengths[s])) + T;
  const group = c.nHeads / c.nKvHeads;
  const S = new Float32Array(group * T * maxL);
  const scale = 1 / Math.sqrt(hd);
  for (let l = 0; l < c.nLayers; l++) {
    const lw = w.layers[l];
    const seg = (t: LoraTarget) => segmentsFor(adapters, T, l, t);
    K.rmsnorm(h, x, lw.attnNorm, N, D, c.normEps);
    linearMixed(K, h, N, D, lw[TARGET_KEY.q], D, q, seg('q'));
    linearMixed(K, h, N, D, lw[TARGET_KEY.k], kvDim, k, seg('k'));
    linearMixed(K, h, N, D, lw[TARGET_KEY.v], kvDim, v, seg('v'));
    K.ropeAt(q, positions, c.nHeads, hd, c.ropeTheta, false);
    K.ropeAt(k, positions, c.nKvHeads, hd, c.ropeTheta, false);
    const kc = cache.k[l];
    const vc = cache.v[l];
    for (let b = 0; b < B; b++) {
      const slot = slots[b];
      const past = cache.lengths[slot];
      const base = slot * cache.maxSeq * kvDim;
      kc.set(k.subarray(b * T * kvDim, (b + 1) * T * kvDim), base + past * kvDim);
      vc.set(v.subarray(b * T * kvDim, (b + 1) * T * kvDim), base + past * kvDim);
      const L = past + T;
      // query heads g·group … of kv head g in one strided-batched sgemm each way
      for (let g = 0; g < c.nKvHeads; g++) {
        const P = S.subarray(0, group * T * L);
        const qbg = q.subarray(b * T * D + g * group * hd);
        const kbg = kc.subarray(base + g * hd);
        const vbg = vc.subarray(base + g * hd);
        K.sgemmStridedBatched(false, true, T, L, hd, scale, qbg, D, hd, kbg, kvDim, 0, 0, P, L, T * L, group);
        for (let r = 0; r < group * T; r++)
          P.fill(Number.NEGATIVE_INFINITY, r * L + past + (r % T) + 1, (r + 1) * L);
        K.softmaxRows(P, group * T, L);
        const obg = o.subarray(b * T * D + g * group * hd);
        K.sgemmStridedBatched(false, false, T, hd, L, 1, P, L, T * L, vbg, kvDim, 0, 0, obg, D, hd, group);
      }
    }
    linearMixed(K, o, N, D, lw[TARGET_KEY.o], D, tmp, seg('o'));
    for (let i = 0; i < N * D; i++) x[i] += tmp[i];
    K.rmsnorm(h, x, lw.ffnNorm, N, D, c.normEps);
    linearMixed(K, h, N, D, lw[TARGET_KEY.gate], F, gate, seg('gate'));
    linearMixed(K, h, N, D, lw[TARGET_KEY.up], F, up, seg('up'));
    K.swiglu(gate, gate, up, N * F);
    linearMixed(K, gate, N, F, lw[TARGET_KEY.down], D, tmp, seg('down'));
    for (let i = 0; i < N * D; i++) x[i] += tmp[i];
  }
  for (const s of slots) cache.lengths[s] += T;
  // final norm + lm head on the requested rows only
  let rows = N;
  if (!opts.allLogits && T > 1) {
    const last = new Float32Array(B * D);
    for (let b = 0; b < B; b++) last.set(x.subarray(((b + 1) * T - 1) * D, (b + 1) * T * D), b * D);
    x = last;
    rows = B;
  } else if (!opts.allLogits) rows = B;
  const hf = new Float32Array(rows * D);
  K.rmsnorm(hf, x, w.finalNorm, rows, D, c.normEps);
  const logits = new Float32Array(rows * V);
  K.sgemm(false, true, rows, V, D, 1, hf, D, w.output, D, 0, logits, V);
  return logits;
}

/**
 * Forward-only logits for a batch of B equal-length rows, row b using adapters[b] (null = base):
 * [B][T][vocab]. This is the serving path (segmented LoRA); it equals `forward` with each adapter.
 */
export function forwardMixed(
  model: LlamaModel,
  tokens: Int32Array,
  B: number,
  T: number,
  adapters: readonly (LoraAdapter | null | undefined)[],
): Float32Array {
  const cache = new KVCache(model, B, T);
  return forwardCached(
    model,
    cache,
    Array.from({ length: B }, (_, i) => i),
    tokens,
    T,
    { adapters, allLogits: true },
  );
}

export interface SamplingOptions {
  /** 0 = greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p (1 = off). */
  topP?: number;
  seed?: number;
}

/** Samples one token id from a logits row. */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng): number {
  const V = logits.length;
  const temp = opts.temperature ?? 1;
  if (!(temp >= 0)) throw invalid('temperature', `must be ≥ 0, got ${temp}`);
  const topP = opts.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw invalid('topP', `must be in (0, 1], got ${topP}`);
  const topK = opts.topK ?? 0;
  if (!Number.isInteger(topK) || topK < 0) throw invalid('topK', `must be an integer ≥ 0, got ${topK}`);
  let best = 0;
  for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
  if (temp === 0 || topK === 1) return best;
  const max = logits[best];
  let idx = Array.from({ length: V }, (_, i) => i);
  const p = new Float64Array(V);
  for (let i = 0; i < V; i++) p[i] = Math.exp((logits[i] - max) / temp);
  if (topK > 0 || topP < 1) {
    idx.sort((a, b) => p[b] - p[a] || a - b);
    if (topK > 0) idx = idx.slice(0, topK);
    if (topP < 1) {
      let total = 0;
      for (const i of idx) total += p[i];
      let acc = 0;
      let cut = idx.length;
      for (let j = 0; j < idx.length; j++) {
        acc += p[idx[j]] / total;
        if (acc >= topP) {
          cut = j + 1;
          break;
        }
      }
      idx = idx.slice(0, cut);
    }
  }
  let total = 0;
  for (const i of idx) total += p[i];
  let r = rng.next() * total;
  for (const i of idx) {
    r -= p[i];
    if (r < 0) return i;
  }
  return idx[idx.length - 1];
}

export interface GenerateOptions extends SamplingOptions {
  maxTokens?: number;
  /** Stop when one of these ids is produced (it is not yielded). */
  stopTokens?: number[];
  adapter?: LoraAdapter | null;
}

/**
 * Generates tokens after `prompt` (token ids) with a KV cache, calling nothing but the model; yields
 * each new id. Synchronous generator: wrap with `generate` for text streaming.
 */
export function* generateTokens(
  model: LlamaModel,
  prompt: number[],
  opts: GenerateOptions = {},
): Generator<number> {
  if (prompt.length === 0) throw invalid('prompt', 'must contain at least one token');
  const maxTokens = opts.maxTokens ?? 64;
  const total = Math.min(model.config.maxSeq, prompt.length + maxTokens);
  if (prompt.length >= model.config.maxSeq)
    throw invalid('prompt', `has ${prompt.length} tokens, context is ${model.config.maxSeq}`);
  const cache = new KVCache(model, 1, total);
  const rng = new Rng(opts.seed ?? 0);
  const stops = new Set(opts.stopTokens ?? []);
  let logits = forwardCached(model, cache, [0], Int32Array.from(prompt), prompt.length, {
    adapters: opts.adapter ?? null,
  });
  for (let n = 0; n < maxTokens && cache.lengths[0] < total; n++) {
    const id = sampleToken(logits, opts, rng);
    if (stops.has(id)) return;
    yield id;
    if (cache.lengths[0] >= total) return;
    logits = forwardCached(model, cache, [0], Int32Array.of(id), 1, { adapters: opts.adapter ?? null });
  }
}

/** Streams generated text pieces (UTF-8 safe) for a text prompt. */
export async function* generate(
  model: LlamaModel,
  tokenizer: BpeTokenizer,
  prompt: string,
  opts: GenerateOptions = {},
): AsyncGenerator<{ token: number; text: string }> {
  const dec = tokenizer.streamDecoder();
  const eot = tokenizer.specialId('<|endoftext|>');
  const stopTokens = opts.stopTokens ?? (eot !== undefined ? [eot] : []);
  const ids = tokenizer.encode(prompt);
  if (ids.length === 0 && eot !== undefined) ids.push(eot);
  for (const token of generateTokens(model, ids, { ...opts, stopTokens })) {
    yield { token, text: dec.push(token) };
    await new Promise((r) => setImmediate(r)); // let the event loop breathe between tokens
  }
  const rest = dec.flush();
  if (rest) yield { token: -1, text: rest };
}

/** Whole-text convenience wrapper around `generate`. */
export async function generateText(
  model: LlamaModel,
  tokenizer: BpeTokenizer,
  prompt: string,
  opts: GenerateOptions = {},
): Promise<string> {
  let out = '';
  for await (const piece of generate(model, tokenizer, prompt, opts)) out += piece.text;
  return out;
}

/**
 * Batched greedy/sampled decoding of B prompts of equal length (benchmarks, batch serving): returns
 * the generated ids per row. Each row may use its own adapter.
 */
export function generateBatch(
  model: LlamaModel,
  prompts: number[][],
  opts: GenerateOptions & { adapters?: (LoraAdapter | null)[] } = {},
): number[][] {
  const B = prompts.length;
  const T = prompts[0]?.length ?? 0;
  if (B === 0 || T === 0 || prompts.some((p) => p.length !== T))
    throw invalid('prompts', 'need ≥ 1 prompts of equal, non-zero length');
  const maxTokens = opts.maxTokens ?? 32;
  const cache = new KVCache(model, B, Math.min(model.config.maxSeq, T + maxTokens));
  const slots = Array.from({ length: B }, (_, i) => i);
  const rng = new Rng(opts.seed ?? 0);
  const adapters = opts.adapters ?? new Array(B).fill(opts.adapter ?? null);
  const V = model.config.vocabSize;
  let logits = forwardCached(model, cache, slots, Int32Array.from(prompts.flat()), T, { adapters });
  const out: number[][] = prompts.map(() => []);
  for (let n = 0; n < maxTokens && cache.lengths[0] < cache.maxSeq; n++) {
    const next = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      next[b] = sampleToken(logits.subarray(b * V, (b + 1) * V), opts, rng);
      out[b].push(next[b]);
    }
    if (n === maxTokens - 1 || cache.lengths[0] >= cache.maxSeq) break;
    logits = forwardCached(model, cache, slots, next, 1, { adapters });
  }
  return out;
}
