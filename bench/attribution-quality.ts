/**
 * npm run bench:attribution-quality — does gradient attribution find the data that matters?
 *
 *  - Linear Datamodeling Score (LDS, Park et al. 2023): train on the full training set, score every
 *    (test, train) pair with DataInf, gradient-dot and TracIn; then retrain on M ≥ 50 random
 *    half-subsets S_m. For each test example z, LDS(z) is the Spearman correlation over m between
 *    the retrained model's log-probability of z's label and the predicted Σ_{i∈S_m} τ(z, i).
 *    Reported: mean over test examples. Target: DataInf ≥ 2× gradient-dot.
 *  - Mislabel detection: flip 5% (and, for reference, 10%) of training labels, train, rank examples by self-influence;
 *    recall of the flipped examples in the top 10%, and the ROC AUC. Target: recall ≥ 0.8.
 *
 * Model (stated in the output): MODEL=mlp (default) is a classifier written here — a frozen random
 * two-layer tanh network whose two weight matrices carry rank-4 LoRA adapters (W + B·A), trained by
 * full-batch gradient descent, with hand-written per-example LoRA gradients (checked against finite
 * differences at start-up) — on a synthetic classification datanet (Gaussian mixture, 4 classes).
 * Gradients go through the production path: RandomProjector → GradientSet → InfluenceMethod.
 * MODEL=llama uses @openledger/model (tiny Llama + LoRA, LoraTrainer, perExampleLoraGrads) instead.
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
  train(train: readonly Item[]): { checkpoints: { state: unknown; lr: number }[] };
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
async function llamaBackend(): Promise<Backend> {
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
  const epochs = 20;
  const lr = 2e-2;
  const batch = 20;
  const layerDims = M.perExampleLoraGrads(model, init, [
    example({ x: new Float64Array(L).fill(2), y: 0 }),
  ])[0].map((g) => g.length);
  return {
    description: `@openledger/model tiny Llama (dim 32, 2 layers, vocab 24, random base with a scaled frozen head) + rank-4 LoRA on q,v,o,up,down (${layerDims.reduce((a, b) => a + b, 0)} parameters); LoraTrainer (AdamW lr ${lr}), ${epochs} epochs, batch ${batch}; gradients from perExampleLoraGrads`,
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
    train(train) {
      const ad = M.cloneLora(init);
      const trainer = new M.LoraTrainer(model, ad, { lr, clip: 0, seed: 1 });
      const checkpoints: { state: unknown; lr: number }[] = [];
      const order = Array.from({ length: train.length }, (_, i) => i);
      const rr = new Prng(17);
      for (let e = 1; e <= epochs; e++) {
        for (let i = order.length - 1; i > 0; i--) {
          const j = rr.int(i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        for (let b = 0; b < order.length; b += batch)
          trainer.step(order.slice(b, b + batch).map((i) => example(train[i])));
        if (e % Math.ceil(epochs / 4) === 0 || e === epochs) checkpoints.push({ state: M.cloneLora(ad), lr });
      }
      return { checkpoints };
    },
    grads(state, items) {
      return M.perExampleLoraGrads(model, state as typeof init, items.map(example));
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

async function main() {
  const modelKind = process.env.MODEL ?? 'llama';
  const M = Number(process.env.LDS_SUBSETS ?? 50);
  const nTrain = Number(process.env.TRAIN_ROWS ?? 120);
  const nTest = 40;
  const t0 = performance.now();
  let backend: Backend;
  let note = '';
  if (modelKind === 'llama') {
    try {
      backend = await llamaBackend();
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
  const train = backend.makeData(11, nTrain);
  const test = backend.makeData(12, nTest);
  const totalDims = 256;
  const projector = new RandomProjector({
    seed: 1,
    kind: 'rademacher',
    inputDims: backend.layerDims,
    outputDims: projectionDims(backend.layerDims, totalDims),
  });
  const methods: InfluenceMethod[] = [dataInf(), gradDot(), tracIn()];

  // Full training run, attribution scores τ[method][test][train].
  const full = backend.train(train);
  const trainSet = gradientSet(backend, full, train, projector);
  const testSet = gradientSet(backend, full, test, projector);
  const D = projector.dims;
  const tau = methods.map((m) =>
    test.map((_, z) =>
      m.scores(
        trainSet,
        testSet.checkpoints.map((c) => c.grads.subarray(z * D, (z + 1) * D)),
      ),
    ),
  );
  const accFull = backend.logProb(full.checkpoints.at(-1)!.state, test);

  // Retrain on M random half-subsets.
  const r = new Prng(99);
  const actual: Float64Array[] = []; // [m] → per test log-prob
  const predicted: Float64Array[][] = methods.map(() => []); // [method][m] → per test Σ τ
  for (let m = 0; m < M; m++) {
    const perm = Array.from({ length: nTrain }, (_, i) => i);
    for (let i = nTrain - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const subset = perm.slice(0, nTrain / 2);
    const run = backend.train(subset.map((i) => train[i]));
    actual.push(backend.logProb(run.checkpoints.at(-1)!.state, test));
    methods.forEach((_, k) => {
      predicted[k].push(Float64Array.from(test, (_, z) => subset.reduce((s, i) => s + tau[k][z][i], 0)));
    });
  }
  const lds = methods.map((_, k) => {
    let s = 0;
    for (let z = 0; z < nTest; z++) {
      s += spearman(
        actual.map((a) => a[z]),
        predicted[k].map((p) => p[z]),
      );
    }
    return s / nTest;
  });

  // Mislabel detection: flip 5% and 10% of labels; rank by self-influence; recall in the top 10%.
  const top = Math.round(0.1 * nTrain);
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
    return methods.map((m) => {
      const self = m.selfInfluence(noisySet);
      const order = Array.from({ length: nTrain }, (_, i) => i).sort((x, y) => self[y] - self[x]);
      const found = order.slice(0, top).filter((i) => flipped[i]).length;
      return { recall: found / flipIdx.length, auc: auc(self, flipped) };
    });
  };
  const mislabel = mislabelAt(0.05);
  const mislabel10 = mislabelAt(0.1);
  const seconds = (performance.now() - t0) / 1000;

  const meanLogProb = accFull.reduce((s, x) => s + x, 0) / nTest;
  const result = {
    name: 'attribution-quality',
    model: backend.realModel ? 'llama' : 'mlp',
    model_description: backend.description,
    real_model_package: backend.realModel,
    ...(note ? { note } : {}),
    train_examples: nTrain,
    test_examples: nTest,
    lds_subsets: M,
    projected_dims: D,
    test_mean_log_prob: +meanLogProb.toFixed(4),
    lds_datainf: +lds[0].toFixed(4),
    lds_grad_dot: +lds[1].toFixed(4),
    lds_tracin: +lds[2].toFixed(4),
    lds_datainf_over_grad_dot: +(lds[0] / lds[1]).toFixed(2),
    lds_target_ratio: 2,
    flipped_fraction: 0.05,
    mislabel_recall_top10_datainf: +mislabel[0].recall.toFixed(3),
    mislabel_recall_top10_grad_dot: +mislabel[1].recall.toFixed(3),
    mislabel_recall_top10_tracin: +mislabel[2].recall.toFixed(3),
    mislabel_auc_datainf: +mislabel[0].auc.toFixed(3),
    mislabel_auc_grad_dot: +mislabel[1].auc.toFixed(3),
    mislabel_auc_tracin: +mislabel[2].auc.toFixed(3),
    mislabel_recall_target: 0.8,
    flipped10_recall_top10_datainf: +mislabel10[0].recall.toFixed(3),
    flipped10_recall_top10_grad_dot: +mislabel10[1].recall.toFixed(3),
    flipped10_recall_top10_tracin: +mislabel10[2].recall.toFixed(3),
    flipped10_auc_datainf: +mislabel10[0].auc.toFixed(3),
    flipped10_auc_grad_dot: +mislabel10[1].auc.toFixed(3),
    flipped10_auc_tracin: +mislabel10[2].auc.toFixed(3),
    seconds: +seconds.toFixed(1),
  };
  console.log(`model: ${backend.description}`);
  console.log(`datanet: ${backend.datanet}; ${nTrain} train / ${nTest} test rows`);
  console.log(
    `gradients: projected to ${D} dims (Rademacher), ${full.checkpoints.length} checkpoints for TracIn\n`,
  );
  console.log('                        5% labels flipped         10% labels flipped');
  console.log(`method      LDS (M=${M})  recall@10%        AUC  recall@10%        AUC`);
  methods.forEach((m, k) => {
    const f = (x: number) => x.toFixed(3).padStart(10);
    console.log(
      `${m.name.padEnd(10)}  ${lds[k].toFixed(4).padStart(10)}  ${f(mislabel[k].recall)} ${f(mislabel[k].auc)}  ${f(mislabel10[k].recall)} ${f(mislabel10[k].auc)}`,
    );
  });
  console.log(
    `\nDataInf LDS / gradient-dot LDS = ${result.lds_datainf_over_grad_dot} (target ≥ 2); recall target ≥ 0.8`,
  );
  const line = JSON.stringify(result);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results/attribution-quality.json'), `${line}\n`);
  console.log(`BENCH ${line}`);
}

await main();
