import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createLora,
  type LlamaModel,
  loadHfModel,
  Rng,
  saveHfModel,
  savePeftAdapter,
  trainBpe,
} from '@openledger/model';
import {
  AdapterManager,
  type AdapterResolver,
  BatchEngine,
  Engine,
  type EngineRequest,
} from '../src/index.ts';
import { tinyModel } from './helpers.ts';

function setup(adapterCount: number) {
  const dir = mkdtempSync(join(tmpdir(), 'serve-'));
  const tokenizer = trainBpe(['hello world, the quick brown fox'], {
    vocabSize: 280,
    specialTokens: ['<|endoftext|>'],
  });
  const model: LlamaModel = tinyModel({ vocabSize: tokenizer.vocabSize, maxSeq: 64, seed: 3 });
  saveHfModel(join(dir, 'base'), model, tokenizer);
  const adapters = [];
  for (let i = 0; i < adapterCount; i++) {
    const adapter = createLora(model.config, { rank: 2, alpha: 4, targets: ['q', 'v'], seed: i + 1 });
    const rng = new Rng(100 + i);
    for (const layer of adapter.layers)
      for (const pair of Object.values(layer))
        for (let j = 0; j < pair!.b.length; j++) pair!.b[j] = rng.normal();
    savePeftAdapter(join(dir, `a${i}`), adapter);
    adapters.push(adapter);
  }
  const hashes = new Map<string, `0x${string}`>();
  for (let i = 0; i < adapterCount; i++) {
    const bytes = readFileSync(join(dir, `a${i}`, 'adapter_model.safetensors'));
    hashes.set(`a${i}`, `0x${createHash('sha256').update(bytes).digest('hex')}`);
  }
  const resolver: AdapterResolver = {
    async resolve(key) {
      const expectedHash = hashes.get(key);
      if (!expectedHash) throw new Error(`unknown ${key}`);
      return {
        key,
        expectedHash,
        fetch: async () => ({
          configJson: readFileSync(join(dir, key, 'adapter_config.json'), 'utf8'),
          weights: readFileSync(join(dir, key, 'adapter_model.safetensors')),
        }),
      };
    },
  };
  return { dir, model, adapters, resolver };
}

const req = (id: string, adapter: string | null, seed: number): EngineRequest => ({
  id,
  adapter,
  prompt: [5, 6, 7, seed % 50],
  maxTokens: 8,
  temperature: 0.7,
  topP: 0.95,
  topK: 0,
  seed,
  stopTokens: [],
});

async function collect(engine: Engine, r: EngineRequest): Promise<number[]> {
  const tokens: number[] = [];
  for await (const e of engine.run(r)) {
    if (e.type === 'token') tokens.push(e.token);
    if (e.type === 'error') throw new Error(e.message);
  }
  return tokens;
}

test('the worker engine serves many adapters concurrently with the same tokens as the in-process engine', async () => {
  const { dir, adapters, resolver } = setup(6);
  const engine = new Engine({ baseModelDir: join(dir, 'base'), maxBatch: 8 });
  const manager = new AdapterManager(engine, resolver, { maxLoaded: 4 });
  const requests = Array.from({ length: 24 }, (_, i) => req(`r${i}`, `a${i % 6}`, i));
  const results = await Promise.all(
    requests.map(async (r) => {
      const release = await manager.acquire(r.adapter as string);
      try {
        return await collect(engine, r);
      } finally {
        release();
      }
    }),
  );
  // the worker reads the saved base (which may be stored in half precision): compare with the same
  const local = new BatchEngine(loadHfModel(join(dir, 'base')).model, { maxBatch: 1 });
  adapters.forEach((a, i) => local.loadAdapter(`a${i}`, a));
  requests.forEach((r, i) => {
    local.submit(r);
    const tokens: number[] = [];
    while (!local.idle) for (const e of local.step()) if (e.type === 'token') tokens.push(e.token);
    assert.deepEqual(results[i], tokens, r.id);
  });
  assert.ok(manager.loaded().length <= 6);
  assert.ok(manager.misses >= 6);
  await engine.close();
});

test('a tampered adapter file is refused and never loaded', async () => {
  const { dir, resolver } = setup(1);
  const path = join(dir, 'a0', 'adapter_model.safetensors');
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(path, bytes);
  const engine = new Engine({ baseModelDir: join(dir, 'base') });
  const manager = new AdapterManager(engine, resolver);
  await assert.rejects(manager.acquire('a0'), /refused: its file hash .* differs from the on-chain record/);
  assert.deepEqual(manager.loaded(), []);
  await engine.close();
});

test('LRU: cold adapters are evicted beyond the limit, pinned ones are kept', async () => {
  const { dir, resolver } = setup(4);
  const engine = new Engine({ baseModelDir: join(dir, 'base') });
  const manager = new AdapterManager(engine, resolver, { maxLoaded: 2 });
  const pinned = await manager.acquire('a0');
  (await manager.acquire('a1'))();
  (await manager.acquire('a2'))();
  assert.deepEqual(manager.loaded().sort(), ['a0', 'a2']);
  assert.equal(manager.evictions, 1);
  (await manager.acquire('a2'))();
  assert.equal(manager.hits, 1);
  pinned();
  await engine.close();
});

test('200 concurrent streaming requests over 50 adapters all complete', async () => {
  const { dir, resolver } = setup(50);
  const engine = new Engine({ baseModelDir: join(dir, 'base'), maxBatch: 32 });
  const manager = new AdapterManager(engine, resolver, { maxLoaded: 64 });
  const results = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const key = `a${i % 50}`;
      const release = await manager.acquire(key);
      try {
        const tokens: number[] = [];
        let done = false;
        for await (const e of engine.run({ ...req(`s${i}`, key, i), maxTokens: 6 })) {
          if (e.type === 'token') tokens.push(e.token);
          if (e.type === 'done') done = true;
          if (e.type === 'error') throw new Error(e.message);
        }
        return { tokens: tokens.length, done };
      } finally {
        release();
      }
    }),
  );
  assert.equal(results.length, 200);
  for (const r of results) {
    assert.equal(r.done, true);
    assert.equal(r.tokens, 6);
  }
  assert.equal(manager.loaded().length, 50);
  await engine.close();
});
