import { createModel, type LlamaModel } from '@openledger/model';

/**
 * The tests' base model: 2 layers, dim 32, GQA (4 heads, 2 KV heads), random weights from `seed`.
 * The final norm is scaled up so the logits are confident and sampling is not a coin toss.
 */
export function tinyModel(opts: { vocabSize: number; maxSeq: number; seed: number }): LlamaModel {
  const model = createModel(
    {
      dim: 32,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      ffnDim: 64,
      vocabSize: opts.vocabSize,
      ropeTheta: 10000,
      normEps: 1e-5,
      tiedEmbeddings: true,
      maxSeq: opts.maxSeq,
    },
    opts.seed,
  );
  model.weights.finalNorm.fill(20);
  return model;
}
