import { invalid } from './errors.ts';

/** Llama-architecture hyper-parameters (names follow llama.cpp / nanoGPT; HF names in io/hf.ts). */
export interface LlamaConfig {
  /** Model (residual stream) width. */
  dim: number;
  nLayers: number;
  /** Query heads; headDim = dim / nHeads. */
  nHeads: number;
  /** Key/value heads (grouped-query attention); divides nHeads. */
  nKvHeads: number;
  /** SwiGLU hidden width. */
  ffnDim: number;
  vocabSize: number;
  ropeTheta: number;
  normEps: number;
  /** Output projection shares the token embedding matrix. */
  tiedEmbeddings: boolean;
  /** Longest sequence (context length). */
  maxSeq: number;
}

export function headDim(c: LlamaConfig): number {
  return c.dim / c.nHeads;
}

/** Throws a ModelError naming the field when a config is not usable. */
export function validateConfig(c: LlamaConfig): LlamaConfig {
  const ints: (keyof LlamaConfig)[] = [
    'dim',
    'nLayers',
    'nHeads',
    'nKvHeads',
    'ffnDim',
    'vocabSize',
    'maxSeq',
  ];
  for (const f of ints) {
    const v = c[f] as number;
    if (!Number.isInteger(v) || v < 1 || v > 1 << 24)
      throw invalid(`config.${f}`, `must be an integer in 1..2^24, got ${v}`);
  }
  if (c.dim % c.nHeads !== 0) throw invalid('config.nHeads', `must divide dim ${c.dim}, got ${c.nHeads}`);
  if ((c.dim / c.nHeads) % 2 !== 0) throw invalid('config.nHeads', 'head dimension must be even for RoPE');
  if (c.nHeads % c.nKvHeads !== 0)
    throw invalid('config.nKvHeads', `must divide nHeads ${c.nHeads}, got ${c.nKvHeads}`);
  if (!(c.ropeTheta > 0)) throw invalid('config.ropeTheta', `must be > 0, got ${c.ropeTheta}`);
  if (!(c.normEps > 0 && c.normEps < 1))
    throw invalid('config.normEps', `must be in (0, 1), got ${c.normEps}`);
  if (typeof c.tiedEmbeddings !== 'boolean') throw invalid('config.tiedEmbeddings', 'must be a boolean');
  return c;
}

/** Parameter count (tied embeddings counted once). */
export function paramCount(c: LlamaConfig): number {
  const hd = headDim(c);
  const perLayer = 2 * c.dim + c.dim * c.dim * 2 + 2 * c.dim * c.nKvHeads * hd + 3 * c.dim * c.ffnDim;
  return c.vocabSize * c.dim * (c.tiedEmbeddings ? 1 : 2) + c.nLayers * perLayer + c.dim;
}
