import type { LoraMatrix } from '@openledger/tensor';
import { headDim, type LlamaConfig } from './config.ts';
import { invalid } from './errors.ts';
import { Rng } from './rng.ts';

/** Linear layers LoRA can adapt (PEFT names: q_proj … down_proj). */
export const LORA_TARGETS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Dropout on the LoRA branch input during training (0 = off). */
  dropout: number;
  targets: LoraTarget[];
  /** rsLoRA: scale = alpha / sqrt(rank) instead of alpha / rank. */
  rsLora: boolean;
}

/**
 * One adapted linear: W' = W + scale·B·A, A is rank×in, B is out×rank (row-major, as in PEFT). The
 * matrices are float32, except in an adapter held for serving at half width (`halfLora`), whose
 * matrices are Uint16Arrays of IEEE half bits.
 */
export interface LoraPair<M extends LoraMatrix = Float32Array> {
  a: M;
  b: M;
}

export type LoraLayer<M extends LoraMatrix = Float32Array> = Partial<Record<LoraTarget, LoraPair<M>>>;

export interface LoraAdapter<M extends LoraMatrix = Float32Array> {
  config: LoraConfig;
  layers: LoraLayer<M>[];
}

/** An adapter as the forward pass reads it: float32 or half-width matrices. */
export type AnyLoraAdapter = LoraAdapter<LoraMatrix>;

export function loraScale(c: LoraConfig): number {
  return c.rsLora ? c.alpha / Math.sqrt(c.rank) : c.alpha / c.rank;
}

/** [inDim, outDim] of a target linear. */
export function targetShape(model: LlamaConfig, t: LoraTarget): [number, number] {
  const kvDim = model.nKvHeads * headDim(model);
  switch (t) {
    case 'q':
      return [model.dim, model.dim];
    case 'k':
    case 'v':
      return [model.dim, kvDim];
    case 'o':
      return [model.dim, model.dim];
    case 'gate':
    case 'up':
      return [model.dim, model.ffnDim];
    case 'down':
      return [model.ffnDim, model.dim];
  }
}

export function validateLoraConfig(c: LoraConfig): LoraConfig {
  if (!Number.isInteger(c.rank) || c.rank < 1 || c.rank > 4096)
    throw invalid('lora.rank', `must be an integer in 1..4096, got ${c.rank}`);
  if (!Number.isFinite(c.alpha) || c.alpha <= 0) throw invalid('lora.alpha', `must be > 0, got ${c.alpha}`);
  if (!(c.dropout >= 0 && c.dropout < 1))
    throw invalid('lora.dropout', `must be in [0, 1), got ${c.dropout}`);
  if (!Array.isArray(c.targets) || c.targets.length === 0)
    throw invalid('lora.targets', 'must name at least one target');
  for (const t of c.targets)
    if (!LORA_TARGETS.includes(t))
      throw invalid('lora.targets', `unknown target ${t}; use ${LORA_TARGETS.join(', ')}`);
  return c;
}

/**
 * A fresh adapter: A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's kaiming-uniform with a = sqrt(5)), B = 0,
 * so the adapted model starts equal to the base.
 */
export function createLora(
  model: LlamaConfig,
  config: Partial<LoraConfig> & { seed?: number } = {},
): LoraAdapter {
  const c = validateLoraConfig({
    rank: config.rank ?? 8,
    alpha: config.alpha ?? 16,
    dropout: config.dropout ?? 0,
    targets: config.targets ?? ['q', 'v'],
    rsLora: config.rsLora ?? false,
  });
  const rng = new Rng(config.seed ?? 1);
  const layers: LoraLayer[] = [];
  for (let l = 0; l < model.nLayers; l++) {
    const layer: LoraLayer = {};
    for (const t of LORA_TARGETS) {
      if (!c.targets.includes(t)) continue;
      const [inDim, outDim] = targetShape(model, t);
      const a = new Float32Array(c.rank * inDim);
      const bound = 1 / Math.sqrt(inDim);
      for (let i = 0; i < a.length; i++) a[i] = (rng.next() * 2 - 1) * bound;
      layer[t] = { a, b: new Float32Array(outDim * c.rank) };
    }
    layers.push(layer);
  }
  return { config: c, layers };
}

/** An adapter of zeros with the same shapes (gradient / optimizer-moment buffers). */
export function zerosLike(ad: LoraAdapter): LoraAdapter {
  return {
    config: { ...ad.config },
    layers: ad.layers.map((layer) => {
      const out: LoraLayer = {};
      for (const t of LORA_TARGETS) {
        const p = layer[t];
        if (p) out[t] = { a: new Float32Array(p.a.length), b: new Float32Array(p.b.length) };
      }
      return out;
    }),
  };
}

export function cloneLora(ad: LoraAdapter): LoraAdapter {
  return {
    config: { ...ad.config, targets: [...ad.config.targets] },
    layers: ad.layers.map((layer) => {
      const out: LoraLayer = {};
      for (const t of LORA_TARGETS) {
        const p = layer[t];
        if (p) out[t] = { a: p.a.slice(), b: p.b.slice() };
      }
      return out;
    }),
  };
}

/**
 * Flat layout of one layer's LoRA parameters, used by `perExampleLoraGrads` and flattenLoraLayer:
 * for each target present, in the order q, k, v, o, gate, up, down: A (rank×in, row-major), then
 * B (out×rank, row-major).
 */
export function loraLayerLayout(
  layer: LoraLayer,
): { target: LoraTarget; which: 'a' | 'b'; offset: number; length: number }[] {
  const out: { target: LoraTarget; which: 'a' | 'b'; offset: number; length: number }[] = [];
  let off = 0;
  for (const t of LORA_TARGETS) {
    const p = layer[t];
    if (!p) continue;
    out.push({ target: t, which: 'a', offset: off, length: p.a.length });
    off += p.a.length;
    out.push({ target: t, which: 'b', offset: off, length: p.b.length });
    off += p.b.length;
  }
  return out;
}

export function flattenLoraLayer(layer: LoraLayer): Float32Array {
  const layout = loraLayerLayout(layer);
  const last = layout[layout.length - 1];
  const out = new Float32Array(last ? last.offset + last.length : 0);
  for (const e of layout) out.set(layer[e.target]![e.which], e.offset);
  return out;
}

/** Number of trainable LoRA parameters. */
export function loraParamCount(ad: LoraAdapter): number {
  let n = 0;
  for (const layer of ad.layers)
    for (const t of LORA_TARGETS) if (layer[t]) n += layer[t]!.a.length + layer[t]!.b.length;
  return n;
}
