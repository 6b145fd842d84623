import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLora } from '../src/lora.ts';
import { createModel, evalLoss, forEachParam, lossAndGrads } from '../src/model.ts';
import { directional, randomBatch, scaleArray, tinyConfig } from './helpers.ts';

function close(name: string, analytic: number, numeric: number) {
  const tol = 3e-4 + 2e-2 * Math.max(Math.abs(analytic), Math.abs(numeric));
  assert.ok(
    Math.abs(analytic - numeric) <= tol,
    `${name}: analytic ${analytic} vs finite difference ${numeric}`,
  );
}

for (const tied of [false, true]) {
  test(`finite-difference gradients of every base weight (tied=${tied}, GQA, RoPE)`, () => {
    const cfg = tinyConfig({ tiedEmbeddings: tied });
    const model = createModel(cfg, 7);
    forEachParam(model.weights, model.weights, tied, (p, _g, name) => {
      if (!name.endsWith('Norm')) scaleArray(p, 8);
      else for (let i = 0; i < p.length; i++) p[i] = 1 + 0.3 * Math.sin(i);
    });
    const batch = randomBatch(cfg.vocabSize, 2, 6);
    const { grads, loss } = lossAndGrads(model, batch, { trainBase: true });
    assert.ok(Number.isFinite(loss));
    let i = 0;
    forEachParam(model.weights, grads!, tied, (p, g, name) => {
      const { analytic, numeric } = directional(p, g, () => evalLoss(model, batch), 1e-2, 100 + i++);
      close(name, analytic, numeric);
    });
  });
}

test('finite-difference gradients of LoRA A and B on every target (rsLoRA)', () => {
  const cfg = tinyConfig();
  const model = createModel(cfg, 9);
  forEachParam(model.weights, model.weights, false, (p, _g, name) => {
    if (!name.endsWith('Norm')) scaleArray(p, 8);
  });
  const lora = createLora(cfg, {
    rank: 3,
    alpha: 5,
    targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
    rsLora: true,
    seed: 4,
  });
  for (const layer of lora.layers)
    for (const p of Object.values(layer)) for (let i = 0; i < p.b.length; i++) p.b[i] = 0.3 * Math.cos(i);
  const batch = randomBatch(cfg.vocabSize, 2, 5, 8);
  const { loraGrads } = lossAndGrads(model, batch, { lora });
  let i = 0;
  lora.layers.forEach((layer, l) => {
    for (const [t, p] of Object.entries(layer)) {
      const g = loraGrads!.layers[l][t as 'q']!;
      for (const which of ['a', 'b'] as const) {
        const { analytic, numeric } = directional(
          p[which],
          g[which],
          () => evalLoss(model, batch, lora),
          1e-2,
          300 + i++,
        );
        close(`layer ${l} ${t}.${which}`, analytic, numeric);
      }
    }
  });
});
