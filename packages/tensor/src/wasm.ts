// WebAssembly SIMD backend: assembly/index.ts compiled by AssemblyScript to wasm/tensor.wasm (at
// install, or here on first use when the file is missing). Arrays are copied into the module's linear
// memory for each call and results copied back; for sgemm that copy is O(n²) next to O(n³) work.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { attentionCachedJs, loraSegmentedViaSgemm, positionsFrom, sampleRowsJs } from './js.ts';
import { packageRoot } from './native.ts';
import type { Kernels } from './types.ts';

// The project's lib settings (ES2023, @types/node 20) carry no WebAssembly types; declare the few used.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export const wasmPath = join(packageRoot, 'wasm', 'tensor.wasm');

interface Exports {
  memory: WasmMemory;
  heapBase(): number;
  sgemmWorkFloats(): number;
  sgemm(
    ta: number,
    tb: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: number,
    c: number,
    ldc: number,
    work: number,
  ): void;
  softmaxRows(x: number, rows: number, cols: number): void;
  rmsnorm(out: number, x: number, w: number, rows: number, dim: number, eps: number, inv: number): void;
  ropeAt(
    x: number,
    pos: number,
    seq: number,
    heads: number,
    hd: number,
    theta: number,
    inv: number,
    freq: number,
  ): void;
  silu(out: number, x: number, n: number): void;
  swiglu(out: number, g: number, u: number, n: number): void;
  crossEntropy(lg: number, tg: number, rows: number, vocab: number, dl: number, wantGrad: number): number;
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    wd: number,
    step: number,
  ): void;
  softmaxRowsBackward(dx: number, y: number, dy: number, rows: number, cols: number): void;
  rmsnormBackward(
    dx: number,
    dw: number,
    dout: number,
    x: number,
    w: number,
    inv: number,
    rows: number,
    dim: number,
  ): void;
  swigluBackward(dg: number, du: number, dout: number, g: number, u: number, n: number): void;
}

let compiled: WasmModule | null = null;

/** Compiles the module, first (re)building wasm/tensor.wasm when it is missing or older than its source. */
export function loadWasmModule(): WasmModule {
  if (compiled) return compiled;
  const source = join(packageRoot, 'assembly', 'index.ts');
  const stale =
    !existsSync(wasmPath) || (existsSync(source) && statSync(source).mtimeMs > statSync(wasmPath).mtimeMs);
  if (stale) {
    try {
      execFileSync(
        process.execPath,
        [join(packageRoot, 'scripts', 'build-wasm.mjs'), '--strict', '--quiet'],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
    } catch (e) {
      if (!existsSync(wasmPath)) throw e;
    }
  }
  compiled = new WA.Module(readFileSync(wasmPath));
  return compiled;
}

type Arr = Float32Array | Int32Array;

/** A bump allocator over the module's memory, reset at the start of every kernel call. */
class Arena {
  private top = 0;
  constructor(
    private readonly ex: Exports,
    private readonly base: number,
  ) {}
  reset(): void {
    this.top = (this.base + 15) & ~15;
  }
  /** Reserves `count` 4-byte elements; returns the byte offset. */
  alloc(count: number): number {
    const off = this.top;
    this.top = (off + count * 4 + 15) & ~15;
    const need = this.top - this.ex.memory.buffer.byteLength;
    if (need > 0) this.ex.memory.grow(Math.ceil(need / 65536));
    return off;
  }
  /** Copies the first `count` elements of `src` in; returns the byte offset. */
  put(src: Arr, count: number): number {
    const off = this.alloc(count);
    if (count > 0) this.view(src, off, count).set(src.subarray(0, count));
    return off;
  }
  get(dst: Arr, off: number, count: number): void {
    if (count > 0) dst.set(this.view(dst, off, count));
  }
  view(like: Arr, off: number, count: number): Arr {
    return like instanceof Int32Array
      ? new Int32Array(this.ex.memory.buffer, off, count)
      : new Float32Array(this.ex.memory.buffer, off, count);
  }
}

function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

export function createWasmKernels(): Kernels {
  const instance = new WA.Instance(loadWasmModule(), { env: { abort: () => {} } });
  const ex = instance.exports as unknown as Exports;
  const mem = new Arena(ex, ex.heapBase());
  const workFloats = ex.sgemmWorkFloats();
  const scratch = { t: new Float32Array(0), a: new Float32Array(0), b: new Float32Array(0) };
  let sampleScratch = new Float64Array(0);

  const sgemm: Kernels['sgemm'] = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
    mem.reset();
    const na = transA ? span(k, m, lda) : span(m, k, lda);
    const nb = transB ? span(n, k, ldb) : span(k, n, ldb);
    const nc = span(m, n, ldc);
    const pa = mem.put(a, na);
    const pb = mem.put(b, nb);
    const pc = mem.put(c, nc);
    const work = mem.alloc(workFloats);
    ex.sgemm(+transA, +transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, work);
    mem.get(c, pc, nc);
  };

  return {
    backend: 'wasm',
    sgemm,
    sgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, sA, b, ldb, sB, beta, c, ldc, sC, batch) {
      for (let i = 0; i < batch; i++) {
        sgemm(
          transA,
          transB,
          m,
          n,
          k,
          alpha,
          a.subarray(i * sA),
          lda,
          b.subarray(i * sB),
          ldb,
          beta,
          c.subarray(i * sC),
          ldc,
        );
      }
    },
    softmaxRows(x, rows, cols) {
      mem.reset();
      const px = mem.put(x, rows * cols);
      ex.softmaxRows(px, rows, cols);
      mem.get(x, px, rows * cols);
    },
    rmsnorm(out, x, weight, rows, dim, eps, invRmsOut) {
      const inv = invRmsOut ?? new Float32Array(rows);
      mem.reset();
      const px = mem.put(x, rows * dim);
      const pw = mem.put(weight, dim);
      const po = mem.alloc(rows * dim);
      const pi = mem.alloc(rows);
      ex.rmsnorm(po, px, pw, rows, dim, eps, pi);
      mem.get(out, po, rows * dim);
      mem.get(inv, pi, rows);
      return inv;
    },
    rope(x, seq, heads, headDim, posOffset, theta) {
      this.ropeAt(x, positionsFrom(seq, posOffset), heads, headDim, theta, false);
    },
    ropeAt(x, positions, heads, headDim, theta, inverse) {
      const seq = positions.length;
      const n = seq * heads * headDim;
      mem.reset();
      const px = mem.put(x, n);
      const pp = mem.put(positions, seq);
      const pf = mem.alloc(headDim); // headDim/2 f64
      ex.ropeAt(px, pp, seq, heads, headDim, theta, +inverse, pf);
      mem.get(x, px, n);
    },
    silu(out, x, n) {
      mem.reset();
      const px = mem.put(x, n);
      ex.silu(px, px, n);
      mem.get(out, px, n);
    },
    swiglu(out, gate, up, n) {
      mem.reset();
      const pg = mem.put(gate, n);
      const pu = mem.put(up, n);
      ex.swiglu(pg, pg, pu, n);
      mem.get(out, pg, n);
    },
    crossEntropy(logits, targets, rows, vocab, dlogits) {
      mem.reset();
      const pl = mem.put(logits, rows * vocab);
      const pt = mem.put(targets, rows);
      const pd = dlogits ? mem.alloc(rows * vocab) : 0;
      const loss = ex.crossEntropy(pl, pt, rows, vocab, pd, dlogits ? 1 : 0);
      if (dlogits) mem.get(dlogits, pd, rows * vocab);
      return loss;
    },
    adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step) {
      mem.reset();
      const pp = mem.put(param, n);
      const pg = mem.put(grad, n);
      const pm = mem.put(m, n);
      const pv = mem.put(v, n);
      ex.adamw(pp, pg, pm, pv, n, lr, beta1, beta2, eps, weightDecay, step);
      mem.get(param, pp, n);
      mem.get(m, pm, n);
      mem.get(v, pv, n);
    },
    loraSegmented(y, x, _rows, inDim, outDim, segments) {
      loraSegmentedViaSgemm(sgemm, y, x, inDim, outDim, segments, scratch);
    },
    // no wasm build of these yet (assembly/ is unchanged): the JS loops, which are the reference
    attentionCached: attentionCachedJs,
    sampleRows(logits, rows, vocab, temperature, uniform, out) {
      if (sampleScratch.length < vocab) sampleScratch = new Float64Array(vocab);
      sampleRowsJs(logits, rows, vocab, temperature, uniform, out, sampleScratch);
    },
    softmaxRowsBackward(dx, y, dy, rows, cols) {
      const n = rows * cols;
      mem.reset();
      const py = mem.put(y, n);
      const pdy = mem.put(dy, n);
      ex.softmaxRowsBackward(pdy, py, pdy, rows, cols);
      mem.get(dx, pdy, n);
    },
    rmsnormBackward(dx, dWeight, dout, x, weight, invRms, rows, dim) {
      const n = rows * dim;
      mem.reset();
      const pdw = mem.put(dWeight, dim);
      const pdo = mem.put(dout, n);
      const px = mem.put(x, n);
      const pw = mem.put(weight, dim);
      const pi = mem.put(invRms, rows);
      const pdx = mem.alloc(n);
      ex.rmsnormBackward(pdx, pdw, pdo, px, pw, pi, rows, dim);
      mem.get(dx, pdx, n);
      mem.get(dWeight, pdw, dim);
    },
    swigluBackward(dgate, dup, dout, gate, up, n) {
      mem.reset();
      const pdo = mem.put(dout, n);
      const pg = mem.put(gate, n);
      const pu = mem.put(up, n);
      const pdg = mem.alloc(n);
      const pdu = mem.alloc(n);
      ex.swigluBackward(pdg, pdu, pdo, pg, pu, n);
      mem.get(dgate, pdg, n);
      mem.get(dup, pdu, n);
    },
  };
}
