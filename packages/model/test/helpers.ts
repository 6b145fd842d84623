import type { LlamaConfig } from '../src/config.ts';
import type { Batch } from '../src/model.ts';
import { Rng } from '../src/rng.ts';

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    dim: 16,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    ffnDim: 24,
    vocabSize: 23,
    ropeTheta: 10000,
    normEps: 1e-5,
    tiedEmbeddings: false,
    maxSeq: 32,
    ...over,
  };
}

export function randomBatch(vocab: number, B: number, T: number, seed = 3): Batch {
  const rng = new Rng(seed);
  const tokens = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let i = 0; i < B * T; i++) {
    tokens[i] = rng.int(vocab);
    targets[i] = rng.int(vocab);
  }
  return { tokens, targets, B, T };
}

/** Multiplies every weight by `factor` so activations and gradients are not tiny (better FD signal). */
export function scaleArray(a: Float32Array, factor: number): void {
  for (let i = 0; i < a.length; i++) a[i] *= factor;
}

/** Central-difference directional derivative of f along a random unit direction u of p. */
export function directional(p: Float32Array, g: Float32Array, f: () => number, eps: number, seed: number) {
  const rng = new Rng(seed);
  const u = new Float64Array(p.length);
  let norm = 0;
  for (let i = 0; i < u.length; i++) {
    u[i] = rng.normal();
    norm += u[i] * u[i];
  }
  norm = Math.sqrt(norm);
  let analytic = 0;
  for (let i = 0; i < u.length; i++) {
    u[i] /= norm;
    analytic += u[i] * g[i];
  }
  const orig = p.slice();
  for (let i = 0; i < p.length; i++) p[i] = orig[i] + eps * u[i];
  const lp = f();
  for (let i = 0; i < p.length; i++) p[i] = orig[i] - eps * u[i];
  const lm = f();
  p.set(orig);
  return { analytic, numeric: (lp - lm) / (2 * eps) };
}
