import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  forwardCached,
  forwardMixed,
  forwardRagged,
  generate,
  generateBatch,
  generateTokens,
  KVCache,
  sampleToken,
} from '../src/generate.ts';
import { cloneLora, createLora, type LoraAdapter, type LoraTarget } from '../src/lora.ts';
import { floatLora, halfLora } from '../src/lora-half.ts';
import { createModel, forEachParam, forward, type LlamaModel, mergeLora } from '../src/model.ts';
import { Rng } from '../src/rng.ts';
import { trainBpe } from '../src/tokenizer.ts';
import { tinyConfig } from './helpers.ts';

function sharpModel(seed = 4): LlamaModel {
  const model = createModel(tinyConfig({ vocabSize: 31, maxSeq: 40 }), seed);
  forEachParam(model.weights, model.weights, false, (p, _g, name) => {
    if (!name.endsWith('Norm')) for (let i = 0; i < p.length; i++) p[i] *= 12;
  });
  return model;
}

function adapterWithB(
  model: LlamaModel,
  seed: number,
  targets: LoraTarget[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
): LoraAdapter {
  const ad = createLora(model.config, { rank: 3, alpha: 6, targets, seed });
  const rng = new Rng(seed);
  for (const layer of ad.layers)
    for (const p of Object.values(layer)) for (let i = 0; i < p.b.length; i++) p.b[i] = rng.normal() * 0.5;
  return ad;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('KV-cache decoding equals full recompute, token by token', () => {
  const model = sharpModel();
  const V = model.config.vocabSize;
  const prompt = [3, 1, 4, 1, 5];
  const adapter = adapterWithB(model, 2);
  for (const lora of [null, adapter]) {
    const generated = [...generateTokens(model, prompt, { maxTokens: 12, temperature: 0, adapter: lora })];
    assert.equal(generated.length, 12);
    // Greedy by full recompute: argmax of the last row of the full forward each step.
    const seq = [...prompt];
    for (let i = 0; i < 12; i++) {
      const acts = forward(model, Int32Array.from(seq), 1, seq.length, { lora });
      const last = acts.logits.subarray((seq.length - 1) * V, seq.length * V);
      let best = 0;
      for (let j = 1; j < V; j++) if (last[j] > last[best]) best = j;
      assert.equal(generated[i], best, `step ${i}`);
      // and the cached logits themselves match
      seq.push(best);
    }
    const cache = new KVCache(model, 1);
    forwardCached(model, cache, [0], Int32Array.from(seq.slice(0, 9)), 9, { adapters: lora });
    const step = forwardCached(model, cache, [0], Int32Array.of(seq[9]), 1, { adapters: lora });
    const full = forward(model, Int32Array.from(seq.slice(0, 10)), 1, 10, { lora }).logits.subarray(
      9 * V,
      10 * V,
    );
    assert.ok(maxDiff(step, full) < 1e-4, `cached vs full logits differ by ${maxDiff(step, full)}`);
  }
});

test('a mixed-adapter batch gives each row the logits of its own adapter', () => {
  const model = sharpModel(6);
  const V = model.config.vocabSize;
  const a1 = adapterWithB(model, 11);
  const a2 = adapterWithB(model, 12, ['q', 'v']);
  const T = 6;
  const rows = [
    [1, 2, 3, 4, 5, 6],
    [7, 8, 9, 10, 11, 12],
    [2, 4, 6, 8, 10, 12],
    [13, 3, 13, 3, 13, 3],
  ];
  const adapters = [a1, null, a2, a1];
  const mixed = forwardMixed(model, Int32Array.from(rows.flat()), rows.length, T, adapters);
  rows.forEach((row, b) => {
    const single = forward(model, Int32Array.from(row), 1, T, { lora: adapters[b] }).logits;
    const got = mixed.subarray(b * T * V, (b + 1) * T * V);
    assert.ok(maxDiff(got, single) < 1e-4, `row ${b}: ${maxDiff(got, single)}`);
  });
  // rows at different positions in one decode step (continuous batching)
  const cache = new KVCache(model, 2);
  forwardCached(model, cache, [0], Int32Array.from(rows[0]), T, { adapters: [a1] });
  forwardCached(model, cache, [1], Int32Array.from(rows[1].slice(0, 3)), 3, { adapters: [a2] });
  const step = forwardCached(model, cache, [0, 1], Int32Array.of(9, 9), 1, { adapters: [a1, a2] });
  const ref0 = forward(model, Int32Array.from([...rows[0], 9]), 1, T + 1, { lora: a1 }).logits.subarray(
    T * V,
  );
  const ref1 = forward(model, Int32Array.from([...rows[1].slice(0, 3), 9]), 1, 4, {
    lora: a2,
  }).logits.subarray(3 * V);
  assert.ok(maxDiff(step.subarray(0, V), ref0) < 1e-4);
  assert.ok(maxDiff(step.subarray(V), ref1) < 1e-4);
});

test('a half-width adapter: forward reads it as the float32 adapter it rounds to; out-of-range stays float32', () => {
  const model = sharpModel(6);
  const V = model.config.vocabSize;
  const a1 = adapterWithB(model, 13);
  const half = halfLora(a1);
  for (const layer of half.layers)
    for (const pair of Object.values(layer)) assert.ok(pair!.a instanceof Uint16Array);
  const widened = floatLora(half);
  // each weight within half's rounding (2⁻¹¹ relative; subnormal halves step by 2⁻²⁴)
  a1.layers.forEach((layer, l) => {
    for (const [t, pair] of Object.entries(layer)) {
      const w = widened.layers[l][t as LoraTarget]!;
      for (const [x, y] of [
        [pair!.a, w.a],
        [pair!.b, w.b],
      ])
        for (let i = 0; i < x.length; i++)
          assert.ok(Math.abs(x[i] - y[i]) <= Math.abs(x[i]) * 2 ** -11 + 2 ** -25);
    }
  });
  const rows = [
    [1, 2, 3, 4, 5, 6],
    [7, 8, 9, 10, 11, 12],
  ];
  const T = 6;
  const got = forwardMixed(model, Int32Array.from(rows.flat()), 2, T, [half, null]);
  const want = forward(model, Int32Array.from(rows[0]), 1, T, { lora: widened }).logits;
  assert.ok(maxDiff(got.subarray(0, T * V), want) < 1e-4, `${maxDiff(got.subarray(0, T * V), want)}`);
  // a value beyond ±65504 would become infinite at half width: that matrix is kept float32
  const big = cloneLora(a1);
  big.layers[0].q!.b[0] = 1e6;
  const kept = halfLora(big);
  assert.ok(kept.layers[0].q!.b instanceof Float32Array);
  assert.ok(kept.layers[0].q!.a instanceof Uint16Array);
});

test('a merged adapter (and a weighted mix) equals the unmerged forward', () => {
  const model = sharpModel(7);
  const a1 = adapterWithB(model, 21);
  const a2 = adapterWithB(model, 22, ['k', 'up']);
  const tokens = Int32Array.from([5, 6, 7, 8, 9, 10, 11]);
  const merged = mergeLora(model, a1);
  const ref = forward(model, tokens, 1, 7, { lora: a1 }).logits;
  const got = forward(merged, tokens, 1, 7).logits;
  assert.ok(
    maxDiff(ref, got) < 1e-3 * (1 + Math.max(...ref.map(Math.abs))) * 0.1,
    `merged differs by ${maxDiff(ref, got)}`,
  );
  assert.notDeepEqual(merged.weights.layers[0].wq, model.weights.layers[0].wq);
  // 0.5·a1 + 0.5·a2 applied to a1-merged model equals merge of both at once
  const both = mergeLora(model, [
    { adapter: a1, weight: 0.5 },
    { adapter: a2, weight: 0.5 },
  ]);
  const step = mergeLora(mergeLora(model, [{ adapter: a1, weight: 0.5 }]), [{ adapter: a2, weight: 0.5 }]);
  assert.ok(maxDiff(forward(both, tokens, 1, 7).logits, forward(step, tokens, 1, 7).logits) < 1e-3);
});

test('sampling: greedy, top-k, top-p and seeds', () => {
  const logits = Float32Array.from([0, 3, 1, 2.9, -5]);
  const rng = new Rng(1);
  assert.equal(sampleToken(logits, { temperature: 0 }, rng), 1);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 2 }, rng));
  assert.deepEqual([...seen].sort(), [1, 3]);
  const seenP = new Set<number>();
  for (let i = 0; i < 200; i++) seenP.add(sampleToken(logits, { temperature: 1, topP: 0.4 }, rng));
  assert.deepEqual([...seenP], [1]);
  const model = sharpModel();
  const a = [...generateTokens(model, [1, 2], { maxTokens: 10, temperature: 1, seed: 5 })];
  const b = [...generateTokens(model, [1, 2], { maxTokens: 10, temperature: 1, seed: 5 })];
  assert.deepEqual(a, b);
  const batch = generateBatch(
    model,
    [
      [1, 2],
      [3, 4],
    ],
    { maxTokens: 6, temperature: 0 },
  );
  assert.deepEqual(batch[0], [...generateTokens(model, [1, 2], { maxTokens: 6, temperature: 0 })]);
  assert.deepEqual(batch[1], [...generateTokens(model, [3, 4], { maxTokens: 6, temperature: 0 })]);
  assert.throws(() => sampleToken(logits, { topP: 0 }, rng), /topP/);
});

test('generate() streams UTF-8-safe text pieces equal to decoding the generated ids', async () => {
  const tok = trainBpe(['héllo wörld 東京 🎉 the cat sat'], {
    vocabSize: 270,
    specialTokens: ['<|endoftext|>'],
    minFrequency: 1,
  });
  const model = createModel(tinyConfig({ vocabSize: tok.vocabSize, maxSeq: 64 }), 12);
  const ids: number[] = [];
  let text = '';
  for await (const piece of generate(model, tok, 'héllo', {
    maxTokens: 20,
    temperature: 1,
    seed: 3,
    stopTokens: [],
  })) {
    if (piece.token >= 0) ids.push(piece.token);
    text += piece.text;
  }
  assert.equal(ids.length, 20);
  assert.equal(text, tok.decode(ids));
});

test('a ragged forward (prompts of different lengths, each its own adapter) equals each row alone', () => {
  const model = sharpModel(8);
  const V = model.config.vocabSize;
  const a1 = adapterWithB(model, 31);
  const a2 = adapterWithB(model, 32, ['q', 'v', 'o', 'up', 'down']);
  const prompts = [[1, 2, 3, 4, 5, 6, 7], [8], [9, 10, 11], [12, 13, 14, 15]];
  const adapters = [a1, a2, null, a1];
  const cache = new KVCache(model, 6, 20);
  // slot 5 already holds a sequence: a decode row rides along with the prompts
  forwardCached(model, cache, [5], Int32Array.of(3, 4, 5), 3, { adapters: [a2] });
  const slots = [2, 0, 4, 1, 5];
  const counts = [...prompts.map((p) => p.length), 1];
  const tokens = Int32Array.from([...prompts.flat(), 6]);
  for (const reuseBuffers of [false, true]) {
    const c = new KVCache(model, 6, 20);
    for (let l = 0; l < model.config.nLayers; l++) {
      c.k[l].set(cache.k[l]);
      c.v[l].set(cache.v[l]);
    }
    c.lengths.set(cache.lengths);
    // a bigger call first, so that reused buffers are longer than this call needs
    if (reuseBuffers)
      forwardRagged(
        model,
        new KVCache(model, 1),
        [0],
        Int32Array.from({ length: 30 }, (_, i) => i % V),
        [30],
        {
          reuseBuffers,
        },
      );
    const got = forwardRagged(model, c, slots, tokens, counts, { adapters: [...adapters, a2], reuseBuffers });
    assert.equal(got.length, 5 * V);
    prompts.forEach((p, b) => {
      const single = forward(model, Int32Array.from(p), 1, p.length, { lora: adapters[b] }).logits;
      const want = single.subarray((p.length - 1) * V, p.length * V);
      assert.ok(maxDiff(got.subarray(b * V, (b + 1) * V), want) < 1e-4, `row ${b}`);
    });
    const ref = forward(model, Int32Array.of(3, 4, 5, 6), 1, 4, { lora: a2 }).logits.subarray(3 * V);
    assert.ok(maxDiff(got.subarray(4 * V), ref) < 1e-4, 'decode row');
    assert.deepEqual([...c.lengths], [1, 4, 7, 0, 3, 4]);
  }
  assert.throws(() => forwardRagged(model, cache, [0], Int32Array.of(1, 2), [1]), /tokens/);
  assert.throws(() => forwardRagged(model, cache, [0, 1], Int32Array.of(1), [1, 0]), /counts/);
});

test('reused decode buffers give the same tokens as fresh ones', () => {
  const model = sharpModel(9);
  const a1 = adapterWithB(model, 41);
  const prompts = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const fresh: number[][] = [];
  for (const p of prompts) {
    // generateTokens reuses its cache's buffers; stepping forwardCached without them is the reference
    const cache = new KVCache(model, 1);
    const rng = new Rng(3);
    let logits = forwardCached(model, cache, [0], Int32Array.from(p), p.length, { adapters: a1 });
    const out: number[] = [];
    for (let i = 0; i < 8; i++) {
      const id = sampleToken(logits, { temperature: 0.7 }, rng);
      out.push(id);
      logits = forwardCached(model, cache, [0], Int32Array.of(id), 1, { adapters: a1 });
    }
    fresh.push(out);
  }
  prompts.forEach((p, b) =>
    assert.deepEqual(
      [...generateTokens(model, p, { maxTokens: 8, temperature: 0.7, seed: 3, adapter: a1 })],
      fresh[b],
    ),
  );
});
