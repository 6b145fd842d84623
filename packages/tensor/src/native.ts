// Native backend: Node-API addon (native/tensor.c) over OpenBLAS, built by node-gyp at install.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { positionsFrom } from './js.ts';
import type { Kernels, LoraMatrix } from './types.ts';

interface Addon {
  sgemm: Kernels['sgemm'];
  sgemmStridedBatched: Kernels['sgemmStridedBatched'];
  softmaxRows: Kernels['softmaxRows'];
  rmsnorm(
    out: Float32Array,
    x: Float32Array,
    w: Float32Array,
    rows: number,
    dim: number,
    eps: number,
    inv: Float32Array,
  ): void;
  ropeAt: Kernels['ropeAt'];
  silu: Kernels['silu'];
  swiglu: Kernels['swiglu'];
  crossEntropy: Kernels['crossEntropy'];
  adamw: Kernels['adamw'];
  softmaxRowsBackward: Kernels['softmaxRowsBackward'];
  rmsnormBackward: Kernels['rmsnormBackward'];
  swigluBackward: Kernels['swigluBackward'];
  attentionCached: Kernels['attentionCached'];
  loraSegmented(
    y: Float32Array,
    x: Float32Array,
    inDim: number,
    outDim: number,
    bounds: Int32Array,
    ranks: Int32Array,
    scales: Float32Array,
    mats: LoraMatrix[],
    count: number,
  ): void;
  sampleRows: Kernels['sampleRows'];
  setThreads(n: number): void;
  getThreads(): number;
  config(): string;
}

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const addonPath = join(packageRoot, 'build', 'Release', 'tensor_native.node');

let addon: Addon | null = null;

export function loadAddon(): Addon {
  if (addon) return addon;
  if (!existsSync(addonPath)) {
    throw new Error(
      `native addon not built (${addonPath}); run \`npm run build:native -w @openledger/tensor\``,
    );
  }
  addon = createRequire(import.meta.url)(addonPath) as Addon;
  return addon;
}

export interface NativeKernels extends Kernels {
  setThreads(n: number): void;
  getThreads(): number;
  blasConfig(): string;
}

export function createNativeKernels(): NativeKernels {
  const n = loadAddon();
  // segment descriptors flattened for one native call (grown as needed, reused)
  let bounds = new Int32Array(64);
  let ranks = new Int32Array(32);
  let scales = new Float32Array(32);
  const mats: LoraMatrix[] = [];
  return {
    backend: 'native',
    sgemm: n.sgemm,
    sgemmStridedBatched: n.sgemmStridedBatched,
    softmaxRows: n.softmaxRows,
    rmsnorm(out, x, weight, rows, dim, eps, invRmsOut) {
      const inv = invRmsOut ?? new Float32Array(rows);
      n.rmsnorm(out, x, weight, rows, dim, eps, inv);
      return inv;
    },
    rope(x, seq, heads, headDim, posOffset, theta) {
      n.ropeAt(x, positionsFrom(seq, posOffset), heads, headDim, theta, false);
    },
    ropeAt: n.ropeAt,
    silu: n.silu,
    swiglu: n.swiglu,
    crossEntropy: (logits, targets, rows, vocab, dlogits) =>
      n.crossEntropy(logits, targets, rows, vocab, dlogits),
    adamw: n.adamw,
    loraSegmented(y, x, _rows, inDim, outDim, segments) {
      const count = segments.length;
      if (count === 0) return;
      if (ranks.length < count) {
        bounds = new Int32Array(4 * count);
        ranks = new Int32Array(2 * count);
        scales = new Float32Array(2 * count);
      }
      mats.length = 2 * count;
      for (let i = 0; i < count; i++) {
        const s = segments[i];
        bounds[2 * i] = s.start;
        bounds[2 * i + 1] = s.end;
        ranks[i] = s.rank;
        scales[i] = s.scale;
        mats[2 * i] = s.a;
        mats[2 * i + 1] = s.b;
      }
      n.loraSegmented(y, x, inDim, outDim, bounds, ranks, scales, mats, count);
      mats.length = 0; // hold no adapter alive
    },
    attentionCached: n.attentionCached,
    sampleRows: n.sampleRows,
    softmaxRowsBackward: n.softmaxRowsBackward,
    rmsnormBackward: n.rmsnormBackward,
    swigluBackward: n.swigluBackward,
    setThreads: (t) => n.setThreads(t),
    getThreads: () => n.getThreads(),
    blasConfig: () => n.config(),
  };
}
