import { fileURLToPath } from 'node:url';
import { loadHfModel } from './io/hf.ts';
import type { LlamaModel } from './model.ts';
import type { BpeTokenizer } from './tokenizer.ts';

/** Directory of the shipped base model (config.json, model.safetensors, tokenizer.json, MODEL_CARD.md). */
export const BASE_MODEL_DIR = fileURLToPath(new URL('../assets/base/', import.meta.url));

let cached: { model: LlamaModel; tokenizer: BpeTokenizer } | null = null;

/**
 * The shipped base model (see assets/base/MODEL_CARD.md), loaded once and shared. Callers must not
 * modify its weights: use cloneModel / mergeLora for a private copy.
 */
export function loadBaseModel(dir = BASE_MODEL_DIR): { model: LlamaModel; tokenizer: BpeTokenizer } {
  if (dir === BASE_MODEL_DIR && cached) return cached;
  const { model, tokenizer } = loadHfModel(dir);
  if (!tokenizer) throw new Error(`${dir}: tokenizer.json missing`);
  const out = { model, tokenizer };
  if (dir === BASE_MODEL_DIR) cached = out;
  return out;
}
