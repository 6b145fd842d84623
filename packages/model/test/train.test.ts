import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLora, loraLayerLayout } from '../src/lora.ts';
import { createModel, evalLoss, forEachParam, lossAndGrads } from '../src/model.ts';
import { AdamW } from '../src/optim.ts';
import { LoraTrainer, makeBatch, perExampleLoraGrads } from '../src/train.ts';
import { randomBatch, tinyConfig } from './helpers.ts';

test('a tiny model overfits one batch to near-zero loss', () => {
  const cfg = tinyConfig({
    dim: 32,
    nHeads: 4,
    nKvHeads: 2,
    ffnDim: 64,
    vocabSize: 29,
    tiedEmbeddings: true,
  });
  const model = createModel(cfg, 3);
  const batch = randomBatch(cfg.vocabSize, 2, 8, 11);
  const params: { p: Float32Array; decay: boolean }[] = [];
  forEachParam(model.weights, model.weights, true, (p) => {
    params.push({ p, decay: false });
  });
  const opt = new AdamW(params, { lr: 1e-2 });
  const first = evalLoss(model, batch);
  let loss = first;
  for (let i = 0; i < 300 && loss > 0.02; i++) {
    const r = lossAndGrads(model, batch, { trainBase: true });
    const grads: Float32Array[] = [];
    forEachParam(model.weights, r.grads!, true, (_p, g) => {
      grads.push(g);
    });
    opt.step(grads);
    loss = r.loss;
  }
  assert.ok(first > 3, `initial loss ${first}`);
  assert.ok(evalLoss(model, batch) < 0.05, `loss after training ${evalLoss(model, batch)}`);
});

test('LoRA-only training lowers the loss and leaves the base weights untouched', () => {
  const cfg = tinyConfig();
  const model = createModel(cfg, 5);
  forEachParam(model.weights, model.weights, false, (p, _g, name) => {
    if (!name.endsWith('Norm')) for (let i = 0; i < p.length; i++) p[i] *= 10;
  });
  const before = model.weights.layers[0].wq.slice();
  const adapter = createLora(cfg, {
    rank: 4,
    alpha: 8,
    targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
    dropout: 0.1,
    seed: 2,
  });
  const trainer = new LoraTrainer(model, adapter, { lr: 2e-2 });
  const examples = [
    { tokens: [1, 2, 3, 4, 5, 6, 7, 8] },
    { tokens: [9, 8, 7, 6, 5, 4], lossMask: [0, 0, 1, 1, 1, 1] },
  ];
  const batch = makeBatch(examples);
  const first = evalLoss(model, batch, adapter);
  for (let i = 0; i < 60; i++) trainer.step(batch);
  const last = evalLoss(model, batch, adapter);
  assert.ok(last < first * 0.5, `loss ${first} → ${last}`);
  assert.deepEqual(model.weights.layers[0].wq, before);
  assert.equal(trainer.steps, 60);
});

test('per-example LoRA gradients add up to the batch gradient (reduction sum) and match single runs', () => {
  const cfg = tinyConfig();
  const model = createModel(cfg, 8);
  const adapter = createLora(cfg, { rank: 2, alpha: 4, targets: ['q', 'v', 'down'], seed: 9 });
  for (const layer of adapter.layers)
    for (const p of Object.values(layer)) for (let i = 0; i < p.b.length; i++) p.b[i] = 0.1 * Math.sin(i + 1);
  const examples = [
    { tokens: [1, 5, 3, 7, 2, 9] },
    { tokens: [4, 4, 8, 1] },
    { tokens: [2, 6, 10, 12, 14, 3, 5], lossMask: [0, 0, 0, 1, 1, 1, 1] },
  ];
  const per = perExampleLoraGrads(model, adapter, examples, { reduction: 'sum', chunk: 2 });
  assert.equal(per.length, 3);
  assert.equal(per[0].length, cfg.nLayers);
  // batch gradient of the summed loss = mean-loss gradient × number of counted targets
  const batch = makeBatch(examples);
  let counted = 0;
  for (const t of batch.targets) if (t >= 0) counted++;
  const { loraGrads } = lossAndGrads(model, batch, { lora: adapter });
  for (let l = 0; l < cfg.nLayers; l++) {
    const layout = loraLayerLayout(loraGrads!.layers[l]);
    for (const e of layout) {
      const g = loraGrads!.layers[l][e.target]![e.which];
      for (let i = 0; i < e.length; i += 3) {
        const sum = per[0][l][e.offset + i] + per[1][l][e.offset + i] + per[2][l][e.offset + i];
        const ref = g[i] * counted;
        assert.ok(
          Math.abs(sum - ref) <= 1e-5 + 1e-4 * Math.abs(ref),
          `layer ${l} ${e.target}.${e.which}[${i}]: ${sum} vs ${ref}`,
        );
      }
    }
  }
  // 'mean' per-example gradient = gradient of that example alone
  const mean = perExampleLoraGrads(model, adapter, examples);
  const alone = lossAndGrads(model, makeBatch([examples[2]]), { lora: adapter }).loraGrads!;
  const layout = loraLayerLayout(alone.layers[1]);
  for (const e of layout) {
    const g = alone.layers[1][e.target]![e.which];
    for (let i = 0; i < e.length; i++)
      assert.ok(Math.abs(mean[2][1][e.offset + i] - g[i]) <= 1e-6 + 1e-4 * Math.abs(g[i]));
  }
});
