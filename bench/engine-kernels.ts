// sgemm GFLOP/s of each tensor backend next to OpenBLAS called from a small C program (bench/c/sgemm.c,
// compiled here with gcc), all in one run on this machine, one BLAS thread. Imported by bench/engine.ts;
// also runnable alone: `tsx bench/engine-kernels.ts` prints a table and a last line `BENCH {...}`.
//
// The machine is shared, so rates are per second of this process's CPU time (the wall-clock rates are
// in the JSON too), timing rounds of C and of each backend alternate, and the best round counts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableBackends, type Backend, getKernels, setKernelThreads } from '@openledger/tensor';

type Impl = 'native' | 'wasm' | 'js' | 'c';
const IMPLS: Impl[] = ['native', 'wasm', 'js', 'c'];

export interface KernelBenchRow {
  shape: string;
  m: number;
  n: number;
  k: number;
  transB: boolean;
  /** GFLOP/s per CPU-second, per implementation (absent when not measured). */
  gflops: Partial<Record<Impl, number>>;
  /** GFLOP/s per wall-clock second. */
  gflopsWall: Partial<Record<Impl, number>>;
  /** native / c, both measured in this run. */
  nativeVsC?: number;
}

export interface KernelBenchResult {
  rows: KernelBenchRow[];
  json: {
    name: 'engine-kernels';
    cpu: string;
    blasThreads: number;
    timing: string;
    backends: Backend[];
    sgemmGflops: Record<string, Partial<Record<Impl, number>>>;
    sgemmGflopsWall: Record<string, Partial<Record<Impl, number>>>;
    nativeVsC: Record<string, number>;
    /** Best GFLOP/s over the shapes per implementation (the measured peak for utilisation figures). */
    peakGflops: Partial<Record<Impl, number>>;
  };
}

export interface KernelBenchOptions {
  /** CPU seconds each timing round lasts (default 0.4). */
  seconds?: number;
  /** Timing rounds per implementation; the best counts (default 4). */
  rounds?: number;
  /** Shapes [m, n, k, transB]; default 256/512/1024 square and 64×4096×1024 (x·Wᵀ as in a linear layer). */
  shapes?: [number, number, number, boolean][];
  log?: (line: string) => void;
}

const here = dirname(fileURLToPath(import.meta.url));

function compileC(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'openledger-sgemm-'));
  const exe = join(dir, 'sgemm');
  try {
    execFileSync('gcc', ['-O2', '-o', exe, join(here, 'c', 'sgemm.c'), '-lopenblas'], { stdio: 'pipe' });
    return exe;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s >>> 8) / 16777216 - 0.5;
  }
  return out;
}

/** One timing round: repeats fn for `seconds` of process CPU time; returns [per-CPU-s, per-wall-s] GFLOP/s. */
function round(fn: () => void, flops: number, seconds: number): [number, number] {
  let reps = 0;
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  let cpu = 0;
  do {
    fn();
    reps++;
    const d = process.cpuUsage(c0);
    cpu = (d.user + d.system) / 1e6;
  } while (cpu < seconds);
  const wall = (performance.now() - w0) / 1000;
  return [(flops * reps) / cpu / 1e9, (flops * reps) / wall / 1e9];
}

const r1 = (x: number) => Math.round(x * 10) / 10;

export async function benchKernels(options: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const seconds = options.seconds ?? 0.4;
  const rounds = options.rounds ?? 4;
  const log = options.log ?? (() => {});
  const shapes = options.shapes ?? [
    [256, 256, 256, false],
    [512, 512, 512, false],
    [1024, 1024, 1024, false],
    [64, 4096, 1024, true],
  ];
  const blasThreads = 1;
  setKernelThreads(blasThreads);
  const backends = availableBackends();
  const exe = compileC();
  if (!exe) log('gcc or libopenblas-dev missing: the C baseline is skipped');
  const rows: KernelBenchRow[] = [];
  log(
    `${'sgemm m×n×k'.padEnd(20)} ${IMPLS.map((i) => i.padStart(8)).join('')}   native/C   (GFLOP/s per CPU-second, 1 thread)`,
  );
  try {
    for (const [m, n, k, transB] of shapes) {
      const row: KernelBenchRow = {
        shape: `${m}×${n}×${k}${transB ? ' Bᵀ' : ''}`,
        m,
        n,
        k,
        transB,
        gflops: {},
        gflopsWall: {},
      };
      const a = rand(m * k, 1);
      const b = rand(k * n, 2);
      const c = new Float32Array(m * n);
      const flops = 2 * m * n * k;
      const ldb = transB ? k : n;
      const runners: [Impl, () => [number, number]][] = [];
      if (exe) {
        const args = [m, n, k, +transB, seconds, 1, blasThreads].map(String);
        runners.push([
          'c',
          () =>
            execFileSync(exe, args, { encoding: 'utf8' }).trim().split(/\s+/).map(Number) as [number, number],
        ]);
      }
      for (const backend of backends) {
        if (backend === 'js' && flops > 2 * 256 ** 3) continue; // the reference is slow: small shapes only
        const kern = getKernels(backend);
        const fn = () => kern.sgemm(false, transB, m, n, k, 1, a, k, b, ldb, 0, c, n);
        fn(); // warm-up
        runners.push([backend, () => round(fn, flops, backend === 'js' ? seconds / 2 : seconds)]);
      }
      for (let r = 0; r < rounds; r++) {
        for (const [impl, run] of runners) {
          if (impl === 'js' && r > 0) continue;
          const [cpu, wall] = run();
          row.gflops[impl] = Math.max(row.gflops[impl] ?? 0, cpu);
          row.gflopsWall[impl] = Math.max(row.gflopsWall[impl] ?? 0, wall);
        }
      }
      if (row.gflops.native !== undefined && row.gflops.c) row.nativeVsC = row.gflops.native / row.gflops.c;
      log(
        `${row.shape.padEnd(20)} ${IMPLS.map((i) => (row.gflops[i] === undefined ? '-' : row.gflops[i]!.toFixed(1)).padStart(8)).join('')}   ${row.nativeVsC?.toFixed(2) ?? '-'}`,
      );
      rows.push(row);
    }
  } finally {
    if (exe) rmSync(dirname(exe), { recursive: true, force: true });
  }
  const sgemmGflops: KernelBenchResult['json']['sgemmGflops'] = {};
  const sgemmGflopsWall: KernelBenchResult['json']['sgemmGflopsWall'] = {};
  const nativeVsC: Record<string, number> = {};
  const peakGflops: KernelBenchResult['json']['peakGflops'] = {};
  for (const r of rows) {
    const key = `${r.m}x${r.n}x${r.k}${r.transB ? 'T' : ''}`;
    sgemmGflops[key] = {};
    sgemmGflopsWall[key] = {};
    for (const impl of IMPLS) {
      const v = r.gflops[impl];
      if (v === undefined) continue;
      sgemmGflops[key][impl] = r1(v);
      sgemmGflopsWall[key][impl] = r1(r.gflopsWall[impl]!);
      peakGflops[impl] = Math.max(peakGflops[impl] ?? 0, r1(v));
    }
    if (r.nativeVsC !== undefined) nativeVsC[key] = Math.round(r.nativeVsC * 100) / 100;
  }
  return {
    rows,
    json: {
      name: 'engine-kernels',
      cpu: `${cpus()[0]?.model ?? 'unknown'} ×${cpus().length}`,
      blasThreads,
      timing: 'GFLOP/s per second of process CPU time, best of rounds alternating between implementations',
      backends,
      sgemmGflops,
      sgemmGflopsWall,
      nativeVsC,
      peakGflops,
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { json } = await benchKernels({ log: (l) => console.log(l) });
  const resultsDir = join(here, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'engine-kernels.json'), `${JSON.stringify(json, null, 2)}\n`);
  console.log(`BENCH ${JSON.stringify(json)}`);
}
