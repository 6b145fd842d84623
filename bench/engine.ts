// npm run bench:engine — the numeric engine in one run on this machine:
//   1. sgemm GFLOP/s per tensor backend next to OpenBLAS from C (bench/engine-kernels.ts, if present);
//   2. LoRA training tokens/s on the shipped base model and model-FLOPs utilisation against the
//      measured native sgemm peak;
//   3. generation tokens/s at batch 1 and batch 16;
//   4. node-llama-cpp on the same GGUF when `npm run test:interop` has installed it (temp prefix).
// The machine is shared by several processes, so rates are per second of this process's CPU time
// (as in engine-kernels.ts); wall-clock rates are in the JSON too.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BASE_CONFIG,
  createLora,
  createModel,
  generateBatch,
  headDim,
  type LlamaModel,
  LoraTrainer,
  loadBaseModel,
  loraParamCount,
  modelToGguf,
  paramCount,
  Rng,
  targetShape,
} from '@openledger/model';
import { getKernels, type Kernels } from '@openledger/tensor';

const here = dirname(fileURLToPath(import.meta.url));

/** The few node-llama-cpp 3.x calls used here (it is not a dependency of the workspace). */
interface LlamaCppModule {
  getLlama(o: Record<string, unknown>): Promise<{
    loadModel(o: Record<string, unknown>): Promise<{
      createContext(o: Record<string, unknown>): Promise<{
        getSequence(): {
          clearHistory(): Promise<void>;
          evaluate(tokens: number[], o: Record<string, unknown>): AsyncIterable<number>;
        };
        dispose(): Promise<void>;
      }>;
      dispose(): Promise<void>;
    }>;
  }>;
}
const log = (l: string) => console.log(l);

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Runs fn repeatedly for at least `seconds` of CPU time; returns [units per CPU-s, units per wall-s]. */
function rate(fn: () => number, seconds: number): [number, number] {
  fn(); // warm-up
  const c0 = cpuSeconds();
  const w0 = performance.now();
  let units = 0;
  while (cpuSeconds() - c0 < seconds) units += fn();
  return [units / (cpuSeconds() - c0), units / ((performance.now() - w0) / 1000)];
}

function baseModel(): { model: LlamaModel; source: string } {
  try {
    return { model: loadBaseModel().model, source: 'shipped base model' };
  } catch {
    return { model: createModel(BASE_CONFIG, 1), source: 'random init (base model not shipped)' };
  }
}

/**
 * Matmul FLOPs of one LoRA training token (base frozen), counting only products the engine runs
 * (2 FLOPs per multiply-add; elementwise work such as norms, softmax, SwiGLU, RoPE and the
 * cross-entropy is not counted):
 *   - forward: every linear layer and the lm head, 2·in·out;
 *   - input gradients: 2·in·out for each linear and the lm head, except the first layer's q, k, v
 *     projections, whose input gradient would only feed the frozen token embedding and is skipped;
 *     no weight gradients of the frozen base;
 *   - LoRA, per adapted target: forward 2·r·(in+out); backward dt = dy·B 2·r·out, dB 2·r·out,
 *     dA 2·r·in, and dx += dt·A 2·r·in (again not for the first layer's q, k, v);
 *   - attention over the full T×T score matrix that the sgemms compute (the causal upper triangle is
 *     computed and masked, so it is counted): forward q·kᵀ and P·v, 4·T·dim per token and layer;
 *     backward dP, dV, dQ, dK, twice that.
 */
function loraTrainFlopsPerToken(model: LlamaModel, rank: number, targets: string[], T: number): number {
  const c = model.config;
  const kvDim = c.nKvHeads * headDim(c);
  const layerShapes: Record<string, [number, number]> = {
    q: [c.dim, c.dim],
    k: [c.dim, kvDim],
    v: [c.dim, kvDim],
    o: [c.dim, c.dim],
    gate: [c.dim, c.ffnDim],
    up: [c.dim, c.ffnDim],
    down: [c.ffnDim, c.dim],
  };
  const firstLayerSkipped = new Set(['q', 'k', 'v']);
  let flops = 2 * 2 * c.vocabSize * c.dim; // lm head: forward and input gradient
  for (let l = 0; l < c.nLayers; l++) {
    for (const [name, [i, o]] of Object.entries(layerShapes)) {
      const inputGrad = !(l === 0 && firstLayerSkipped.has(name));
      flops += 2 * i * o * (inputGrad ? 2 : 1);
      if (targets.includes(name)) {
        const [ti, to] = targetShape(c, name as 'q');
        flops += 2 * rank * (ti + to) + 2 * rank * to * 2 + 2 * rank * ti * (inputGrad ? 2 : 1);
      }
    }
    flops += 3 * 4 * T * c.dim; // attention: forward 4·T·dim, backward twice that
  }
  return flops;
}

/** Matmul FLOPs requested from the active kernels while fn runs (the kernel object is wrapped meanwhile). */
function sgemmFlops(fn: () => void): number {
  const K = getKernels() as { -readonly [P in keyof Kernels]: Kernels[P] };
  const { sgemm, sgemmStridedBatched } = K;
  let flops = 0;
  K.sgemm = (...a) => {
    flops += 2 * a[2] * a[3] * a[4];
    sgemm(...a);
  };
  K.sgemmStridedBatched = (...a) => {
    flops += 2 * a[2] * a[3] * a[4] * a[16];
    sgemmStridedBatched(...a);
  };
  try {
    fn();
  } finally {
    K.sgemm = sgemm;
    K.sgemmStridedBatched = sgemmStridedBatched;
  }
  return flops;
}

/** LoRA (rank 8, all seven targets) training tokens/s and MFU for one model. */
function loraTrainRate(model: LlamaModel, peak: number, B: number) {
  const c = model.config;
  const T = 128;
  const rank = 8;
  const targets = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
  const adapter = createLora(c, { rank, alpha: 16, targets: [...targets], seed: 1 });
  const trainer = new LoraTrainer(model, adapter, { lr: 1e-4 });
  const rng = new Rng(3);
  const tokens = Int32Array.from({ length: B * T }, () => rng.int(c.vocabSize));
  const targetsArr = Int32Array.from({ length: B * T }, () => rng.int(c.vocabSize));
  const batch = { tokens, targets: targetsArr, B, T };
  const [tokS, tokSWall] = rate(() => {
    trainer.step(batch);
    return B * T;
  }, 6);
  const flopsPerToken = loraTrainFlopsPerToken(model, rank, [...targets], T);
  // The formula checked against what one step actually asks of sgemm (2·m·n·k per call).
  const counted = sgemmFlops(() => trainer.step(batch)) / (B * T);
  if (counted !== flopsPerToken)
    throw new Error(`FLOP formula ${flopsPerToken} per token, sgemm calls of one step ${counted}`);
  return {
    batch: B,
    seqLen: T,
    rank,
    targets,
    loraParams: loraParamCount(adapter),
    tokensPerSec: Math.round(tokS),
    tokensPerSecWall: Math.round(tokSWall),
    flopsPerToken,
    flopsCountedFromSgemmCalls: counted,
    gflops: Number(((tokS * flopsPerToken) / 1e9).toFixed(2)),
    mfu: Number(((tokS * flopsPerToken) / (peak * 1e9)).toFixed(3)),
  };
}

async function main() {
  const K = getKernels();
  const result: Record<string, unknown> = {
    name: 'engine',
    backend: K.backend,
    timing: 'per second of process CPU time',
  };

  // 1. kernels
  let peak: number | undefined;
  const kernelsPath = join(here, 'engine-kernels.ts');
  if (existsSync(kernelsPath)) {
    const { benchKernels } = (await import('./engine-kernels.ts')) as typeof import('./engine-kernels.ts');
    const { json } = await benchKernels({ log });
    result.kernels = json;
    peak = json.peakGflops.native ?? json.peakGflops.wasm;
  } else log('bench/engine-kernels.ts not found: kernel section skipped');
  if (peak === undefined) {
    // measure a peak here: 512³ sgemm on the active backend
    const n = 512;
    const a = new Float32Array(n * n).fill(0.5);
    const c = new Float32Array(n * n);
    const [r] = rate(() => {
      K.sgemm(false, false, n, n, n, 1, a, n, a, n, 0, c, n);
      return 2 * n * n * n;
    }, 1);
    peak = r / 1e9;
  }
  result.sgemmPeakGflops = Number(peak.toFixed(1));

  // 2. LoRA training: the shipped base model, and a wider random model (bigger matmuls)
  const { model, source } = baseModel();
  const c = model.config;
  const rng = new Rng(3);
  result.model = { source, params: paramCount(c), config: c, headDim: headDim(c) };
  result.loraTrain = loraTrainRate(model, peak, 8);
  const wide = createModel({ ...BASE_CONFIG, dim: 512, nHeads: 8, nKvHeads: 4, ffnDim: 1408 }, 2);
  result.loraTrainWide = {
    params: paramCount(wide.config),
    config: wide.config,
    ...loraTrainRate(wide, peak, 4),
  };

  // 3. generation
  const prompt = Array.from({ length: 16 }, () => rng.int(c.vocabSize));
  const gen: Record<string, { tokensPerSec: number; tokensPerSecWall: number }> = {};
  for (const batchSize of [1, 16]) {
    const newTokens = 48;
    const prompts = Array.from({ length: batchSize }, () => prompt);
    const [r, rw] = rate(() => {
      generateBatch(model, prompts, { maxTokens: newTokens, temperature: 0 });
      return batchSize * newTokens;
    }, 4);
    gen[`batch${batchSize}`] = { tokensPerSec: Math.round(r), tokensPerSecWall: Math.round(rw) };
  }
  result.generation = gen;

  // 4. node-llama-cpp (installed only by scripts/interop.mjs into a temp prefix)
  const prefix = process.env.OPENLEDGER_LLAMA_CPP_PREFIX ?? join(tmpdir(), 'openledger-interop');
  const llamaEntry = join(prefix, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  if (existsSync(llamaEntry)) {
    const dir = mkdtempSync(join(tmpdir(), 'engine-gguf-'));
    try {
      const path = join(dir, 'base.gguf');
      writeFileSync(path, modelToGguf(model, loadBaseModel().tokenizer, { type: 'F32' }));
      const lc = (await import(llamaEntry)) as LlamaCppModule;
      const llama = await lc.getLlama({ gpu: false, build: 'never', logLevel: 'error' });
      const lm = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
      const ctx = await lm.createContext({
        contextSize: 256,
        threads: 1,
        flashAttention: false,
        batchSize: 256,
      });
      const seq = ctx.getSequence();
      const newTokens = 48;
      const c0 = cpuSeconds();
      const w0 = performance.now();
      let made = 0;
      while (cpuSeconds() - c0 < 4) {
        await seq.clearHistory();
        let n = 0;
        for await (const _ of seq.evaluate(prompt, { temperature: 0 })) if (++n >= newTokens) break;
        made += n;
      }
      const llamaTokS = made / (cpuSeconds() - c0);
      const llamaTokSWall = made / ((performance.now() - w0) / 1000);
      result.llamaCpp = {
        version: '3.21.1',
        batch1TokensPerSec: Math.round(llamaTokS),
        batch1TokensPerSecWall: Math.round(llamaTokSWall),
        oursVsLlamaCpp: Number((gen.batch1.tokensPerSec / llamaTokS).toFixed(2)),
        note: 'node-llama-cpp CPU time includes its own worker threads',
      };
      await ctx.dispose();
      await lm.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    result.llamaCpp = null;
    log(`node-llama-cpp not installed under ${prefix} (run npm run test:interop first): comparison skipped`);
  }

  // table
  const lt = result.loraTrain as Record<string, number>;
  log('');
  log('| measure | value |');
  log('|---|---|');
  log(`| backend | ${K.backend} |`);
  log(`| sgemm peak (GFLOP/s per CPU-s) | ${result.sgemmPeakGflops} |`);
  log(`| model | ${source}, ${paramCount(c).toLocaleString('en')} params |`);
  log(
    `| LoRA training (r=8, all 7 targets, ${lt.batch}×${lt.seqLen}) tokens/s | ${lt.tokensPerSec} (wall ${lt.tokensPerSecWall}) |`,
  );
  log(`| LoRA training GFLOP/s / MFU | ${lt.gflops} / ${(lt.mfu * 100).toFixed(1)}% |`);
  const lw = result.loraTrainWide as Record<string, number>;
  log(
    `| wide model (dim 512, ${lw.params.toLocaleString('en')} params, ${lw.batch}×${lw.seqLen}) LoRA tokens/s | ${lw.tokensPerSec} (wall ${lw.tokensPerSecWall}) |`,
  );
  log(`| wide model LoRA GFLOP/s / MFU | ${lw.gflops} / ${(lw.mfu * 100).toFixed(1)}% |`);
  log(`| generation batch 1 tokens/s | ${gen.batch1.tokensPerSec} (wall ${gen.batch1.tokensPerSecWall}) |`);
  log(
    `| generation batch 16 tokens/s | ${gen.batch16.tokensPerSec} (wall ${gen.batch16.tokensPerSecWall}) |`,
  );
  const lc = result.llamaCpp as Record<string, number> | null;
  if (lc) log(`| node-llama-cpp batch 1 tokens/s | ${lc.batch1TokensPerSec} (ours ${lc.oursVsLlamaCpp}×) |`);
  const json = JSON.stringify(result);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'engine.json'), `${json}\n`);
  log(`BENCH ${json}`);
}

await main();
