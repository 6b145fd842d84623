import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createLora,
  floatLora,
  forward,
  generateTokens,
  halfLora,
  type LlamaModel,
  type LoraAdapter,
  mergeLora,
  Rng,
} from '@openledger/model';
import { BatchEngine, type EngineRequest, mixAdapters } from '../src/index.ts';
import { tinyModel } from './helpers.ts';

const newModel = () => tinyModel({ vocabSize: 97, maxSeq: 64, seed: 11 });

function randomAdapter(model: LlamaModel, seed: number): LoraAdapter {
  const adapter = createLora(model.config, { rank: 4, alpha: 8, targets: ['q', 'v', 'up', 'down'], seed });
  const rng = new Rng(seed);
  for (const layer of adapter.layers)
    for (const pair of Object.values(layer))
      for (let i = 0; i < pair!.b.length; i++) pair!.b[i] = rng.normal() * 0.5;
  return adapter;
}

function runAll(engine: BatchEngine): Map<string, number[]> {
  const out = new Map<string, number[]>();
  while (!engine.idle) {
    for (const e of engine.step()) {
      if (e.type === 'token') out.set(e.id, [...(out.get(e.id) ?? []), e.token]);
      if (e.type === 'error') throw new Error(e.message);
    }
  }
  return out;
}

const request = (
  id: string,
  adapter: EngineRequest['adapter'],
  seed: number,
  temperature: number,
): EngineRequest => ({
  id,
  adapter,
  prompt: [1 + seed, 5, 9, 2 + (seed % 7)],
  maxTokens: 12,
  temperature,
  topP: 1,
  topK: 0,
  seed,
  stopTokens: [],
});

test('a mixed-adapter batch gives the same tokens as each request served alone (same seed)', () => {
  const model = newModel();
  const adapters = [randomAdapter(model, 1), randomAdapter(model, 2), randomAdapter(model, 3)];
  const requests = [
    request('a', 'A', 1, 0),
    request('b', 'B', 2, 0.8),
    request('c', null, 3, 0.8),
    request('d', 'C', 4, 0),
    request('e', 'A', 5, 1),
    request(
      'f',
      [
        { key: 'A', weight: 0.5 },
        { key: 'B', weight: 0.5 },
      ],
      6,
      0,
    ),
  ];
  const batched = new BatchEngine(model, { maxBatch: 8 });
  ['A', 'B', 'C'].forEach((k, i) => batched.loadAdapter(k, adapters[i]));
  for (const r of requests) batched.submit(r);
  const together = runAll(batched);
  for (const r of requests) {
    const alone = new BatchEngine(model, { maxBatch: 1 });
    ['A', 'B', 'C'].forEach((k, i) => alone.loadAdapter(k, adapters[i]));
    alone.submit(r);
    assert.deepEqual(together.get(r.id), runAll(alone).get(r.id), `request ${r.id}`);
  }
  // and the engine agrees with the model's own single-sequence generator, given the adapter the
  // engine serves: the float32 one rounded to half width
  const reference = [
    ...generateTokens(model, requests[0].prompt, {
      maxTokens: 12,
      temperature: 0,
      adapter: floatLora(halfLora(adapters[0])),
    }),
  ];
  assert.deepEqual(together.get('a'), reference);
});

test('prompts of different lengths admitted together (one prefill forward) match each request alone', () => {
  const model = newModel();
  const adapters = [randomAdapter(model, 4), randomAdapter(model, 5)];
  const lengths = [1, 9, 3, 17, 6, 2, 11];
  const requests = lengths.map((n, i) => ({
    ...request(`p${i}`, i % 3 === 2 ? null : i % 3 === 0 ? 'A' : 'B', 40 + i, i % 2 ? 0.9 : 0),
    prompt: Array.from({ length: n }, (_, j) => 1 + ((i * 7 + j * 5) % 90)),
    maxTokens: 9,
  }));
  const batched = new BatchEngine(model, { maxBatch: 4 }); // 7 requests: a second admission wave
  batched.loadAdapter('A', adapters[0]);
  batched.loadAdapter('B', adapters[1]);
  for (const r of requests) batched.submit(r);
  const together = runAll(batched);
  for (const r of requests) {
    const alone = new BatchEngine(model, { maxBatch: 1 });
    alone.loadAdapter('A', adapters[0]);
    alone.loadAdapter('B', adapters[1]);
    alone.submit(r);
    const single = runAll(alone).get(r.id);
    assert.equal(single?.length, 9);
    assert.deepEqual(together.get(r.id), single, `request ${r.id}`);
  }
});

test('more requests than slots queue and all complete', () => {
  const model = newModel();
  const engine = new BatchEngine(model, { maxBatch: 3 });
  engine.loadAdapter('A', randomAdapter(model, 9));
  for (let i = 0; i < 10; i++) engine.submit(request(`r${i}`, i % 2 ? 'A' : null, i, 0.5));
  const out = runAll(engine);
  assert.equal(out.size, 10);
  for (const tokens of out.values()) assert.equal(tokens.length, 12);
});

test('a weighted mixture equals merging the weighted adapters into the base', () => {
  const model = newModel();
  const a = randomAdapter(model, 21);
  const b = randomAdapter(model, 22);
  const mixed = mixAdapters([
    { adapter: a, weight: 0.3 },
    { adapter: b, weight: 0.7 },
  ]);
  const merged = mergeLora(model, [
    { adapter: a, weight: 0.3 },
    { adapter: b, weight: 0.7 },
  ]);
  const tokens = Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]);
  const viaMixture = forward(model, tokens, 1, tokens.length, { lora: mixed }).logits;
  const viaMerge = forward(merged, tokens, 1, tokens.length).logits;
  let maxDiff = 0;
  for (let i = 0; i < viaMerge.length; i++)
    maxDiff = Math.max(maxDiff, Math.abs(viaMixture[i] - viaMerge[i]));
  assert.ok(maxDiff < 1e-3, `max logit difference ${maxDiff}`);
});

test('a merged hot adapter gives the same greedy tokens as the unmerged adapter', () => {
  const model = newModel();
  const engine = new BatchEngine(model, { maxBatch: 2 });
  engine.loadAdapter('A', randomAdapter(model, 5));
  engine.submit(request('before', 'A', 1, 0));
  const before = runAll(engine).get('before');
  engine.mergeAdapter('A');
  engine.submit(request('after', 'A', 1, 0));
  assert.deepEqual(runAll(engine).get('after'), before);
});

test('refuses an oversized prompt and an unknown adapter before running anything', () => {
  const model = newModel();
  const engine = new BatchEngine(model);
  assert.throws(
    () => engine.submit({ ...request('x', null, 1, 0), prompt: new Array(64).fill(1) }),
    /context holds 64/,
  );
  assert.throws(() => engine.submit(request('y', 'nope', 1, 0)), /adapter nope is not loaded/);
  assert.ok(engine.idle);
});

test('a duplicate request id is refused, so no slot is lost', () => {
  const model = newModel();
  const engine = new BatchEngine(model, { maxBatch: 2 });
  engine.submit(request('same', null, 1, 1));
  assert.throws(() => engine.submit(request('same', null, 2, 1)), /already queued or running/);
  runAll(engine);
  engine.submit(request('x', null, 3, 1));
  engine.submit(request('y', null, 4, 1));
  engine.step();
  assert.equal(engine.activeCount, 2);
});

test('admission groups requests by adapter, and a request is overtaken at most 64 times', () => {
  const model = newModel();
  const engine = new BatchEngine(model, { maxBatch: 2 });
  engine.loadAdapter('A', randomAdapter(model, 1));
  engine.loadAdapter('B', randomAdapter(model, 2));
  const one = (id: string, adapter: string) => ({ ...request(id, adapter, 1, 0), maxTokens: 1 });
  engine.submit(one('a0', 'A'));
  engine.submit(one('b0', 'B'));
  for (let i = 1; i <= 100; i++) engine.submit(one(`a${i}`, 'A'));
  const order: string[] = [];
  while (!engine.idle) {
    for (const e of engine.step()) {
      if (e.type === 'error') throw new Error(e.message);
      if (e.type === 'token') order.push(e.id);
    }
  }
  assert.equal(order.length, 102);
  // the oldest first, then another request of the adapter already in the batch, not b0
  assert.deepEqual(order.slice(0, 2), ['a0', 'a1']);
  const b = order.indexOf('b0');
  assert.ok(b > 2, `b0 was overtaken (admitted ${b}th)`);
  assert.ok(b <= 66, `b0 waited for at most 64 later requests (admitted ${b}th)`);
  // requests of one adapter keep their order among themselves
  const as = order.filter((id) => id.startsWith('a')).map((id) => Number(id.slice(1)));
  assert.deepEqual(
    as,
    [...as].sort((x, y) => x - y),
  );
});
