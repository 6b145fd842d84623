// LoRA fine-tuning (base frozen, AdamW on A and B) and per-example LoRA gradients for attribution.
import { invalid } from './errors.ts';
import { flattenLoraLayer, LORA_TARGETS, type LoraAdapter, zerosLike } from './lora.ts';
import {
  type Batch,
  backward,
  crossEntropyLoss,
  forward,
  type LlamaModel,
  lossAndGrads,
  Workspace,
} from './model.ts';
import { AdamW, clipGradNorm } from './optim.ts';

/** A training sequence: the model reads tokens[0..n-2] and predicts tokens[1..n-1]. */
export interface Example {
  tokens: ArrayLike<number>;
  /** Optional, same length as tokens: 0 = do not train on predicting tokens[i] (e.g. the prompt). */
  lossMask?: ArrayLike<number>;
}

/** Right-pads examples into one batch (padding and masked positions get target -1). */
export function makeBatch(examples: readonly Example[], padId = 0, T?: number): Batch {
  if (examples.length === 0) throw invalid('examples', 'must not be empty');
  const len = T ?? Math.max(...examples.map((e) => e.tokens.length - 1));
  if (len < 1) throw invalid('examples', 'each example needs at least 2 tokens');
  const B = examples.length;
  const tokens = new Int32Array(B * len).fill(padId);
  const targets = new Int32Array(B * len).fill(-1);
  examples.forEach((e, b) => {
    const n = e.tokens.length;
    if (n < 2) throw invalid(`examples[${b}].tokens`, 'needs at least 2 tokens');
    if (n - 1 > len) throw invalid(`examples[${b}].tokens`, `has ${n} tokens, limit ${len + 1}`);
    if (e.lossMask && e.lossMask.length !== n)
      throw invalid(`examples[${b}].lossMask`, `must have ${n} entries`);
    for (let i = 0; i < n - 1; i++) {
      tokens[b * len + i] = e.tokens[i];
      if (!e.lossMask || e.lossMask[i + 1]) targets[b * len + i] = e.tokens[i + 1];
    }
  });
  return { tokens, targets, B, T: len };
}

/** Every A and B array of an adapter, in layer / target order (optimizer and clipping lists). */
export function loraArrays(ad: LoraAdapter): Float32Array[] {
  const out: Float32Array[] = [];
  for (const layer of ad.layers)
    for (const t of LORA_TARGETS) {
      const p = layer[t];
      if (p) out.push(p.a, p.b);
    }
  return out;
}

export interface LoraTrainOptions {
  lr?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  /** Global gradient-norm clip (0 = off). */
  clip?: number;
  seed?: number;
}

/** Trains a LoRA adapter in place on a frozen base model. */
export class LoraTrainer {
  readonly model: LlamaModel;
  readonly adapter: LoraAdapter;
  private readonly opt: AdamW;
  private readonly clip: number;
  private readonly seed: number;
  /** Activation and gradient buffers reused by every step (steps of one shape allocate nothing). */
  private readonly workspace = new Workspace();
  private readonly grads: LoraAdapter;

  constructor(model: LlamaModel, adapter: LoraAdapter, opts: LoraTrainOptions = {}) {
    if (adapter.layers.length !== model.config.nLayers)
      throw invalid(
        'adapter.layers',
        `has ${adapter.layers.length} layers, model has ${model.config.nLayers}`,
      );
    this.model = model;
    this.adapter = adapter;
    this.opt = new AdamW(
      loraArrays(adapter).map((p) => ({ p, decay: true })),
      {
        lr: opts.lr ?? 1e-3,
        beta1: opts.beta1 ?? 0.9,
        beta2: opts.beta2 ?? 0.999,
        weightDecay: opts.weightDecay ?? 0,
      },
    );
    this.grads = zerosLike(adapter);
    this.clip = opts.clip ?? 1;
    this.seed = opts.seed ?? 0;
  }

  get steps(): number {
    return this.opt.stepCount;
  }

  /** The optimizer, for checkpoints (exportState / importState). */
  get optimizer(): AdamW {
    return this.opt;
  }

  /** One optimizer step on a batch; returns the loss before the update. */
  step(batch: Batch | readonly Example[], lr?: number): number {
    const b = Array.isArray(batch) ? makeBatch(batch as readonly Example[]) : (batch as Batch);
    const { loss, loraGrads } = lossAndGrads(this.model, b, {
      lora: this.adapter,
      training: true,
      seed: this.seed * 1_000_003 + this.opt.stepCount,
      workspace: this.workspace,
      loraGrads: this.grads,
    });
    const grads = loraArrays(loraGrads!);
    if (this.clip > 0) clipGradNorm(grads, this.clip);
    this.opt.step(grads, lr);
    return loss;
  }
}

export interface PerExampleOptions {
  /**
   * 'mean' (default): gradient of each example's mean token loss. 'sum': of its summed token loss,
   * so that the per-example gradients add up to the gradient of the summed batch loss.
   */
  reduction?: 'mean' | 'sum';
  /** Examples per forward/backward (memory vs speed). Default 8. */
  chunk?: number;
}

/**
 * Per-example gradients of the LoRA parameters (dropout off, base frozen). Result[e][l] is example e's
 * gradient for layer l, flattened as `loraLayerLayout` says: for each adapted target in the order
 * q, k, v, o, gate, up, down, first A (rank×in, row-major) then B (out×rank, row-major).
 * An example with no counted target gets zeros.
 */
export function perExampleLoraGrads(
  model: LlamaModel,
  adapter: LoraAdapter,
  examples: readonly Example[],
  opts: PerExampleOptions = {},
): Float32Array[][] {
  const reduction = opts.reduction ?? 'mean';
  const chunk = Math.max(1, opts.chunk ?? 8);
  const V = model.config.vocabSize;
  const out: Float32Array[][] = [];
  const workspace = new Workspace();
  for (let s = 0; s < examples.length; s += chunk) {
    const part = examples.slice(s, s + chunk);
    const batch = makeBatch(part);
    const { B, T } = batch;
    const acts = forward(model, batch.tokens, B, T, { lora: adapter, workspace });
    const { dlogits } = crossEntropyLoss(acts.logits, batch.targets, V, true, true);
    // crossEntropy gives d(mean over all counted rows); rescale each example's rows.
    let total = 0;
    const counts = new Array<number>(B).fill(0);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) if (batch.targets[b * T + t] >= 0) counts[b]++;
    for (const c of counts) total += c;
    for (let b = 0; b < B; b++) {
      const f = counts[b] === 0 ? 0 : reduction === 'mean' ? total / counts[b] : total;
      const rows = dlogits!.subarray(b * T * V, (b + 1) * T * V);
      for (let i = 0; i < rows.length; i++) rows[i] *= f;
    }
    const per = part.map(() => zerosLike(adapter));
    backward(model, acts, dlogits!, { perExampleLoraGrads: per, workspace });
    for (const g of per) out.push(g.layers.map(flattenLoraLayer));
  }
  return out;
}
