/**
 * npm run bench:attribution-quality — does gradient attribution find the data that matters?
 *
 *  - Linear Datamodeling Score (LDS, Park et al. 2023): train on the full training set, score every
 *    (test, train) pair with DataInf, gradient-dot and TracIn; then retrain on M ≥ 50 random
 *    half-subsets S_m. For each test example z, LDS(z) is the Spearman correlation over m between
 *    the retrained model's log-probability of z's label and the predicted Σ_{i∈S_m} τ(z, i).
 *    Reported: mean over test examples. Target: DataInf ≥ 2× gradient-dot.
 *  - Mislabel detection: flip 5% (and 10%) of the training labels, train, rank the rows by
 *    self-influence (DataInf: g_kᵀ H⁻¹ g_k with its per-layer inverse); recall of the flipped rows in
 *    the top 10% and the ROC AUC. Target: recall ≥ 0.8 at 5%. For reference also the DataInf paper's
 *    protocol: rank by harm to the mean loss of clean validation rows.
 *
 * Splits: training rows, an LDS test split, and a validation split with its own retraining subsets.
 * DataInf's variant (λ rule: the paper's 0.1·tr(G_l)/d_l or the package default 0.1·tr(G_l);
 * inverse: closed form or exact) is chosen on the validation split only; the test split is scored
 * once. Retraining is full-batch AdamW with a cosine schedule, so a subset's model does not depend on
 * data order: with mini-batches (BATCH=20) the same subset retrained with another shuffle seed
 * correlated at Spearman ≈ 0.16–0.27 with itself, which caps any LDS and made the old numbers noise.
 * The bench prints that seed-to-seed correlation.
 *
 * Model (stated in the output): MODEL=llama (default) is @openledger/model's tiny Llama (random
 * base, frozen scaled head) + LoRA, trained with LoraTrainer, gradients from perExampleLoraGrads,
 * one layer per transformer block as production stores them (GRAD_LAYERS=module: one per LoRA
 * factor, the DataInf reference code's granularity) and projected through RandomProjector → GradientSet → InfluenceMethod at the production budget of
 * 1,024 float32 dims. MODEL=mlp is a LoRA-MLP classifier written here (hand-written gradients
 * checked against finite differences). Knobs: TRAIN_ROWS (400), TEST_ROWS (160), LDS_SUBSETS (50), VAL_SUBSETS
 * (20), EPOCHS (100 full-batch steps), BATCH (0 = full), LR (0.02), LR_SCHEDULE (cosine), PROJ_DIMS.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  dataInf,
  type GradientSet,
  gradDot,
  type InfluenceMethod,
  Prng,
  projectionDims,
  RandomProjector,
  tracIn,
} from '../packages/attribution/src/index.ts';

const here = dirname(fileURLToPath(import.meta.url));

// ---------- data: a classification datanet ----------
export interface Item {
  /** Features (MLP) or feature token ids (Llama). */
  x: Float64Array;
  y: number;
}

// ---------- the model contract the bench needs ----------
interface Backend {
  description: string;
  datanet: string;
  /** True when the model is @openledger/model's Llama + LoRA. */
  realModel: boolean;
  classes: number;
  /** Rows of the classification datanet (labels cycle through the classes). */
  makeData(seed: number, n: number): Item[];
  /** Trains from the fixed initialisation on `train`; returns checkpoints (last = final). */
  train(train: readonly Item[], seed?: number): { checkpoints: { state: unknown; lr: number }[] };
  /** Per-example LoRA gradients of the loss, one Float32Array per layer. */
  grads(state: unknown, items: readonly Item[]): Float32Array[][];
  /** log p(label | x) under the model. */
  logProb(state: unknown, items: readonly Item[]): Float64Array;
  layerDims: number[];
}

// ---------- MLP with LoRA adapters, written here ----------
function mlpBackend(d: number, H: number, C: number, rank: number, epochs: number, lr: number): Backend {
  const r = new Prng(1234);
  const W1 = Float64Array.from({ length: H * d }, () => r.gaussian() / Math.sqrt(d));
  const b1 = Float64Array.from({ length: H }, () => r.gaussian() * 0.1);
  const W2 = Float64Array.from({ length: C * H }, () => r.gaussian() / Math.sqrt(H));
  const b2 = new Float64Array(C);
  const A1init = Float64Array.from({ length: rank * d }, () => r.gaussian() / Math.sqrt(d));
  const A2init = Float64Array.from({ length: rank * H }, () => r.gaussian() / Math.sqrt(H));
  // LoRA state: A1 (rank×d), B1 (H×rank), A2 (rank×H), B2 (C×rank); B starts at 0 as in LoRA.
  type S = { A1: Float64Array; B1: Float64Array; A2: Float64Array; B2: Float64Array };
  const layerDims = [rank * d + H * rank, rank * H + C * rank];
  const means = Array.from({ length: C }, () => Float64Array.from({ length: d }, () => r.gaussian()));

  const forward = (s: S, x: Float64Array) => {
    const a1 = new Float64Array(rank);
    for (let k = 0; k < rank; k++) for (let j = 0; j < d; j++) a1[k] += s.A1[k * d + j] * x[j];
    const h = new Float64Array(H);
    for (let i = 0; i < H; i++) {
      let z = b1[i];
      for (let j = 0; j < d; j++) z += W1[i * d + j] * x[j];
      for (let k = 0; k < rank; k++) z += s.B1[i * rank + k] * a1[k];
      h[i] = Math.tanh(z);
    }
    const a2 = new Float64Array(rank);
    for (let k = 0; k < rank; k++) for (let j = 0; j < H; j++) a2[k] += s.A2[k * H + j] * h[j];
    const z2 = new Float64Array(C);
    let mx = -Infinity;
    for (let c = 0; c < C; c++) {
      let z = b2[c];
      for (let j = 0; j < H; j++) z += W2[c * H + j] * h[j];
      for (let k = 0; k < rank; k++) z += s.B2[c * rank + k] * a2[k];
      z2[c] = z;
      mx = Math.max(mx, z);
    }
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(z2[c] - mx);
    const logp = Float64Array.from(z2, (z) => z - mx - Math.log(sum));
    return { a1, h, a2, logp };
  };

  /** Gradient of −log p(y|x) w.r.t. [A1, B1] and [A2, B2]. */
  const backward = (s: S, it: Item) => {
    const { a1, h, a2, logp } = forward(s, it.x);
    const dz2 = Float64Array.from(logp, (l, c) => Math.exp(l) - (c === it.y ? 1 : 0));
    const g1 = new Float64Array(layerDims[0]);
    const g2 = new Float64Array(layerDims[1]);
    // layer 2: dA2 = (B2ᵀ dz2) ⊗ h, dB2 = dz2 ⊗ a2
    const u2 = new Float64Array(rank);
    for (let k = 0; k < rank; k++) for (let c = 0; c < C; c++) u2[k] += s.B2[c * rank + k] * dz2[c];
    for (let k = 0; k < rank; k++) for (let j = 0; j < H; j++) g2[k * H + j] = u2[k] * h[j];
    for (let c = 0; c < C; c++) for (let k = 0; k < rank; k++) g2[rank * H + c * rank + k] = dz2[c] * a2[k];
    // dh = W2ᵀ dz2 + A2ᵀ u2 ; dz1 = dh ⊙ (1 − h²)
    const dz1 = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let v = 0;
      for (let c = 0; c < C; c++) v += W2[c * H + j] * dz2[c];
      for (let k = 0; k < rank; k++) v += s.A2[k * H + j] * u2[k];
      dz1[j] = v * (1 - h[j] * h[j]);
    }
    // layer 1: dA1 = (B1ᵀ dz1) ⊗ x, dB1 = dz1 ⊗ a1
    const u1 = new Float64Array(rank);
    for (let k = 0; k < rank; k++) for (let i = 0; i < H; i++) u1[k] += s.B1[i * rank + k] * dz1[i];
    for (let k = 0; k < rank; k++) for (let j = 0; j < d; j++) g1[k * d + j] = u1[k] * it.x[j];
    for (let i = 0; i < H; i++) for (let k = 0; k < rank; k++) g1[rank * d + i * rank + k] = dz1[i] * a1[k];
    return [g1, g2];
  };
  const views = (s: S) => [
    [s.A1, s.B1],
    [s.A2, s.B2],
  ];
  const fresh = (): S => ({
    A1: A1init.slice(),
    B1: new Float64Array(H * rank),
    A2: A2init.slice(),
    B2: new Float64Array(C * rank),
  });
  const clone = (s: S): S => ({ A1: s.A1.slice(), B1: s.B1.slice(), A2: s.A2.slice(), B2: s.B2.slice() });

  const backend: Backend = {
    description: `MLP written in this bench (not @openledger/model): frozen random ${d}→${H} tanh →${C} network with rank-${rank} LoRA on both layers (${layerDims[0] + layerDims[1]} trainable parameters), full-batch GD, ${epochs} epochs, lr ${lr}`,
    datanet: `synthetic ${C}-class Gaussian mixture, ${d} features, noise σ 1.2`,
    realModel: false,
    classes: C,
    makeData(seed, n) {
      const rr = new Prng(seed);
      return Array.from({ length: n }, (_, i) => {
        const y = i % C;
        return { y, x: Float64Array.from(means[y], (m) => m + rr.gaussian() * 1.2) };
      });
    },
    layerDims,
    train(train) {
      const s = fresh();
      const checkpoints: { state: unknown; lr: number }[] = [];
      for (let e = 1; e <= epochs; e++) {
        const acc = [new Float64Array(layerDims[0]), new Float64Array(layerDims[1])];
        for (const it of train) {
          const g = backward(s, it);
          for (let l = 0; l < 2; l++) for (let j = 0; j < g[l].length; j++) acc[l][j] += g[l][j];
        }
        views(s).forEach((parts, l) => {
          let o = 0;
          for (const p of parts) {
            for (let j = 0; j < p.length; j++) p[j] -= (lr * acc[l][o + j]) / train.length;
            o += p.length;
          }
        });
        if (e % Math.ceil(epochs / 4) === 0 || e === epochs) checkpoints.push({ state: clone(s), lr });
      }
      return { checkpoints };
    },
    grads(state, items) {
      return items.map((it) => backward(state as S, it).map((g) => Float32Array.from(g)));
    },
    logProb(state, items) {
      return Float64Array.from(items, (it) => forward(state as S, it.x).logp[it.y]);
    },
  };
  // Finite-difference check of the hand-written gradient.
  {
    const s = fresh();
    const rr = new Prng(5);
    for (const p of [s.B1, s.B2]) for (let j = 0; j < p.length; j++) p[j] = rr.gaussian() * 0.3;
    const it: Item = { x: Float64Array.from({ length: d }, () => rr.gaussian()), y: 1 };
    const g = backward(s, it);
    let worst = 0;
    views(s).forEach((parts, l) => {
      let o = 0;
      for (const p of parts) {
        for (const j of [0, p.length >> 1, p.length - 1]) {
          const old = p[j];
          p[j] = old + 1e-6;
          const up = -forward(s, it.x).logp[it.y];
          p[j] = old - 1e-6;
          const down = -forward(s, it.x).logp[it.y];
          p[j] = old;
          worst = Math.max(worst, Math.abs((up - down) / 2e-6 - g[l][o + j]));
        }
        o += p.length;
      }
    });
    if (worst > 1e-5) throw new Error(`MLP LoRA gradient fails the finite-difference check (${worst})`);
  }
  return backend;
}

// ---------- @openledger/model: tiny Llama + LoRA ----------
async function llamaBackend(gradLayers: 'module' | 'block'): Promise<Backend> {
  const M = await import('@openledger/model');
  const C = 4;
  const F = 16; // feature tokens 2..17; 1 = separator; labels 18..21
  const L = 6; // feature tokens per row
  const cfg = {
    dim: 32,
    nLayers: 2,
    nHeads: 2,
    nKvHeads: 2,
    ffnDim: 64,
    vocabSize: 24,
    ropeTheta: 10000,
    normEps: 1e-5,
    tiedEmbeddings: false,
    maxSeq: 16,
  };
  const model = M.createModel(cfg, 1);
  // The random base's output head (std 0.02) cannot express confident labels; a base model has a
  // trained head, so scale it to a usable range. The head stays frozen: only LoRA is trained.
  for (let i = 0; i < model.weights.output.length; i++) model.weights.output[i] *= 15;
  const lora = {
    rank: 4,
    alpha: 32,
    targets: ['q', 'v', 'o', 'up', 'down'] as ('q' | 'v' | 'o' | 'up' | 'down')[],
    seed: 1,
  };
  const init = M.createLora(cfg, lora);
  const r = new Prng(3);
  const prefs = Array.from({ length: C }, () =>
    Array.from({ length: F }, () => Math.exp(r.gaussian() * 1.2)),
  );
  const example = (it: Item) => {
    const tokens = [...Array.from(it.x), 1, 18 + it.y];
    return { tokens, lossMask: tokens.map((_, i) => (i === L + 1 ? 1 : 0)) };
  };
  const epochs = Number(process.env.EPOCHS ?? 100);
  const lr = Number(process.env.LR ?? 2e-2);
  const schedule = process.env.LR_SCHEDULE ?? 'cosine';
  // BATCH=0: full batch (deterministic given the subset); otherwise mini-batches of that size.
  const batchEnv = Number(process.env.BATCH ?? 0);
  // Layers as production stores them: one per transformer block (flattenLoraLayer). GRAD_LAYERS=module
  // splits each block into its LoRA factors (A and B per target), the DataInf reference code's
  // per-weight-matrix granularity; on the validation split it was not better (see the README).
  const pieces = init.layers.map((layer) => M.loraLayerLayout(layer));
  const split = (blocks: Float32Array[]): Float32Array[] =>
    gradLayers === 'block'
      ? blocks
      : blocks.flatMap((g, b) => pieces[b].map((p) => g.subarray(p.offset, p.offset + p.length)));
  const layerDims = split(
    M.perExampleLoraGrads(model, init, [example({ x: new Float64Array(L).fill(2), y: 0 })])[0],
  ).map((g) => g.length);
  return {
    description: `@openledger/model tiny Llama (dim 32, 2 layers, vocab 24, random base with a scaled frozen head) + rank-4 LoRA on q,v,o,up,down (${layerDims.reduce((a, b) => a + b, 0)} parameters); LoraTrainer (AdamW lr ${lr}, ${schedule === 'cosine' ? 'cosine decay to 0' : 'constant'}), ${epochs} epochs, batch ${batchEnv > 0 ? batchEnv : 'full'}; gradients from perExampleLoraGrads`,
    datanet: `synthetic ${C}-class token datanet: ${L} feature tokens drawn from a class-specific distribution, then a label token`,
    realModel: true,
    classes: C,
    layerDims,
    makeData(seed, n) {
      const rr = new Prng(seed);
      const draw = (y: number) => {
        const p = prefs[y];
        let u = rr.next() * p.reduce((a, b) => a + b, 0);
        for (let i = 0; i < F; i++) {
          u -= p[i];
          if (u <= 0) return 2 + i;
        }
        return 2 + F - 1;
      };
      return Array.from({ length: n }, (_, i) => {
        const y = i % C;
        return { y, x: Float64Array.from({ length: L }, () => draw(y)) };
      });
    },
    train(train, seed = 0) {
      const ad = M.cloneLora(init);
      const trainer = new M.LoraTrainer(model, ad, { lr, clip: 0, seed: 1 + seed });
      const checkpoints: { state: unknown; lr: number }[] = [];
      const order = Array.from({ length: train.length }, (_, i) => i);
      const rr = new Prng(17 + 1000 * seed);
      const batch = batchEnv > 0 ? batchEnv : train.length;
      const steps = epochs * Math.ceil(train.length / batch);
      let step = 0;
      let lrSum = 0;
      let lrCount = 0;
      for (let e = 1; e <= epochs; e++) {
        for (let i = order.length - 1; i > 0; i--) {
          const j = rr.int(i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        for (let b = 0; b < order.length; b += batch) {
          const eta = schedule === 'cosine' ? M.cosineLr(step / steps, lr, 0) : lr;
          trainer.step(
            order.slice(b, b + batch).map((i) => example(train[i])),
            eta,
          );
          step++;
          lrSum += eta;
          lrCount++;
        }
        if (e % Math.ceil(epochs / 4) === 0 || e === epochs) {
          // TracIn weight: the mean learning rate over the steps since the previous checkpoint.
          checkpoints.push({ state: M.cloneLora(ad), lr: lrSum / lrCount });
          lrSum = 0;
          lrCount = 0;
        }
      }
      return { checkpoints };
    },
    grads(state, items) {
      return M.perExampleLoraGrads(model, state as typeof init, items.map(example)).map(split);
    },
    logProb(state, items) {
      return Float64Array.from(
        items,
        (it) => -M.evalLoss(model, M.makeBatch([example(it)]), state as typeof init),
      );
    },
  };
}

// ---------- attribution through the production path ----------
function gradientSet(
  backend: Backend,
  run: { checkpoints: { state: unknown; lr: number }[] },
  items: readonly Item[],
  projector: RandomProjector,
): GradientSet {
  const D = projector.dims;
  return {
    layerDims: projector.spec.outputDims,
    examples: items.map((_, i) => ({
      rowId: `row-${i}`,
      contributor: `0x${(i % 16).toString(16).padStart(40, '0')}`,
    })),
    checkpoints: run.checkpoints.map((c) => {
      const g = new Float32Array(items.length * D);
      backend.grads(c.state, items).forEach((layers, i) => {
        projector.project(layers, g.subarray(i * D, (i + 1) * D));
      });
      return { lr: c.lr, grads: g };
    }),
    projection: projector.spec,
  };
}

function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const out = new Float64Array(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) out[idx[k]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = ra.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n;
  const mb = rb.reduce((s, x) => s + x, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) ** 2;
    db += (rb[i] - mb) ** 2;
  }
  return da === 0 || db === 0 ? 0 : num / Math.sqrt(da * db);
}

function auc(scores: ArrayLike<number>, positive: readonly boolean[]): number {
  const r = ranks(scores);
  let sumPos = 0;
  let nPos = 0;
  for (let i = 0; i < positive.length; i++) {
    if (positive[i]) {
      sumPos += r[i] + 1;
      nPos++;
    }
  }
  const nNeg = positive.length - nPos;
  return (sumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

interface Variant {
  label: string;
  method: InfluenceMethod;
}

async function main() {
  const modelKind = process.env.MODEL ?? 'llama';
  const M = Number(process.env.LDS_SUBSETS ?? 50);
  const mVal = Number(process.env.VAL_SUBSETS ?? 20);
  const nTrain = Number(process.env.TRAIN_ROWS ?? 400);
  const gradLayers = (process.env.GRAD_LAYERS ?? 'block') as 'module' | 'block';
  if (gradLayers !== 'module' && gradLayers !== 'block')
    throw new Error(`GRAD_LAYERS must be module or block, got ${gradLayers}`);
  const nTest = Number(process.env.TEST_ROWS ?? 160);
  const nVal = 40;
  const t0 = performance.now();
  let backend: Backend;
  let note = '';
  if (modelKind === 'llama') {
    try {
      backend = await llamaBackend(gradLayers);
    } catch (e) {
      note = `@openledger/model unavailable (${(e as Error).message}); fell back to the bench's own MLP`;
      console.log(`NOTE: ${note}`);
      backend = mlpBackend(16, 32, 4, 4, 150, 0.5);
    }
  } else if (modelKind === 'mlp') {
    backend = mlpBackend(16, 32, 4, 4, 150, 0.5);
  } else {
    throw new Error(`MODEL must be llama or mlp, got ${modelKind}`);
  }
  const C = backend.classes;
  // Three disjoint draws of the datanet: training rows, the LDS test split, and a validation split
  // (its own test rows and its own retraining subsets) on which the DataInf variant is chosen.
  const train = backend.makeData(11, nTrain);
  const test = backend.makeData(12, nTest);
  const val = backend.makeData(13, nVal);
  // The production budget: 1,024 float32 dims (4 KB) per example, split evenly over layers.
  const totalDims = Number(process.env.PROJ_DIMS ?? 1024);
  const projector = new RandomProjector({
    seed: 1,
    kind: 'rademacher',
    inputDims: backend.layerDims,
    outputDims: projectionDims(backend.layerDims, Math.min(totalDims, sum(backend.layerDims))),
  });
  const D = projector.dims;

  // DataInf variants compared on the validation split only. λ rules: the paper's
  // λ_l = 0.1 · (n d_l)⁻¹ Σ_i ‖g_{i,l}‖² (perEntry) and the package default 0.1 · n⁻¹ Σ_i ‖g_{i,l}‖²;
  // inverse: DataInf's closed form or the exact damped per-layer inverse.
  const candidates: Variant[] = [
    { label: 'datainf, λ paper (0.1·mean‖g‖²/d_l)', method: dataInf({ perEntry: true }) },
    { label: 'datainf, λ 0.1·mean‖g‖²', method: dataInf() },
    { label: 'exact inverse, λ paper', method: dataInf({ perEntry: true, inverse: 'exact' }) },
    { label: 'exact inverse, λ 0.1·mean‖g‖²', method: dataInf({ inverse: 'exact' }) },
  ];
  const baselines: Variant[] = [
    { label: 'grad-dot', method: gradDot() },
    { label: 'tracin', method: tracIn() },
  ];

  const full = backend.train(train);
  const finalState = full.checkpoints.at(-1)!.state;
  const trainSet = gradientSet(backend, full, train, projector);
  const meanOf = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;
  const trainLogProb = meanOf(backend.logProb(finalState, train));
  const testLogProbs = backend.logProb(finalState, test);
  const accuracy = (state: unknown, items: readonly Item[]) =>
    meanOf(backend.logProb(state, items).map((lp) => (lp > Math.log(0.5) ? 1 : 0)));

  /** LDS of each variant on `points`, with `m` retrains on random half-subsets drawn from `seed`. */
  const lds = (
    points: readonly Item[],
    m: number,
    seed: number,
    variants: readonly Variant[],
    withCeiling = false,
  ) => {
    const set = gradientSet(backend, full, points, projector);
    const tau = variants.map((v) =>
      points.map((_, z) =>
        v.method.scores(
          trainSet,
          set.checkpoints.map((c) => c.grads.subarray(z * D, (z + 1) * D)),
        ),
      ),
    );
    const r = new Prng(seed);
    const actual: Float64Array[] = [];
    const predicted: Float64Array[][] = variants.map(() => []);
    const subsetLogProb: number[] = [];
    const reseeded: Float64Array[] = [];
    for (let k = 0; k < m; k++) {
      const perm = Array.from({ length: nTrain }, (_, i) => i);
      for (let i = nTrain - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const subset = perm.slice(0, nTrain / 2);
      const run = backend.train(subset.map((i) => train[i]));
      const state = run.checkpoints.at(-1)!.state;
      actual.push(backend.logProb(state, points));
      if (withCeiling && k < 10) {
        // The first 10 subsets trained again with another seed (data order): how far the outputs
        // themselves are reproducible bounds what any attribution can reach.
        const again = backend.train(
          subset.map((i) => train[i]),
          1,
        );
        reseeded.push(backend.logProb(again.checkpoints.at(-1)!.state, points));
      }
      subsetLogProb.push(
        meanOf(
          backend.logProb(
            state,
            subset.map((i) => train[i]),
          ),
        ),
      );
      variants.forEach((_, v) => {
        predicted[v].push(Float64Array.from(points, (_, z) => subset.reduce((s, i) => s + tau[v][z][i], 0)));
      });
    }
    const perPoint = variants.map((_, v) =>
      points.map((_, z) =>
        spearman(
          actual.map((a) => a[z]),
          predicted[v].map((p) => p[z]),
        ),
      ),
    );
    const scores = perPoint.map((p) => meanOf(p));
    let ceiling = Number.NaN;
    if (withCeiling) {
      ceiling = 0;
      for (let z = 0; z < points.length; z++) {
        ceiling += spearman(
          actual.slice(0, reseeded.length).map((a) => a[z]),
          reseeded.map((a) => a[z]),
        );
      }
      ceiling /= points.length;
    }
    return { scores, perPoint, subsetTrainLogProb: meanOf(subsetLogProb), ceiling };
  };

  // 1. Validation: choose the DataInf variant.
  const valRun = lds(val, mVal, 98, [...candidates, ...baselines], true);
  const valLds = valRun.scores;
  let best = 0;
  for (let v = 1; v < candidates.length; v++) if (valLds[v] > valLds[best]) best = v;
  const chosen = candidates[best];
  // 2. Test: LDS of every method with M fresh subsets on the held-out test rows.
  const reported: Variant[] = [{ label: 'datainf', method: chosen.method }, ...baselines];
  const others = candidates.filter((_, v) => v !== best);
  const testRun = lds(test, M, 99, [...reported, ...others]);
  const testLds = testRun.scores;
  // Standard errors over test rows (the LDS is a mean of per-row correlations): of each method's
  // LDS, and of the paired difference DataInf − gradient-dot.
  const stderr = (x: readonly number[]) => {
    const m = meanOf(x);
    return Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1) / x.length);
  };
  const testSe = testRun.perPoint.map(stderr);
  const diffSe = stderr(testRun.perPoint[0].map((x, z) => x - testRun.perPoint[1][z]));

  // 3. Mislabel detection: flip a fraction of the training labels, retrain, rank training rows
  //    (a) by self-influence g_kᵀ H⁻¹ g_k (DataInf), ‖g_k‖² (grad-dot), Σ_c η_c ‖g_k^{(c)}‖² (TracIn);
  //    (b) as in the DataInf paper, by harm to the clean validation rows: −I(k) on their mean loss gradient.
  const top = Math.round(0.1 * nTrain);
  const rank = (score: ArrayLike<number>, flipped: boolean[], nFlip: number) => {
    const order = Array.from({ length: nTrain }, (_, i) => i).sort((x, y) => score[y] - score[x]);
    return {
      recall: order.slice(0, top).filter((i) => flipped[i]).length / Math.min(nFlip, top),
      auc: auc(score, flipped),
    };
  };
  const mislabelAt = (flipFrac: number) => {
    const fr = new Prng(Math.round(flipFrac * 1000));
    const flipped = new Array<boolean>(nTrain).fill(false);
    const noisy = train.map((it) => ({ ...it }));
    const perm = Array.from({ length: nTrain }, (_, i) => i);
    for (let i = nTrain - 1; i > 0; i--) {
      const j = fr.int(i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const flipIdx = perm.slice(0, Math.round(flipFrac * nTrain));
    for (const i of flipIdx) {
      noisy[i].y = (noisy[i].y + 1 + fr.int(C - 1)) % C;
      flipped[i] = true;
    }
    const noisyRun = backend.train(noisy);
    const noisySet = gradientSet(backend, noisyRun, noisy, projector);
    const valSet = gradientSet(backend, noisyRun, val, projector);
    const valMean = valSet.checkpoints.map((c) => {
      const m = new Float32Array(D);
      for (let z = 0; z < nVal; z++) for (let j = 0; j < D; j++) m[j] += c.grads[z * D + j] / nVal;
      return m;
    });
    return reported.map((v) => {
      const self = rank(v.method.selfInfluence(noisySet), flipped, flipIdx.length);
      const harm = rank(
        v.method.scores(noisySet, valMean).map((x) => -x),
        flipped,
        flipIdx.length,
      );
      return { self, harm };
    });
  };
  const mislabel = mislabelAt(0.05);
  const mislabel10 = mislabelAt(0.1);
  const seconds = (performance.now() - t0) / 1000;

  const r3 = (x: number) => +x.toFixed(3);
  const r4 = (x: number) => +x.toFixed(4);
  const result = {
    name: 'attribution-quality',
    model: backend.realModel ? 'llama' : 'mlp',
    model_description: backend.description,
    real_model_package: backend.realModel,
    ...(note ? { note } : {}),
    train_examples: nTrain,
    test_examples: nTest,
    validation_examples: nVal,
    lds_subsets: M,
    validation_subsets: mVal,
    grad_layers: gradLayers,
    gradient_layers: backend.layerDims.length,
    projected_dims: D,
    train_mean_log_prob: r4(trainLogProb),
    validation_mean_log_prob: r4(meanOf(backend.logProb(finalState, val))),
    test_mean_log_prob: r4(meanOf(testLogProbs)),
    test_share_p_over_half: r3(accuracy(finalState, test)),
    half_subset_train_mean_log_prob: r4(testRun.subsetTrainLogProb),
    datainf_variant: chosen.label,
    seed_to_seed_spearman: r4(valRun.ceiling),
    validation_lds: Object.fromEntries([...candidates, ...baselines].map((v, k) => [v.label, r4(valLds[k])])),
    lds_datainf: r4(testLds[0]),
    lds_grad_dot: r4(testLds[1]),
    lds_tracin: r4(testLds[2]),
    lds_stderr_datainf: r4(testSe[0]),
    lds_stderr_grad_dot: r4(testSe[1]),
    lds_stderr_tracin: r4(testSe[2]),
    lds_datainf_minus_grad_dot: r4(testLds[0] - testLds[1]),
    lds_datainf_minus_grad_dot_stderr: r4(diffSe),
    lds_datainf_over_grad_dot: +(testLds[0] / testLds[1]).toFixed(2),
    lds_target_ratio: 2,
    lds_other_datainf_variants: Object.fromEntries(others.map((v, k) => [v.label, r4(testLds[3 + k])])),
    flipped_fraction: 0.05,
    flipped_rows: Math.round(0.05 * nTrain),
    mislabel_recall_top10_datainf: r3(mislabel[0].self.recall),
    mislabel_recall_top10_grad_dot: r3(mislabel[1].self.recall),
    mislabel_recall_top10_tracin: r3(mislabel[2].self.recall),
    mislabel_auc_datainf: r3(mislabel[0].self.auc),
    mislabel_auc_grad_dot: r3(mislabel[1].self.auc),
    mislabel_auc_tracin: r3(mislabel[2].self.auc),
    mislabel_valharm_recall_top10_datainf: r3(mislabel[0].harm.recall),
    mislabel_valharm_recall_top10_grad_dot: r3(mislabel[1].harm.recall),
    mislabel_valharm_recall_top10_tracin: r3(mislabel[2].harm.recall),
    mislabel_valharm_auc_datainf: r3(mislabel[0].harm.auc),
    mislabel_valharm_auc_grad_dot: r3(mislabel[1].harm.auc),
    mislabel_valharm_auc_tracin: r3(mislabel[2].harm.auc),
    mislabel_recall_target: 0.8,
    flipped10_recall_top10_datainf: r3(mislabel10[0].self.recall),
    flipped10_recall_top10_grad_dot: r3(mislabel10[1].self.recall),
    flipped10_recall_top10_tracin: r3(mislabel10[2].self.recall),
    flipped10_auc_datainf: r3(mislabel10[0].self.auc),
    flipped10_auc_grad_dot: r3(mislabel10[1].self.auc),
    flipped10_auc_tracin: r3(mislabel10[2].self.auc),
    seconds: +seconds.toFixed(1),
  };
  console.log(`model: ${backend.description}`);
  console.log(
    `datanet: ${backend.datanet}; ${nTrain} train / ${nTest} test / ${nVal} validation rows; full model: train log p ${result.train_mean_log_prob}, validation log p ${result.validation_mean_log_prob}, test log p ${result.test_mean_log_prob}, share of test rows with p(label) > 0.5: ${result.test_share_p_over_half}; half-subset models: train log p ${result.half_subset_train_mean_log_prob}`,
  );
  console.log(
    `gradients: ${backend.layerDims.length} layers (${gradLayers === 'module' ? 'one per LoRA factor' : 'one per transformer block'}), projected to ${D} dims (Rademacher, per layer), ${full.checkpoints.length} checkpoints for TracIn\n`,
  );
  console.log(
    `validation split (${nVal} rows, ${mVal} subsets) — LDS used to choose the DataInf variant; 10 of its subsets retrained with another seed give Spearman ${result.seed_to_seed_spearman} (a ceiling for LDS):`,
  );
  [...candidates, ...baselines].forEach((v, k) => {
    console.log(
      `  ${v.label.padEnd(40)} ${valLds[k].toFixed(4).padStart(8)}${k === best ? '  ← chosen' : ''}`,
    );
  });
  console.log(
    `\ntest split (${nTest} rows, ${M} subsets); mislabel: rank by self-influence (self) or by harm to the clean validation rows (val)`,
  );
  console.log(
    `                        ${String(result.flipped_rows).padStart(2)} labels flipped (5%)                       ${Math.round(0.1 * nTrain)} flipped (10%)`,
  );
  console.log(
    'method     LDS ± s.e.   recall@10% self  AUC self  recall@10% val  AUC val  recall@10% self  AUC self',
  );
  reported.forEach((v, k) => {
    const f = (x: number, w = 10) => x.toFixed(3).padStart(w);
    const a = mislabel[k];
    const b = mislabel10[k];
    console.log(
      `${v.label.padEnd(10)} ${testLds[k].toFixed(4).padStart(8)} ±${testSe[k].toFixed(3)} ${f(a.self.recall, 10)} ${f(a.self.auc)} ${f(a.harm.recall, 15)} ${f(a.harm.auc, 8)} ${f(b.self.recall, 16)} ${f(b.self.auc, 9)}`,
    );
  });
  others.forEach((v, k) => {
    console.log(`  (not chosen) ${v.label}: LDS ${testLds[3 + k].toFixed(4)}`);
  });
  console.log(
    `\nDataInf (${chosen.label}) LDS / gradient-dot LDS = ${result.lds_datainf_over_grad_dot} (target ≥ 2; paired difference ${result.lds_datainf_minus_grad_dot} ± ${result.lds_datainf_minus_grad_dot_stderr} s.e.); recall target ≥ 0.8`,
  );
  const line = JSON.stringify(result);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results/attribution-quality.json'), `${line}\n`);
  console.log(`BENCH ${line}`);
}

function sum(v: readonly number[]): number {
  return v.reduce((a, b) => a + b, 0);
}

await main();
