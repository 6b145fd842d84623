#!/usr/bin/env node
// npm run test:interop — llama.cpp (node-llama-cpp@3.21.1) loads our exported GGUF base model and a
// GGUF LoRA adapter, and its next-token log-probabilities match our engine's within 1e-3.
//
// node-llama-cpp is large (~700 MB with its prebuilt binaries) and is not a workspace dependency: it is
// installed here into a temporary prefix from the npm registry with --ignore-scripts (its prebuilt
// llama.cpp binaries arrive as npm optional dependencies; nothing else is downloaded) and loaded with
// build: 'never'. Settings: CPU only, threads 1, F32 KV cache, flash attention off.
// Ends with a node-test-style line `N passed, N failed`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const VERSION = '3.21.1';
const TOLERANCE = 1e-3;
const prefix = process.env.OPENLEDGER_LLAMA_CPP_PREFIX ?? join(tmpdir(), 'openledger-interop');
const entry = join(prefix, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');

function installed() {
  try {
    const pkg = join(prefix, 'node_modules', 'node-llama-cpp', 'package.json');
    return (
      existsSync(entry) && JSON.parse(execFileSync('cat', [pkg], { encoding: 'utf8' })).version === VERSION
    );
  } catch {
    return false;
  }
}

if (!installed()) {
  console.log(`installing node-llama-cpp@${VERSION} into ${prefix} (npm registry only, --ignore-scripts)`);
  mkdirSync(prefix, { recursive: true });
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      `node-llama-cpp@${VERSION}`,
    ],
    {
      stdio: 'inherit',
    },
  );
}

// Our engine (TypeScript) through tsx.
const { register } = await import('tsx/esm/api');
register();
const M = await import('@openledger/model');
const llamaCpp = await import(pathToFileURL(entry).href);

const { model, tokenizer } = M.loadBaseModel();
const V = model.config.vocabSize;
const adapter = M.createLora(model.config, { rank: 8, alpha: 16, targets: [...M.LORA_TARGETS], seed: 7 });
const rng = new M.Rng(11);
for (const layer of adapter.layers)
  for (const p of Object.values(layer)) for (let i = 0; i < p.b.length; i++) p.b[i] = rng.normal() * 0.02;

const dir = mkdtempSync(join(tmpdir(), 'openledger-interop-'));
const basePath = join(dir, 'base-f32.gguf');
const loraPath = join(dir, 'lora-f32.gguf');
writeFileSync(basePath, M.modelToGguf(model, tokenizer, { type: 'F32', name: 'openledger-base' }));
writeFileSync(loraPath, M.loraToGguf(adapter, model.config));

const prompts = ['The President shall', 'In the last year our country', 'Congress should consider the'];

function ourLogProbs(tokens, lora) {
  const acts = M.forward(model, Int32Array.from(tokens), 1, tokens.length, { lora });
  const row = acts.logits.subarray((tokens.length - 1) * V, tokens.length * V);
  let max = Number.NEGATIVE_INFINITY;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - lse);
}

let passed = 0;
let failed = 0;
const llama = await llamaCpp.getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const lm = await llama.loadModel({ modelPath: basePath, gpuLayers: 0 });
try {
  for (const withLora of [false, true]) {
    const ctx = await lm.createContext({
      contextSize: 256,
      batchSize: 256,
      threads: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      ...(withLora ? { lora: { adapters: [{ filePath: loraPath, scale: 1 }] } } : {}),
    });
    const seq = ctx.getSequence();
    for (const prompt of prompts) {
      const tokens = tokenizer.encode(prompt);
      await seq.clearHistory();
      const input = tokens.map((t, i) =>
        i === tokens.length - 1
          ? [
              t,
              {
                generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } },
              },
            ]
          : t,
      );
      const out = await seq.controlledEvaluate(input);
      const probs = out[tokens.length - 1]?.next?.probabilities;
      const ours = ourLogProbs(tokens, withLora ? adapter : null);
      let maxDiff = 0;
      let compared = 0;
      let mass = 0;
      for (const [tok, p] of probs ?? []) {
        mass += p;
        if (p < 1e-5) continue; // log of tiny probabilities is dominated by float rounding
        maxDiff = Math.max(maxDiff, Math.abs(Math.log(p) - ours[tok]));
        compared++;
      }
      // the adapter must matter, or the LoRA comparison would prove nothing
      const base = withLora ? ourLogProbs(tokens, null) : ours;
      let loraEffect = 0;
      for (let i = 0; i < V; i++)
        if (ours[i] > -12) loraEffect = Math.max(loraEffect, Math.abs(ours[i] - base[i]));
      const ok =
        probs &&
        compared > 0 &&
        maxDiff <= TOLERANCE &&
        Math.abs(mass - 1) < 1e-3 &&
        (!withLora || loraEffect > 10 * TOLERANCE);
      if (ok) passed++;
      else failed++;
      console.log(
        `${ok ? 'ok' : 'not ok'} - ${withLora ? 'base + LoRA' : 'base'} "${prompt}": ${compared} tokens compared, max |Δ log p| = ${maxDiff.toExponential(2)}, llama.cpp probability mass ${mass.toFixed(4)}${withLora ? `, LoRA moves our log p by up to ${loraEffect.toFixed(3)}` : ''}`,
      );
    }
    await ctx.dispose();
  }
} finally {
  await lm.dispose();
  await llama.dispose?.();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
