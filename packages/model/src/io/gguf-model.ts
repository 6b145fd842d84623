// Llama models and LoRA adapters as llama.cpp GGUF files.
//
// Names: token_embd.weight, blk.N.{attn_norm,attn_q,attn_k,attn_v,attn_output,ffn_norm,ffn_gate,ffn_up,
// ffn_down}.weight, output_norm.weight, output.weight (absent when tied). Metadata llama.* and
// tokenizer.ggml.* (model "gpt2", pre "gpt-2", tokens, token_type, merges, bos/eos ids).
//
// RoPE layout: we keep Hugging Face's "rotate half" layout internally (pairs (i, i+d/2) of each
// head). llama.cpp's LLAMA rope rotates adjacent pairs (2i, 2i+1), so — exactly as llama.cpp's
// convert_hf_to_gguf.py does — the rows of Q (per query head) and K (per kv head) are permuted on
// export: GGUF row h·d + 2i + p = HF row h·d + p·d/2 + i (p ∈ {0,1}, i < d/2), and permuted back on
// import. The LoRA B matrices of q and k (whose rows are output rows) get the same permutation.
import type { LlamaConfig } from '../config.ts';
import { headDim, validateConfig } from '../config.ts';
import { ModelError, ModelFormatError } from '../errors.ts';
import {
  LORA_TARGETS,
  type LoraAdapter,
  type LoraConfig,
  type LoraLayer,
  type LoraTarget,
  targetShape,
  validateLoraConfig,
} from '../lora.ts';
import { type LayerKey, type LlamaModel, zeroWeights } from '../model.ts';
import { type AddedToken, BpeTokenizer, GPT2_PATTERN } from '../tokenizer.ts';
import {
  GgmlType,
  type GgufFile,
  type GgufTensorOut,
  type GgufValue,
  gguf,
  ggufTensor,
  metaArray,
  metaNumber,
  metaString,
  readGguf,
  writeGguf,
} from './gguf.ts';

const GGUF_LAYER_NAMES: Record<LayerKey, string> = {
  attnNorm: 'attn_norm',
  wq: 'attn_q',
  wk: 'attn_k',
  wv: 'attn_v',
  wo: 'attn_output',
  ffnNorm: 'ffn_norm',
  wGate: 'ffn_gate',
  wUp: 'ffn_up',
  wDown: 'ffn_down',
};

export const GGUF_TARGET_NAMES: Record<LoraTarget, string> = {
  q: 'attn_q',
  k: 'attn_k',
  v: 'attn_v',
  o: 'attn_output',
  gate: 'ffn_gate',
  up: 'ffn_up',
  down: 'ffn_down',
};

/**
 * Permutes the rows of a [heads·d][cols] matrix between HF rotate-half order and llama.cpp's
 * interleaved order (toGguf = true: HF → GGUF).
 */
export function permuteRope(
  w: Float32Array,
  heads: number,
  d: number,
  cols: number,
  toGguf: boolean,
): Float32Array {
  const out = new Float32Array(w.length);
  const half = d / 2;
  for (let h = 0; h < heads; h++)
    for (let p = 0; p < 2; p++)
      for (let i = 0; i < half; i++) {
        const hfRow = h * d + p * half + i;
        const ggRow = h * d + 2 * i + p;
        const [src, dst] = toGguf ? [hfRow, ggRow] : [ggRow, hfRow];
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

export type GgufWeightType = 'F32' | 'F16' | 'Q8_0';

function weightType(t: GgufWeightType, cols: number): GgmlType {
  if (t === 'F16') return GgmlType.F16;
  if (t === 'Q8_0') return cols % 32 === 0 ? GgmlType.Q8_0 : GgmlType.F16;
  return GgmlType.F32;
}

function tokenizerMetadata(tok: BpeTokenizer): [string, GgufValue][] {
  const n = tok.vocabSize;
  const tokens: string[] = [];
  const types: number[] = [];
  const special = new Set(tok.added.map((a) => a.id));
  for (let i = 0; i < n; i++) {
    const t = tok.idToToken[i];
    tokens.push(t ?? `[PAD${i}]`);
    types.push(t === undefined ? 5 : special.has(i) ? 3 : 1); // 1 normal, 3 control, 5 unused
  }
  const eot = tok.specialId('<|endoftext|>') ?? tok.added[0]?.id;
  const out: [string, GgufValue][] = [
    ['tokenizer.ggml.model', gguf.str('gpt2')],
    ['tokenizer.ggml.pre', gguf.str(tok.pattern === GPT2_PATTERN ? 'gpt-2' : 'default')],
    ['tokenizer.ggml.tokens', gguf.strs(tokens)],
    ['tokenizer.ggml.token_type', gguf.i32s(types)],
    ['tokenizer.ggml.merges', gguf.strs(tok.merges.map(([l, r]) => `${l} ${r}`))],
  ];
  if (eot !== undefined) {
    out.push(['tokenizer.ggml.bos_token_id', gguf.u32(eot)]);
    out.push(['tokenizer.ggml.eos_token_id', gguf.u32(eot)]);
    out.push(['tokenizer.ggml.padding_token_id', gguf.u32(eot)]);
  }
  out.push(['tokenizer.ggml.add_bos_token', gguf.bool(false)]);
  out.push(['tokenizer.ggml.add_eos_token', gguf.bool(false)]);
  return out;
}

/** GGUF bytes of a model (+ tokenizer) that llama.cpp loads as architecture "llama". */
export function modelToGguf(
  model: LlamaModel,
  tokenizer: BpeTokenizer | null,
  opts: { type?: GgufWeightType; name?: string } = {},
): Uint8Array {
  const c = model.config;
  const w = model.weights;
  const hd = headDim(c);
  const type = opts.type ?? 'F32';
  if (tokenizer && tokenizer.vocabSize !== c.vocabSize)
    throw new ModelError(
      'INVALID_ARGUMENT',
      `tokenizer has ${tokenizer.vocabSize} tokens, model vocabSize is ${c.vocabSize}`,
    );
  const meta: [string, GgufValue][] = [
    ['general.architecture', gguf.str('llama')],
    ['general.type', gguf.str('model')],
    ['general.name', gguf.str(opts.name ?? 'openledger-llama')],
    ['general.alignment', gguf.u32(32)],
    ['general.file_type', gguf.u32(type === 'F32' ? 0 : type === 'F16' ? 1 : 7)],
    ['llama.context_length', gguf.u32(c.maxSeq)],
    ['llama.embedding_length', gguf.u32(c.dim)],
    ['llama.block_count', gguf.u32(c.nLayers)],
    ['llama.feed_forward_length', gguf.u32(c.ffnDim)],
    ['llama.attention.head_count', gguf.u32(c.nHeads)],
    ['llama.attention.head_count_kv', gguf.u32(c.nKvHeads)],
    ['llama.rope.dimension_count', gguf.u32(hd)],
    ['llama.rope.freq_base', gguf.f32(c.ropeTheta)],
    ['llama.attention.layer_norm_rms_epsilon', gguf.f32(c.normEps)],
    ['llama.vocab_size', gguf.u32(c.vocabSize)],
  ];
  if (tokenizer) meta.push(...tokenizerMetadata(tokenizer));
  const tensors: GgufTensorOut[] = [];
  const mat = (name: string, data: Float32Array, rows: number, cols: number) =>
    tensors.push({ name, dims: [cols, rows], type: weightType(type, cols), data });
  const vec = (name: string, data: Float32Array) =>
    tensors.push({ name, dims: [data.length], type: GgmlType.F32, data });
  mat('token_embd.weight', w.tokEmb, c.vocabSize, c.dim);
  const kvDim = c.nKvHeads * hd;
  w.layers.forEach((l, i) => {
    vec(`blk.${i}.attn_norm.weight`, l.attnNorm);
    mat(`blk.${i}.attn_q.weight`, permuteRope(l.wq, c.nHeads, hd, c.dim, true), c.dim, c.dim);
    mat(`blk.${i}.attn_k.weight`, permuteRope(l.wk, c.nKvHeads, hd, c.dim, true), kvDim, c.dim);
    mat(`blk.${i}.attn_v.weight`, l.wv, kvDim, c.dim);
    mat(`blk.${i}.attn_output.weight`, l.wo, c.dim, c.dim);
    vec(`blk.${i}.ffn_norm.weight`, l.ffnNorm);
    mat(`blk.${i}.ffn_gate.weight`, l.wGate, c.ffnDim, c.dim);
    mat(`blk.${i}.ffn_up.weight`, l.wUp, c.ffnDim, c.dim);
    mat(`blk.${i}.ffn_down.weight`, l.wDown, c.dim, c.ffnDim);
  });
  vec('output_norm.weight', w.finalNorm);
  if (!c.tiedEmbeddings) mat('output.weight', w.output, c.vocabSize, c.dim);
  return writeGguf(meta, tensors);
}

function tensorChecked(f: GgufFile, name: string, shape: number[], what: string): Float32Array {
  const t = f.tensors.find((x) => x.name === name);
  if (!t) throw new ModelFormatError(`${what}: missing tensor ${name}`);
  const ne = [...shape].reverse();
  if (t.dims.length !== ne.length || t.dims.some((d, i) => d !== ne[i]))
    throw new ModelFormatError(
      `${what}: tensor ${name} has dims ${JSON.stringify(t.dims)}, expected ${JSON.stringify(ne)}`,
    );
  return ggufTensor(f, name);
}

/** Tokenizer from tokenizer.ggml.* metadata (gpt2 / byte-level BPE only). */
export function tokenizerFromGguf(f: GgufFile): BpeTokenizer | null {
  if (!f.metadata.has('tokenizer.ggml.model')) return null;
  const kind = metaString(f, 'tokenizer.ggml.model');
  if (kind !== 'gpt2')
    throw new ModelFormatError(
      `GGUF: tokenizer.ggml.model "${kind}" is not supported (gpt2 byte-level BPE only)`,
    );
  const tokens = (metaArray(f, 'tokenizer.ggml.tokens') ?? []) as string[];
  const types = (metaArray(f, 'tokenizer.ggml.token_type') ?? []) as number[];
  const merges = ((metaArray(f, 'tokenizer.ggml.merges') ?? []) as string[]).map((m, i): [string, string] => {
    const sp = m.indexOf(' ', 1);
    if (sp < 0) throw new ModelFormatError(`GGUF: tokenizer.ggml.merges[${i}] is not "left right"`);
    return [m.slice(0, sp), m.slice(sp + 1)];
  });
  const vocab = new Map<string, number>();
  const added: AddedToken[] = [];
  tokens.forEach((t, i) => {
    if (typeof t !== 'string')
      throw new ModelFormatError(`GGUF: tokenizer.ggml.tokens[${i}] is not a string`);
    if (types[i] === 5) return;
    vocab.set(t, i);
    if (types[i] === 3 || types[i] === 4) added.push({ id: i, content: t, special: types[i] === 3 });
  });
  return new BpeTokenizer(vocab, merges, added);
}

/** Loads a llama-architecture GGUF (F32 / F16 / BF16 / Q8_0 weights, dequantised). */
export function modelFromGguf(
  bytes: Uint8Array,
  what = 'GGUF model',
): { model: LlamaModel; tokenizer: BpeTokenizer | null } {
  const f = readGguf(bytes, what);
  const arch = metaString(f, 'general.architecture');
  if (arch !== 'llama')
    throw new ModelFormatError(`${what}: general.architecture is "${arch}", only "llama" is supported`);
  const type = f.metadata.get('general.type')?.value;
  if (type === 'adapter') throw new ModelFormatError(`${what}: this is a LoRA adapter, not a model`);
  const dim = metaNumber(f, 'llama.embedding_length');
  const nHeads = metaNumber(f, 'llama.attention.head_count');
  const embd = f.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embd) throw new ModelFormatError(`${what}: missing tensor token_embd.weight`);
  const tied = !f.tensors.some((t) => t.name === 'output.weight');
  let config: LlamaConfig;
  try {
    config = validateConfig({
      dim,
      nLayers: metaNumber(f, 'llama.block_count'),
      nHeads,
      nKvHeads: metaNumber(f, 'llama.attention.head_count_kv', nHeads),
      ffnDim: metaNumber(f, 'llama.feed_forward_length'),
      vocabSize: metaNumber(f, 'llama.vocab_size', embd.dims[1]),
      ropeTheta: metaNumber(f, 'llama.rope.freq_base', 10000),
      normEps: metaNumber(f, 'llama.attention.layer_norm_rms_epsilon', 1e-5),
      tiedEmbeddings: tied,
      maxSeq: metaNumber(f, 'llama.context_length', 2048),
    });
  } catch (e) {
    if (e instanceof ModelError && !(e instanceof ModelFormatError))
      throw new ModelFormatError(`${what}: ${e.message}`);
    throw e;
  }
  const rd = metaNumber(f, 'llama.rope.dimension_count', dim / nHeads);
  if (rd !== dim / nHeads)
    throw new ModelFormatError(`${what}: partial RoPE (rope.dimension_count ${rd}) is not supported`);
  const c = config;
  const hd = headDim(c);
  const kvDim = c.nKvHeads * hd;
  const weights = zeroWeights(c);
  weights.tokEmb.set(tensorChecked(f, 'token_embd.weight', [c.vocabSize, c.dim], what));
  for (let i = 0; i < c.nLayers; i++) {
    const l = weights.layers[i];
    const get = (k: LayerKey, shape: number[]) =>
      tensorChecked(f, `blk.${i}.${GGUF_LAYER_NAMES[k]}.weight`, shape, what);
    l.attnNorm.set(get('attnNorm', [c.dim]));
    l.wq.set(permuteRope(get('wq', [c.dim, c.dim]), c.nHeads, hd, c.dim, false));
    l.wk.set(permuteRope(get('wk', [kvDim, c.dim]), c.nKvHeads, hd, c.dim, false));
    l.wv.set(get('wv', [kvDim, c.dim]));
    l.wo.set(get('wo', [c.dim, c.dim]));
    l.ffnNorm.set(get('ffnNorm', [c.dim]));
    l.wGate.set(get('wGate', [c.ffnDim, c.dim]));
    l.wUp.set(get('wUp', [c.ffnDim, c.dim]));
    l.wDown.set(get('wDown', [c.dim, c.ffnDim]));
  }
  weights.finalNorm.set(tensorChecked(f, 'output_norm.weight', [c.dim], what));
  if (!tied) weights.output.set(tensorChecked(f, 'output.weight', [c.vocabSize, c.dim], what));
  return { model: { config: c, weights }, tokenizer: tokenizerFromGguf(f) };
}

// ---------------------------------------------------------------------------------------------
// LoRA adapters (llama.cpp convert_lora_to_gguf.py convention)

/**
 * GGUF LoRA: general.type=adapter, adapter.type=lora, adapter.lora.alpha; tensors
 * blk.N.attn_q.weight.lora_a (ne [in, rank]) and .lora_b (ne [rank, out]). llama.cpp scales by
 * alpha / rank, so an rsLoRA adapter is written with alpha·√rank (same effective scale); the exact
 * config is also kept under openledger.lora.* for a lossless round trip.
 */
export function loraToGguf(
  adapter: LoraAdapter,
  model: LlamaConfig,
  opts: { name?: string } = {},
): Uint8Array {
  const c = adapter.config;
  const hd = headDim(model);
  const effAlpha = c.rsLora ? c.alpha * Math.sqrt(c.rank) : c.alpha;
  const meta: [string, GgufValue][] = [
    ['general.architecture', gguf.str('llama')],
    ['general.type', gguf.str('adapter')],
    ['general.name', gguf.str(opts.name ?? 'openledger-lora')],
    ['general.alignment', gguf.u32(32)],
    ['adapter.type', gguf.str('lora')],
    ['adapter.lora.alpha', gguf.f32(effAlpha)],
    ['openledger.lora.rank', gguf.u32(c.rank)],
    ['openledger.lora.alpha', gguf.f32(c.alpha)],
    ['openledger.lora.dropout', gguf.f32(c.dropout)],
    ['openledger.lora.rslora', gguf.bool(c.rsLora)],
    ['openledger.lora.targets', gguf.strs(c.targets)],
  ];
  const tensors: GgufTensorOut[] = [];
  adapter.layers.forEach((layer, l) => {
    for (const t of LORA_TARGETS) {
      const p = layer[t];
      if (!p) continue;
      const [inDim, outDim] = targetShape(model, t);
      let b = p.b;
      if (t === 'q') b = permuteRope(b, model.nHeads, hd, c.rank, true);
      if (t === 'k') b = permuteRope(b, model.nKvHeads, hd, c.rank, true);
      const base = `blk.${l}.${GGUF_TARGET_NAMES[t]}.weight`;
      tensors.push({ name: `${base}.lora_a`, dims: [inDim, c.rank], type: GgmlType.F32, data: p.a });
      tensors.push({ name: `${base}.lora_b`, dims: [c.rank, outDim], type: GgmlType.F32, data: b });
    }
  });
  return writeGguf(meta, tensors);
}

export function loraFromGguf(bytes: Uint8Array, model: LlamaConfig, what = 'GGUF LoRA'): LoraAdapter {
  const f = readGguf(bytes, what);
  if (f.metadata.get('general.type')?.value !== 'adapter' || f.metadata.get('adapter.type')?.value !== 'lora')
    throw new ModelFormatError(
      `${what}: not a LoRA adapter (general.type=adapter, adapter.type=lora expected)`,
    );
  const arch = metaString(f, 'general.architecture', 'llama');
  if (arch !== 'llama') throw new ModelFormatError(`${what}: architecture "${arch}" is not supported`);
  const hd = headDim(model);
  const layers: LoraLayer[] = Array.from({ length: model.nLayers }, () => ({}));
  const targets = new Set<LoraTarget>();
  let rank = 0;
  const byName = new Map(f.tensors.map((t) => [t.name, t]));
  for (const t of f.tensors) {
    const m = /^blk\.(\d+)\.(\w+)\.weight\.lora_a$/.exec(t.name);
    if (!m) {
      if (!/\.lora_b$/.test(t.name)) throw new ModelFormatError(`${what}: unexpected tensor ${t.name}`);
      continue;
    }
    const l = Number(m[1]);
    const target = LORA_TARGETS.find((x) => GGUF_TARGET_NAMES[x] === m[2]);
    if (!target) throw new ModelFormatError(`${what}: tensor ${t.name} adapts unknown weight ${m[2]}`);
    if (l >= model.nLayers)
      throw new ModelFormatError(`${what}: tensor ${t.name} names layer ${l}, model has ${model.nLayers}`);
    const bName = t.name.replace(/lora_a$/, 'lora_b');
    if (!byName.has(bName)) throw new ModelFormatError(`${what}: ${t.name} has no matching ${bName}`);
    const r = t.dims[1];
    if (rank && r !== rank)
      throw new ModelFormatError(`${what}: mixed ranks (${rank} and ${r}) are not supported`);
    rank = r;
    const [inDim, outDim] = targetShape(model, target);
    const a = tensorChecked(f, t.name, [r, inDim], what);
    let b = tensorChecked(f, bName, [outDim, r], what);
    if (target === 'q') b = permuteRope(b, model.nHeads, hd, r, false);
    if (target === 'k') b = permuteRope(b, model.nKvHeads, hd, r, false);
    layers[l][target] = { a, b };
    targets.add(target);
  }
  if (!rank) throw new ModelFormatError(`${what}: contains no lora_a tensors`);
  const effAlpha = metaNumber(f, 'adapter.lora.alpha', rank);
  let config: LoraConfig;
  if (f.metadata.has('openledger.lora.alpha')) {
    config = {
      rank,
      alpha: metaNumber(f, 'openledger.lora.alpha'),
      dropout: metaNumber(f, 'openledger.lora.dropout', 0),
      rsLora: Boolean(f.metadata.get('openledger.lora.rslora')?.value),
      targets: LORA_TARGETS.filter((t) => targets.has(t)),
    };
  } else
    config = {
      rank,
      alpha: effAlpha,
      dropout: 0,
      rsLora: false,
      targets: LORA_TARGETS.filter((t) => targets.has(t)),
    };
  try {
    validateLoraConfig(config);
  } catch (e) {
    throw new ModelFormatError(`${what}: ${(e as Error).message}`);
  }
  return { config, layers };
}
