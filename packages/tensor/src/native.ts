// Native backend: Node-API addon (native/tensor.c) over OpenBLAS, built by node-gyp at install.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loraSegmentedViaSgemm, positionsFrom } from './js.ts';
import type { Kernels } from './types.ts';

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
  const scratch = { t: new Float32Array(0) };
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
      loraSegmentedViaSgemm(n.sgemm, y, x, inDim, outDim, segments, scratch);
    },
    softmaxRowsBackward: n.softmaxRowsBackward,
    rmsnormBackward: n.rmsnormBackward,
    swigluBackward: n.swigluBackward,
    setThreads: (t) => n.setThreads(t),
    getThreads: () => n.getThreads(),
    blasConfig: () => n.config(),
  };
}
