// Hugging Face checkpoint directory: config.json (LlamaForCausalLM), model.safetensors with HF Llama
// names (model.layers.N.self_attn.q_proj.weight, …), tokenizer.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LlamaConfig } from '../config.ts';
import { validateConfig } from '../config.ts';
import { ModelError, ModelFormatError } from '../errors.ts';
import { type LlamaModel, namedParams, zeroWeights } from '../model.ts';
import { BpeTokenizer } from '../tokenizer.ts';
import { readSafetensors, type SafetensorsDtype, writeSafetensors } from './safetensors.ts';

export function configToHf(
  c: LlamaConfig,
  extra: { bosTokenId?: number; eosTokenId?: number } = {},
): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.ffnDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.dim / c.nHeads,
    vocab_size: c.vocabSize,
    rope_theta: c.ropeTheta,
    rms_norm_eps: c.normEps,
    tie_word_embeddings: c.tiedEmbeddings,
    max_position_embeddings: c.maxSeq,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: 'float32',
    bos_token_id: extra.bosTokenId ?? null,
    eos_token_id: extra.eosTokenId ?? null,
  };
}

export function configFromHf(j: Record<string, unknown>): LlamaConfig {
  const num = (k: string, dflt?: number): number => {
    const v = j[k] ?? dflt;
    if (typeof v !== 'number')
      throw new ModelFormatError(`config.json: ${k} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  if (j.model_type !== undefined && j.model_type !== 'llama')
    throw new ModelFormatError(
      `config.json: model_type must be "llama", got ${JSON.stringify(j.model_type)}`,
    );
  if (j.rope_scaling) throw new ModelFormatError('config.json: rope_scaling is not supported');
  const dim = num('hidden_size');
  const nHeads = num('num_attention_heads');
  if (j.head_dim !== undefined && j.head_dim !== null && j.head_dim !== dim / nHeads)
    throw new ModelFormatError(
      `config.json: head_dim ${j.head_dim} ≠ hidden_size / num_attention_heads is not supported`,
    );
  try {
    return validateConfig({
      dim,
      nLayers: num('num_hidden_layers'),
      nHeads,
      nKvHeads: num('num_key_value_heads', nHeads),
      ffnDim: num('intermediate_size'),
      vocabSize: num('vocab_size'),
      ropeTheta: num('rope_theta', 10000),
      normEps: num('rms_norm_eps', 1e-6),
      tiedEmbeddings: Boolean(j.tie_word_embeddings ?? false),
      maxSeq: num('max_position_embeddings', 2048),
    });
  } catch (e) {
    if (e instanceof ModelError) throw new ModelFormatError(`config.json: ${e.message}`);
    throw e;
  }
}

/** model.safetensors bytes with HF Llama names. */
export function modelToSafetensors(
  model: LlamaModel,
  dtype: SafetensorsDtype = 'F32',
  metadata: Record<string, string> = {},
): Uint8Array {
  return writeSafetensors(
    namedParams(model).map((p) => ({ name: p.name, shape: p.shape, dtype, data: p.data })),
    { format: 'pt', ...metadata },
  );
}

/** Builds a model from HF-named tensors (shapes checked against the config). */
export function modelFromTensors(
  config: LlamaConfig,
  get: (name: string) => { shape: number[]; data: Float32Array } | undefined,
  what: string,
): LlamaModel {
  const c = validateConfig({ ...config });
  // A checkpoint that says tied but still carries lm_head.weight is loaded untied.
  if (c.tiedEmbeddings && get('lm_head.weight')) c.tiedEmbeddings = false;
  const weights = zeroWeights(c);
  const model: LlamaModel = { config: c, weights };
  for (const p of namedParams(model)) {
    const t = get(p.name);
    if (!t) throw new ModelFormatError(`${what}: missing tensor ${p.name}`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i]))
      throw new ModelFormatError(
        `${what}: tensor ${p.name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(p.shape)}`,
      );
    p.data.set(t.data);
  }
  return model;
}

export function modelFromSafetensors(
  config: LlamaConfig,
  bytes: Uint8Array,
  what = 'model.safetensors',
): LlamaModel {
  const file = readSafetensors(bytes, what);
  return modelFromTensors(config, (n) => file.tensors.get(n), what);
}

/** Writes config.json, model.safetensors and (when given) tokenizer.json into dir. */
export function saveHfModel(
  dir: string,
  model: LlamaModel,
  tokenizer?: BpeTokenizer | null,
  opts: { dtype?: SafetensorsDtype; metadata?: Record<string, string> } = {},
): void {
  mkdirSync(dir, { recursive: true });
  const eos = tokenizer?.specialId('<|endoftext|>');
  const cfg = configToHf(model.config, { bosTokenId: eos, eosTokenId: eos });
  cfg.torch_dtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[opts.dtype ?? 'F32'];
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  writeFileSync(
    join(dir, 'model.safetensors'),
    modelToSafetensors(model, opts.dtype ?? 'F32', opts.metadata),
  );
  if (tokenizer) writeFileSync(join(dir, 'tokenizer.json'), tokenizer.toJSONString());
}

/** Loads a HF Llama checkpoint directory (config.json + model.safetensors [+ tokenizer.json]). */
export function loadHfModel(dir: string): { model: LlamaModel; tokenizer: BpeTokenizer | null } {
  const cfgPath = join(dir, 'config.json');
  const stPath = join(dir, 'model.safetensors');
  if (!existsSync(cfgPath)) throw new ModelFormatError(`${dir}: config.json not found`);
  if (!existsSync(stPath))
    throw new ModelFormatError(`${dir}: model.safetensors not found (sharded checkpoints are not supported)`);
  let cfgJson: Record<string, unknown>;
  try {
    cfgJson = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new ModelFormatError(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  const model = modelFromSafetensors(configFromHf(cfgJson), new Uint8Array(readFileSync(stPath)), stPath);
  const tokPath = join(dir, 'tokenizer.json');
  const tokenizer = existsSync(tokPath) ? BpeTokenizer.fromJSON(readFileSync(tokPath, 'utf8')) : null;
  return { model, tokenizer };
}
