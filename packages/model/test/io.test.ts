import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { headDim } from '../src/config.ts';
import { ModelFormatError } from '../src/errors.ts';
import { GgmlType, readGguf } from '../src/io/gguf.ts';
import { loraFromGguf, loraToGguf, modelFromGguf, modelToGguf, permuteRope } from '../src/io/gguf-model.ts';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../src/io/half.ts';
import { loadHfModel, modelFromSafetensors, modelToSafetensors, saveHfModel } from '../src/io/hf.ts';
import {
  loadPeftAdapter,
  loraFromPeft,
  loraToPeftSafetensors,
  peftConfig,
  savePeftAdapter,
} from '../src/io/peft.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { createLora, type LoraAdapter } from '../src/lora.ts';
import { createModel, forward, type LlamaModel, namedParams } from '../src/model.ts';
import { Rng } from '../src/rng.ts';
import { trainBpe } from '../src/tokenizer.ts';
import { tinyConfig } from './helpers.ts';

const TEXT = ['the cat sat on the mat. the dog sat on the log.', 'Société générale — 東京 🎉'];
const tok = trainBpe(TEXT, { vocabSize: 300, specialTokens: ['<|endoftext|>'], minFrequency: 1 });

function model(tied: boolean, seed = 3): LlamaModel {
  // dim 32 so Q8_0 (rows of 32) applies; vocab = tokenizer size
  return createModel(
    tinyConfig({
      dim: 32,
      nHeads: 4,
      nKvHeads: 2,
      ffnDim: 64,
      vocabSize: tok.vocabSize,
      tiedEmbeddings: tied,
    }),
    seed,
  );
}

function sameWeights(a: LlamaModel, b: LlamaModel, tol = 0): void {
  assert.deepEqual(a.config, b.config);
  const pb = new Map(namedParams(b).map((p) => [p.name, p.data]));
  for (const p of namedParams(a)) {
    const q = pb.get(p.name)!;
    if (tol === 0) assert.deepEqual(q, p.data, p.name);
    else for (let i = 0; i < q.length; i++) assert.ok(Math.abs(q[i] - p.data[i]) <= tol, `${p.name}[${i}]`);
  }
}

function adapter(m: LlamaModel, rsLora = false): LoraAdapter {
  const ad = createLora(m.config, {
    rank: 4,
    alpha: 8,
    rsLora,
    targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
    seed: 3,
  });
  const rng = new Rng(8);
  for (const l of ad.layers)
    for (const p of Object.values(l)) for (let i = 0; i < p.b.length; i++) p.b[i] = rng.normal() * 0.1;
  return ad;
}

test('half conversions round to nearest even and keep specials', () => {
  for (const v of [0, -0, 1, -2.5, 65504, 6.1e-5, 5.96e-8, 1 / 3, Number.POSITIVE_INFINITY]) {
    const h = f16BitsToF32(f32ToF16Bits(v));
    assert.ok(Object.is(h, Math.fround(h)));
    assert.ok(Math.abs(h - v) <= Math.abs(v) * 2 ** -11 + 6e-8 || h === v, `${v} → ${h}`);
  }
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(f32ToF16Bits(1e6), 0x7c00); // overflow → Inf
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(Number.NaN))));
  assert.equal(bf16BitsToF32(f32ToBf16Bits(1.00390625)), 1); // tie → even
  assert.equal(bf16BitsToF32(f32ToBf16Bits(-3.5)), -3.5);
});

for (const tied of [true, false]) {
  test(`safetensors round trips are bit-exact (F32; F16/BF16 re-encode) tied=${tied}`, () => {
    const m = model(tied);
    const bytes = modelToSafetensors(m, 'F32');
    const back = modelFromSafetensors(m.config, bytes);
    sameWeights(m, back);
    assert.deepEqual(modelToSafetensors(back, 'F32'), bytes);
    for (const dtype of ['F16', 'BF16'] as const) {
      const b1 = modelToSafetensors(m, dtype);
      const m1 = modelFromSafetensors(m.config, b1);
      sameWeights(m, m1, dtype === 'F16' ? 1e-3 : 1e-2);
      assert.deepEqual(modelToSafetensors(m1, dtype), b1);
    }
  });

  test(`GGUF model round trips: F32 and F16 bit-exact, Q8_0 close and stable, tokenizer kept (tied=${tied})`, () => {
    const m = model(tied, 5);
    const bytes = modelToGguf(m, tok, { type: 'F32' });
    const { model: back, tokenizer } = modelFromGguf(bytes);
    sameWeights(m, back);
    assert.deepEqual(modelToGguf(back, tokenizer, { type: 'F32' }), bytes);
    for (const s of TEXT) assert.deepEqual(tokenizer!.encode(s), tok.encode(s));
    const file = readGguf(bytes);
    assert.equal(file.metadata.get('general.architecture')?.value, 'llama');
    assert.equal(file.metadata.get('llama.attention.head_count_kv')?.value, 2);
    assert.equal(file.metadata.get('tokenizer.ggml.model')?.value, 'gpt2');
    assert.equal(
      file.tensors.some((t) => t.name === 'output.weight'),
      !tied,
    );
    assert.deepEqual(file.tensors.find((t) => t.name === 'blk.0.attn_k.weight')?.dims, [32, 16]);
    const f16 = modelToGguf(m, tok, { type: 'F16' });
    const m16 = modelFromGguf(f16).model;
    sameWeights(m, m16, 1e-3);
    assert.deepEqual(modelToGguf(m16, tok, { type: 'F16' }), f16);
    const q8 = modelToGguf(m, tok, { type: 'Q8_0' });
    assert.equal(readGguf(q8).tensors.find((t) => t.name === 'blk.1.ffn_up.weight')?.type, GgmlType.Q8_0);
    const mq = modelFromGguf(q8).model;
    sameWeights(m, mq, 0.1 / 127 + 1e-4); // weights are ~N(0, 0.02): |x| ≤ 0.1, error ≤ max/254
    assert.deepEqual(modelToGguf(mq, tok, { type: 'Q8_0' }), q8);
    const tokens = Int32Array.from(tok.encode(TEXT[0]).slice(0, 12));
    const a = forward(m, tokens, 1, tokens.length).logits;
    const b = forward(back, tokens, 1, tokens.length).logits;
    assert.deepEqual(a, b);
  });
}

test('GGUF Q/K permutation turns HF rotate-half RoPE into llama.cpp adjacent-pair RoPE', () => {
  const m = model(true, 9);
  const c = m.config;
  const d = headDim(c);
  const rng = new Rng(1);
  const x = Float32Array.from({ length: c.dim }, () => rng.normal());
  const mul = (W: Float32Array, rows: number) =>
    Float64Array.from({ length: rows }, (_, r) =>
      W.subarray(r * c.dim, (r + 1) * c.dim).reduce((s, w, j) => s + w * x[j], 0),
    );
  const pos = 7;
  const ropeHalf = (v: Float64Array, heads: number) => {
    const o = new Float64Array(v.length);
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < d / 2; i++) {
        const ang = pos * c.ropeTheta ** ((-2 * i) / d);
        const a = v[h * d + i];
        const b = v[h * d + i + d / 2];
        o[h * d + i] = a * Math.cos(ang) - b * Math.sin(ang);
        o[h * d + i + d / 2] = b * Math.cos(ang) + a * Math.sin(ang);
      }
    return o;
  };
  const ropePairs = (v: Float64Array, heads: number) => {
    const o = new Float64Array(v.length);
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < d / 2; i++) {
        const ang = pos * c.ropeTheta ** ((-2 * i) / d);
        const a = v[h * d + 2 * i];
        const b = v[h * d + 2 * i + 1];
        o[h * d + 2 * i] = a * Math.cos(ang) - b * Math.sin(ang);
        o[h * d + 2 * i + 1] = b * Math.cos(ang) + a * Math.sin(ang);
      }
    return o;
  };
  const wk = m.weights.layers[0].wk;
  const kvRows = c.nKvHeads * d;
  const hf = ropeHalf(mul(wk, kvRows), c.nKvHeads);
  const gg = ropePairs(mul(permuteRope(wk, c.nKvHeads, d, c.dim, true), kvRows), c.nKvHeads);
  // the llama.cpp result is the HF result with rows permuted: same attention scores per head
  const permutedHf = permuteRope(Float32Array.from(hf), c.nKvHeads, d, 1, true);
  for (let i = 0; i < kvRows; i++) assert.ok(Math.abs(permutedHf[i] - gg[i]) < 1e-5);
  assert.deepEqual(permuteRope(permuteRope(wk, 2, d, c.dim, true), 2, d, c.dim, false), wk);
});

test('Hugging Face directory save / load (config.json, model.safetensors, tokenizer.json)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-hf-'));
  try {
    const m = model(true);
    saveHfModel(dir, m, tok);
    const { model: back, tokenizer } = loadHfModel(dir);
    sameWeights(m, back);
    assert.deepEqual(tokenizer!.encode(TEXT[1]), tok.encode(TEXT[1]));
    writeFileSync(join(dir, 'config.json'), '{"model_type":"gpt2"}');
    assert.throws(() => loadHfModel(dir), /model_type must be "llama"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const rsLora of [false, true]) {
  test(`LoRA exports round-trip: GGUF LoRA and PEFT (rsLoRA=${rsLora})`, () => {
    const m = model(false, 4);
    const ad = adapter(m, rsLora);
    const tokens = Int32Array.from([1, 2, 3, 4, 5, 6]);
    const ref = forward(m, tokens, 1, 6, { lora: ad }).logits;
    const g = loraToGguf(ad, m.config);
    const file = readGguf(g);
    assert.equal(file.metadata.get('general.type')?.value, 'adapter');
    assert.equal(file.metadata.get('adapter.type')?.value, 'lora');
    const effAlpha = file.metadata.get('adapter.lora.alpha')?.value as number;
    assert.ok(
      Math.abs(effAlpha / 4 - (rsLora ? 8 / 2 : 8 / 4)) < 1e-6,
      'llama.cpp scale alpha/rank equals ours',
    );
    assert.deepEqual(file.tensors.find((t) => t.name === 'blk.1.attn_q.weight.lora_a')?.dims, [32, 4]);
    assert.deepEqual(file.tensors.find((t) => t.name === 'blk.1.ffn_down.weight.lora_b')?.dims, [4, 32]);
    const fromGguf = loraFromGguf(g, m.config);
    assert.deepEqual(fromGguf, ad);
    assert.deepEqual(loraToGguf(fromGguf, m.config), g);
    const st = loraToPeftSafetensors(ad);
    assert.ok(
      readSafetensors(st).tensors.has('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'),
    );
    const fromPeft = loraFromPeft(peftConfig(ad), st, m.config);
    assert.deepEqual(fromPeft, ad);
    assert.deepEqual(forward(m, tokens, 1, 6, { lora: fromPeft }).logits, ref);
    const dir = mkdtempSync(join(tmpdir(), 'ol-peft-'));
    try {
      savePeftAdapter(dir, ad);
      assert.deepEqual(loadPeftAdapter(dir, m.config), ad);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function onlyFormatErrors(fn: () => unknown, what: string): number {
  try {
    fn();
    return 0;
  } catch (e) {
    assert.ok(e instanceof ModelFormatError, `${what}: expected ModelFormatError, got ${(e as Error).stack}`);
    assert.ok((e as Error).message.length > 10);
    return 1;
  }
}

test('truncated or corrupt files give a clear ModelFormatError, never a crash', () => {
  const m = model(false, 6);
  const files: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
    ['GGUF model', modelToGguf(m, tok, { type: 'Q8_0' }), (b) => modelFromGguf(b)],
    ['GGUF LoRA', loraToGguf(adapter(m), m.config), (b) => loraFromGguf(b, m.config)],
    ['safetensors', modelToSafetensors(m, 'F16'), (b) => modelFromSafetensors(m.config, b)],
    ['PEFT', loraToPeftSafetensors(adapter(m)), (b) => loraFromPeft({ r: 4, lora_alpha: 8 }, b, m.config)],
  ];
  const rng = new Rng(77);
  for (const [what, bytes, load] of files) {
    // every truncation point in the header, and a sample through the data
    let failed = 0;
    const cuts = new Set<number>();
    for (let i = 0; i < Math.min(bytes.length, 600); i++) cuts.add(i);
    for (let i = 0; i < 200; i++) cuts.add(rng.int(bytes.length - 32)); // GGUF pads the last tensor to 32 bytes
    for (const cut of cuts)
      failed += onlyFormatErrors(() => load(bytes.subarray(0, cut)), `${what} cut at ${cut}`);
    assert.equal(failed, cuts.size, `${what}: every truncation must be rejected`);
    assert.match(
      String(
        (() => {
          try {
            load(bytes.subarray(0, bytes.length - 40));
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      ),
      /truncat|past the data|exceeds/,
    );
    // random corruption of header bytes: loads or fails cleanly
    for (let i = 0; i < 300; i++) {
      const c = bytes.slice();
      const n = 1 + rng.int(4);
      for (let j = 0; j < n; j++) c[rng.int(Math.min(c.length, 2000))] = rng.int(256);
      onlyFormatErrors(() => load(c), `${what} corrupted`);
    }
  }
  assert.throws(() => modelFromGguf(new TextEncoder().encode('GGML not a gguf file')), /bad magic/);
  assert.throws(() => modelFromGguf(loraToGguf(adapter(m), m.config)), /LoRA adapter, not a model/);
});
