import { LORA_TARGETS, type LoraAdapter, type LoraLayer, loraScale } from '@openledger/model';
import { ServeError } from './errors.ts';

/**
 * A weighted mixture of LoRA adapters as ONE adapter, exactly: ΔW = Σᵢ wᵢ·sᵢ·Bᵢ·Aᵢ equals B·A with
 * A the row-stack of the Aᵢ and B the column-stack of the wᵢ·sᵢ·Bᵢ, at scale 1 (alpha = rank).
 * The result batches like any adapter, so mixtures cost one segmented LoRA pass, not one per part.
 */
export function mixAdapters(parts: { adapter: LoraAdapter; weight: number }[]): LoraAdapter {
  if (parts.length === 0)
    throw new ServeError('invalid_mixture', 'a mixture needs at least one adapter', { field: 'model' });
  const nLayers = parts[0].adapter.layers.length;
  for (const p of parts) {
    if (p.adapter.layers.length !== nLayers) {
      throw new ServeError('invalid_mixture', 'adapters of a mixture must share their base model', {
        field: 'model',
      });
    }
    if (!Number.isFinite(p.weight))
      throw new ServeError('invalid_mixture', 'mixture weights must be finite', { field: 'model' });
  }
  const rank = parts.reduce((s, p) => s + p.adapter.config.rank, 0);
  const targets = LORA_TARGETS.filter((t) => parts.some((p) => p.adapter.config.targets.includes(t)));
  const layers: LoraLayer[] = [];
  for (let l = 0; l < nLayers; l++) {
    const layer: LoraLayer = {};
    for (const t of targets) {
      const present = parts.filter((p) => p.adapter.layers[l][t]);
      if (present.length === 0) continue;
      const first = present[0].adapter.layers[l][t]!;
      const inDim = first.a.length / present[0].adapter.config.rank;
      const outDim = first.b.length / present[0].adapter.config.rank;
      const a = new Float32Array(rank * inDim);
      const b = new Float32Array(outDim * rank);
      let offset = 0;
      for (const p of parts) {
        const r = p.adapter.config.rank;
        const pair = p.adapter.layers[l][t];
        if (pair) {
          a.set(pair.a, offset * inDim);
          const s = p.weight * loraScale(p.adapter.config);
          for (let o = 0; o < outDim; o++)
            for (let k = 0; k < r; k++) b[o * rank + offset + k] = s * pair.b[o * r + k];
        }
        offset += r;
      }
      layer[t] = { a, b };
    }
    layers.push(layer);
  }
  return { config: { rank, alpha: rank, dropout: 0, targets, rsLora: false }, layers };
}
