import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_MODEL_DIR, type BpeTokenizer, type LlamaModel, loadHfModel } from '@openledger/model';
import { FactoryError } from './errors.ts';

/** A base model the factory can fine-tune: a Hugging Face-style folder (config, safetensors, tokenizer). */
export interface BaseModelInfo {
  id: string;
  dir: string;
  source: 'shipped' | 'local';
  /** sha256 of model.safetensors, 0x-prefixed: the base model hash recorded on-chain */
  hash: `0x${string}`;
  bytes: number;
  config: Record<string, unknown>;
}

export const SHIPPED_BASE_MODEL_ID = 'openledger-base';
export const shippedBaseModelDir = BASE_MODEL_DIR;

/**
 * The base models on this node: the one shipped in the repository and any folder under
 * `<home>/models/base/<id>/`. Loading is cached: one copy of each base in memory.
 */
export class BaseModelCatalog {
  readonly #home: string;
  readonly #hashes = new Map<string, `0x${string}`>();
  readonly #loaded = new Map<string, { model: LlamaModel; tokenizer: BpeTokenizer }>();

  constructor(home: string) {
    this.#home = home;
  }

  list(): BaseModelInfo[] {
    const out: BaseModelInfo[] = [];
    if (isModelDir(shippedBaseModelDir))
      out.push(this.#info(SHIPPED_BASE_MODEL_ID, shippedBaseModelDir, 'shipped'));
    const localRoot = join(this.#home, 'models', 'base');
    if (existsSync(localRoot)) {
      for (const name of readdirSync(localRoot).sort()) {
        const dir = join(localRoot, name);
        if (name !== SHIPPED_BASE_MODEL_ID && isModelDir(dir)) out.push(this.#info(name, dir, 'local'));
      }
    }
    return out;
  }

  get(id: string): BaseModelInfo {
    const found = this.list().find((m) => m.id === id);
    if (!found) {
      const known = this.list().map((m) => m.id);
      throw new FactoryError(
        'unknown_base_model',
        `baseModel "${id}" is not on this node (known: ${known.length ? known.join(', ') : 'none'})`,
        { field: 'baseModel', status: 400 },
      );
    }
    return found;
  }

  load(id: string): { model: LlamaModel; tokenizer: BpeTokenizer; info: BaseModelInfo } {
    const info = this.get(id);
    let loaded = this.#loaded.get(id);
    if (!loaded) {
      const { model, tokenizer } = loadHfModel(info.dir);
      if (!tokenizer)
        throw new FactoryError('base_model_no_tokenizer', `base model ${id} has no tokenizer.json`, {
          status: 500,
        });
      loaded = { model, tokenizer };
      this.#loaded.set(id, loaded);
    }
    return { ...loaded, info };
  }

  #info(id: string, dir: string, source: 'shipped' | 'local'): BaseModelInfo {
    const weights = join(dir, 'model.safetensors');
    let hash = this.#hashes.get(dir);
    if (!hash) {
      hash = `0x${createHash('sha256').update(readFileSync(weights)).digest('hex')}`;
      this.#hashes.set(dir, hash);
    }
    return {
      id,
      dir,
      source,
      hash,
      bytes: statSync(weights).size,
      config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')),
    };
  }
}

function isModelDir(dir: string): boolean {
  return ['config.json', 'model.safetensors', 'tokenizer.json'].every((f) => existsSync(join(dir, f)));
}
