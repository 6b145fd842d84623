import { AttributionError } from './errors.ts';
import { hashString, Prng } from './prng.ts';

/**
 * Random projection of per-layer gradients (TRAK / LoGra style). Layer l's gradient g_l ∈ R^{d_l}
 * becomes P_l g_l ∈ R^{k_l}, where P_l has i.i.d. entries, Rademacher ±1/√k_l or Gaussian
 * N(0, 1/k_l), drawn from a PRNG seeded by (seed, layer). E[⟨P x, P y⟩] = ⟨x, y⟩ and, by
 * Johnson–Lindenstrauss, inner products are preserved within ~‖x‖‖y‖·O(1/√k_l) with high probability.
 *
 * Size budget: at most 4 KB per example and checkpoint, e.g. 1024 float32 dims or 2048 float16
 * dims in total across layers (`projectionDims` splits a budget evenly over layers).
 *
 * The matrices are generated once per projector and cached (k_l × d_l float32); anyone with the
 * seed regenerates the same matrices, which is what makes receipts recomputable.
 */
export type ProjectionKind = 'rademacher' | 'gaussian';

export interface ProjectionSpec {
  seed: number;
  kind: ProjectionKind;
  /** Gradient size d_l of each layer (parameters of that layer's LoRA factors). */
  inputDims: number[];
  /** Projected size k_l of each layer. */
  outputDims: number[];
}

/** Splits `totalDims` projected dimensions evenly over layers (earlier layers get the remainder). */
export function projectionDims(inputDims: readonly number[], totalDims: number): number[] {
  const L = inputDims.length;
  if (L === 0 || totalDims < L) {
    throw new AttributionError(
      'INVALID_PARAM',
      `totalDims must be ≥ number of layers (${L}), got ${totalDims}`,
    );
  }
  return inputDims.map((d, l) => Math.min(d, Math.floor(totalDims / L) + (l < totalDims % L ? 1 : 0)));
}

export class RandomProjector {
  readonly spec: ProjectionSpec;
  private readonly matrices: (Float32Array | null)[];

  constructor(spec: ProjectionSpec) {
    if (spec.inputDims.length !== spec.outputDims.length || spec.inputDims.length === 0) {
      throw new AttributionError(
        'INVALID_PARAM',
        'projection inputDims and outputDims must be non-empty and equal length',
      );
    }
    spec.outputDims.forEach((k, l) => {
      if (!Number.isInteger(k) || k < 1)
        throw new AttributionError('INVALID_PARAM', `outputDims[${l}] must be ≥ 1`);
      if (!Number.isInteger(spec.inputDims[l]) || spec.inputDims[l] < 1) {
        throw new AttributionError('INVALID_PARAM', `inputDims[${l}] must be ≥ 1`);
      }
    });
    if (spec.kind !== 'rademacher' && spec.kind !== 'gaussian') {
      throw new AttributionError(
        'INVALID_PARAM',
        `projection kind must be rademacher or gaussian, got ${spec.kind}`,
      );
    }
    this.spec = { ...spec, inputDims: [...spec.inputDims], outputDims: [...spec.outputDims] };
    this.matrices = spec.inputDims.map(() => null);
  }

  /** Total projected dimension D = Σ k_l. */
  get dims(): number {
    return this.spec.outputDims.reduce((a, b) => a + b, 0);
  }

  /** P_l, row-major k_l × d_l. */
  matrix(l: number): Float32Array {
    let P = this.matrices[l];
    if (!P) {
      const d = this.spec.inputDims[l];
      const k = this.spec.outputDims[l];
      P = new Float32Array(k * d);
      const prng = new Prng(hashString(`openledger-projection:${this.spec.seed}:${l}`));
      const s = 1 / Math.sqrt(k);
      if (this.spec.kind === 'rademacher') {
        for (let i = 0; i < P.length; i += 32) {
          const bits = prng.nextU32();
          const end = Math.min(32, P.length - i);
          for (let b = 0; b < end; b++) P[i + b] = (bits >>> b) & 1 ? s : -s;
        }
      } else {
        for (let i = 0; i < P.length; i++) P[i] = prng.gaussian() * s;
      }
      this.matrices[l] = P;
    }
    return P;
  }

  /**
   * Projects one example: `layers[l]` is the gradient of layer l (length d_l); writes the D
   * projected values, layer after layer, into `out` (allocated if omitted).
   */
  project(layers: readonly Float32Array[], out = new Float32Array(this.dims)): Float32Array {
    if (layers.length !== this.spec.inputDims.length) {
      throw new AttributionError(
        'INVALID_GRADIENT',
        `expected ${this.spec.inputDims.length} layers, got ${layers.length}`,
      );
    }
    let o = 0;
    for (let l = 0; l < layers.length; l++) {
      const g = layers[l];
      const d = this.spec.inputDims[l];
      const k = this.spec.outputDims[l];
      if (g.length !== d)
        throw new AttributionError(
          'INVALID_GRADIENT',
          `layer ${l} gradient has ${g.length} values, expected ${d}`,
        );
      const P = this.matrix(l);
      for (let r = 0; r < k; r++) {
        let acc = 0;
        const row = r * d;
        for (let j = 0; j < d; j++) acc += P[row + j] * g[j];
        out[o + r] = acc;
      }
      o += k;
    }
    return out;
  }
}
