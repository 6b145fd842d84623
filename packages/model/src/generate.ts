// Inference: a KV cache with independent slots (one sequence each), a batched cached forward in which
// every row may use a different LoRA adapter (segmented LoRA matmul, for serving), sampling and
// streaming generation.
import { getKernels, type LoraSegment } from '@openledger/tensor';
import { headDim } from './config.ts';
import { invalid } from './errors.ts';
import { type AnyLoraAdapter, type LoraTarget, loraScale } from './lora.ts';
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
  /** Activation buffers of `forwardCached(…, { reuseBuffers: true })`, grown as needed. */
  readonly scratch = new Map<string, Float32Array>();

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

/** Rows b0 … b1-1 share one adapter. */
interface AdapterRun {
  b0: number;
  b1: number;
  adapter: AnyLoraAdapter;
}

/** Consecutive rows sharing an adapter, found once per forward. */
function adapterRuns(adapters: readonly (AnyLoraAdapter | null | undefined)[]): AdapterRun[] {
  const runs: AdapterRun[] = [];
  for (let b = 0; b < adapters.length; b++) {
    const ad = adapters[b];
    if (!ad) continue;
    const last = runs[runs.length - 1];
    if (last && last.adapter === ad && last.b1 === b) last.b1 = b + 1;
    else runs.push({ b0: b, b1: b + 1, adapter: ad });
  }
  return runs;
}

/** The LoRA segments of one layer's target; row b's tokens are rows offs[b] … offs[b+1]-1. */
function segmentsFor(
  runs: readonly AdapterRun[],
  offs: Int32Array,
  layer: number,
  target: LoraTarget,
): LoraSegment[] {
  const segs: LoraSegment[] = [];
  for (const run of runs) {
    const pair = run.adapter.layers[layer]?.[target];
    if (!pair) continue;
    const last = segs[segs.length - 1];
    const scale = loraScale(run.adapter.config);
    // different adapter objects may share a pair: adjacent rows using the same one are one segment
    if (last && last.a === pair.a && last.b === pair.b && last.scale === scale && last.end === offs[run.b0])
      last.end = offs[run.b1];
    else
      segs.push({
        start: offs[run.b0],
        end: offs[run.b1],
        a: pair.a,
        b: pair.b,
        rank: run.adapter.config.rank,
        scale,
      });
  }
  return segs;
}

export interface CachedForwardOptions {
  /** Adapter per row (null = base model). One adapter for all rows may be given directly. */
  adapters?: readonly (AnyLoraAdapter | null | undefined)[] | AnyLoraAdapter | null;
  /** Return logits of every new position (default: only the last of each row). */
  allLogits?: boolean;
  /**
   * Keep activation buffers in the cache and reuse them on its next call (decoding loops): no fresh
   * arrays per step. The returned logits are then a view that the next such call on this cache
   * overwrites.
   */
  reuseBuffers?: boolean;
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
  if (!Number.isInteger(T) || T < 1) throw invalid('T', `must be an integer ≥ 1, got ${T}`);
  const N = slots.length * T;
  if (tokens.length !== N) throw invalid('tokens', `must have ${N} entries (rows·T), got ${tokens.length}`);
  return forwardRagged(model, cache, slots, tokens, new Array<number>(slots.length).fill(T), opts);
}

/**
 * forwardCached with counts[b] ≥ 1 new tokens for row b (the rows' tokens back to back in `tokens`):
 * prompts of different lengths in one forward (batched prefill). Returns [B][vocab] logits of each
 * row's last token, or [Σcounts][vocab] with allLogits.
 */
export function forwardRagged(
  model: LlamaModel,
  cache: KVCache,
  slots: readonly number[],
  tokens: Int32Array,
  counts: readonly number[],
  opts: CachedForwardOptions = {},
): Float32Array {
  const K = getKernels();
  const c = model.config;
  const w = model.weights;
  const B = slots.length;
  const D = c.dim;
  const hd = headDim(c);
  const kvDim = c.nKvHeads * hd;
  const F = c.ffnDim;
  const V = c.vocabSize;
  if (counts.length !== B) throw invalid('counts', `needs one entry per row (${B}), got ${counts.length}`);
  const offs = new Int32Array(B + 1);
  for (let b = 0; b < B; b++) {
    if (!Number.isInteger(counts[b]) || counts[b] < 1)
      throw invalid('counts', `row ${b} needs an integer count ≥ 1, got ${counts[b]}`);
    offs[b + 1] = offs[b] + counts[b];
  }
  const N = offs[B];
  if (tokens.length !== N) throw invalid('tokens', `must have ${N} entries (Σcounts), got ${tokens.length}`);
  const seen = new Set<number>();
  slots.forEach((s, b) => {
    if (!Number.isInteger(s) || s < 0 || s >= cache.slots)
      throw invalid('slots', `slot ${s} outside 0..${cache.slots - 1}`);
    if (seen.has(s)) throw invalid('slots', `slot ${s} appears twice`);
    seen.add(s);
    if (cache.lengths[s] + counts[b] > cache.maxSeq)
      throw invalid(
        'tokens',
        `slot ${s} would hold ${cache.lengths[s] + counts[b]} positions, limit ${cache.maxSeq}`,
      );
  });
  for (let i = 0; i < N; i++)
    if (!(tokens[i] >= 0 && tokens[i] < V))
      throw invalid('tokens', `token ${tokens[i]} outside vocabulary 0..${V - 1}`);
  const ads = opts.adapters;
  const adapters: readonly (AnyLoraAdapter | null | undefined)[] = Array.isArray(ads)
    ? (ads as (AnyLoraAdapter | null)[])
    : new Array(B).fill((ads as AnyLoraAdapter | null | undefined) ?? null);
  if (adapters.length !== B)
    throw invalid('adapters', `needs one entry per row (${B}), got ${adapters.length}`);
  for (const ad of adapters)
    if (ad && ad.layers.length !== c.nLayers)
      throw invalid('adapters', `adapter has ${ad.layers.length} layers, model has ${c.nLayers}`);

  const scratch = opts.reuseBuffers ? cache.scratch : null;
  const buf = (key: string, n: number): Float32Array => {
    if (!scratch) return new Float32Array(n);
    let b = scratch.get(key);
    if (!b || b.length < n) {
      b = new Float32Array(Math.max(n, Math.ceil((b?.length ?? 0) * 1.5)));
      scratch.set(key, b);
    }
    return b.length === n ? b : b.subarray(0, n);
  };

  const positions = new Int32Array(N);
  const slotArr = new Int32Array(B);
  const past = new Int32Array(B);
  const countArr = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    slotArr[b] = slots[b];
    past[b] = cache.lengths[slots[b]];
    countArr[b] = counts[b];
    for (let t = 0; t < counts[b]; t++) positions[offs[b] + t] = past[b] + t;
  }

  const x = buf('x', N * D);
  for (let i = 0; i < N; i++) x.set(w.tokEmb.subarray(tokens[i] * D, (tokens[i] + 1) * D), i * D);
  const h = buf('h', N * D);
  const q = buf('q', N * D);
  const k = buf('k', N * kvDim);
  const v = buf('v', N * kvDim);
  const o = buf('o', N * D);
  const gate = buf('gate', N * F);
  const up = buf('up', N * F);
  const scale = 1 / Math.sqrt(hd);
  const runs = adapterRuns(adapters);
  // y (=, or += with accumulate) x·Wᵀ, then each row's LoRA delta
  const linear = (
    l: number,
    target: LoraTarget,
    xin: Float32Array,
    inDim: number,
    y: Float32Array,
    outDim: number,
    accumulate: boolean,
  ) => {
    K.sgemm(
      false,
      true,
      N,
      outDim,
      inDim,
      1,
      xin,
      inDim,
      w.layers[l][TARGET_KEY[target]],
      inDim,
      accumulate ? 1 : 0,
      y,
      outDim,
    );
    if (runs.length === 0) return;
    const segs = segmentsFor(runs, offs, l, target);
    if (segs.length) K.loraSegmented(y, xin, N, inDim, outDim, segs);
  };
  for (let l = 0; l < c.nLayers; l++) {
    const lw = w.layers[l];
    K.rmsnorm(h, x, lw.attnNorm, N, D, c.normEps);
    linear(l, 'q', h, D, q, D, false);
    linear(l, 'k', h, D, k, kvDim, false);
    linear(l, 'v', h, D, v, kvDim, false);
    K.ropeAt(q, positions, c.nHeads, hd, c.ropeTheta, false);
    K.ropeAt(k, positions, c.nKvHeads, hd, c.ropeTheta, false);
    // writes k, v into the slots, then each new query attends over its slot (one call per layer)
    K.attentionCached(
      o,
      q,
      k,
      v,
      cache.k[l],
      cache.v[l],
      slotArr,
      past,
      countArr,
      B,
      cache.maxSeq,
      c.nHeads,
      c.nKvHeads,
      hd,
      scale,
    );
    // residual adds ride on sgemm's beta = 1 (and the LoRA delta adds into the residual too)
    linear(l, 'o', o, D, x, D, true);
    K.rmsnorm(h, x, lw.ffnNorm, N, D, c.normEps);
    linear(l, 'gate', h, D, gate, F, false);
    linear(l, 'up', h, D, up, F, false);
    K.swiglu(gate, gate, up, N * F);
    linear(l, 'down', gate, F, x, D, true);
  }
  slots.forEach((s, b) => {
    cache.lengths[s] += counts[b];
  });
  // final norm + lm head on the requested rows only
  let rows = N;
  let xf = x;
  if (!opts.allLogits && N > B) {
    xf = buf('last', B * D);
    for (let b = 0; b < B; b++) xf.set(x.subarray((offs[b + 1] - 1) * D, offs[b + 1] * D), b * D);
    rows = B;
  } else if (!opts.allLogits) rows = B;
  const hf = buf('hf', rows * D);
  K.rmsnorm(hf, xf, w.finalNorm, rows, D, c.normEps);
  const logits = buf('logits', rows * V);
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
  adapters: readonly (AnyLoraAdapter | null | undefined)[],
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

const sampleTemp = new Float64Array(1);
const sampleU = new Float64Array(1);
const sampleOut = new Int32Array(1);

/** Samples one token id from a logits row. */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng): number {
  const V = logits.length;
  const temp = opts.temperature ?? 1;
  if (!(temp >= 0)) throw invalid('temperature', `must be ≥ 0, got ${temp}`);
  const topP = opts.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw invalid('topP', `must be in (0, 1], got ${topP}`);
  const topK = opts.topK ?? 0;
  if (!Number.isInteger(topK) || topK < 0) throw invalid('topK', `must be an integer ≥ 0, got ${topK}`);
  if (V > 0 && (temp === 0 || topK === 1 || (topK === 0 && topP === 1))) {
    // argmax, or plain temperature sampling over the whole vocabulary: one kernel pass (the same
    // single draw from rng as the general path below, and no draw for argmax)
    const greedy = temp === 0 || topK === 1;
    sampleTemp[0] = greedy ? 0 : temp;
    sampleU[0] = greedy ? 0 : rng.next();
    getKernels().sampleRows(logits, 1, V, sampleTemp, sampleU, sampleOut);
    return sampleOut[0];
  }
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
  adapter?: AnyLoraAdapter | null;
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
  // decoding reuses the cache's activation buffers: each step's logits are read before the next step
  let logits = forwardCached(model, cache, [0], Int32Array.from(prompt), prompt.length, {
    adapters: opts.adapter ?? null,
    reuseBuffers: true,
  });
  for (let n = 0; n < maxTokens && cache.lengths[0] < total; n++) {
    const id = sampleToken(logits, opts, rng);
    if (stops.has(id)) return;
    yield id;
    if (cache.lengths[0] >= total) return;
    logits = forwardCached(model, cache, [0], Int32Array.of(id), 1, {
      adapters: opts.adapter ?? null,
      reuseBuffers: true,
    });
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
  opts: GenerateOptions & { adapters?: (AnyLoraAdapter | null)[] } = {},
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
  let logits = forwardCached(model, cache, slots, Int32Array.from(prompts.flat()), T, {
    adapters,
    reuseBuffers: true,
  });
  const out: number[][] = prompts.map(() => []);
  for (let n = 0; n < maxTokens && cache.lengths[0] < cache.maxSeq; n++) {
    const next = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      next[b] = sampleToken(logits.subarray(b * V, (b + 1) * V), opts, rng);
      out[b].push(next[b]);
    }
    if (n === maxTokens - 1 || cache.lengths[0] >= cache.maxSeq) break;
    logits = forwardCached(model, cache, slots, next, 1, { adapters, reuseBuffers: true });
  }
  return out;
}
