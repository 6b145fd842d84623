import { getKernels } from '@openledger/tensor';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

/**
 * AdamW over a fixed list of parameter arrays (PyTorch semantics, via the tensor kernel). Arrays whose
 * `decay` flag is false (norm weights) get no weight decay.
 */
export class AdamW {
  readonly params: { p: Float32Array; decay: boolean }[];
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;
  readonly opts: Required<AdamWOptions>;

  constructor(params: { p: Float32Array; decay: boolean }[], opts: AdamWOptions) {
    this.params = params;
    this.m = params.map(({ p }) => new Float32Array(p.length));
    this.v = params.map(({ p }) => new Float32Array(p.length));
    this.opts = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, ...opts };
  }

  get stepCount(): number {
    return this.t;
  }

  /** Moments and step count, for a checkpoint that resumes exactly. */
  exportState(): AdamWState {
    return { step: this.t, m: this.m.map((a) => a.slice()), v: this.v.map((a) => a.slice()) };
  }

  /** Restores what exportState returned (same parameter list). */
  importState(state: AdamWState): void {
    if (state.m.length !== this.m.length || state.v.length !== this.v.length) {
      throw new Error(`optimizer state has ${state.m.length} tensors, expected ${this.m.length}`);
    }
    for (let i = 0; i < state.m.length; i++) {
      this.m[i].set(state.m[i]);
      this.v[i].set(state.v[i]);
    }
    this.t = state.step;
  }

  /** One update with gradients aligned to `params`; `lr` overrides the configured rate (schedules). */
  step(grads: Float32Array[], lr = this.opts.lr): void {
    const K = getKernels();
    this.t++;
    const o = this.opts;
    this.params.forEach(({ p, decay }, i) => {
      K.adamw(
        p,
        grads[i],
        this.m[i],
        this.v[i],
        p.length,
        lr,
        o.beta1,
        o.beta2,
        o.eps,
        decay ? o.weightDecay : 0,
        this.t,
      );
    });
  }
}

/** Scales gradients in place so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(grads: Float32Array[], maxNorm: number): number {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
  const norm = Math.sqrt(ss);
  if (norm > maxNorm && norm > 0) {
    const s = maxNorm / norm;
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= s;
  }
  return norm;
}

/** Cosine decay from lr (progress 0) to minLr (progress 1). */
export function cosineLr(progress: number, lr: number, minLr: number): number {
  const t = Math.min(1, Math.max(0, progress));
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
}
