/**
 * npm run bench:attribution — speed and size of Proof of Attribution.
 *
 *  1. Suffix-array build: our SA-IS, both the C addon (native/sais.c, the default backend) and the
 *     TypeScript fallback, vs libdivsufsort (C, Debian libdivsufsort-dev, compiled here from
 *     bench/c/attribution/divsufsort_bench.c) on the SAME byte string (libdivsufsort sorts bytes):
 *     N Zipfian bytes from a seeded PRNG. All suffix arrays are checksummed and must agree.
 *  2. Our build of the full span index over N Zipfian tokens (vocabulary 32,000, documents of
 *     ~500 tokens): SA-IS time, total time, bytes per token on disk (format version 3: tokens and
 *     suffix array bit-packed, tokenBits / 8 + saBits / 8 per text symbol, plus the tables).
 *  3. Span attribution of a 500-token output (copied fragments + noise) on that index: lazily loaded
 *     with a 4 MiB page cache, only the sampled suffix table and small tables resident (cold = first
 *     query after open; median of 10 more outputs; page reads and resident bytes), and
 *     preloaded into memory at open (median of 11 outputs). Wall and process-CPU time are both shown.
 *  4. Gradient attribution over 10,000 examples (1,024 projected float32 dims = 4 KB per example):
 *     DataInf, gradient-dot and TracIn (2 checkpoints × 1,024 float16 = 4 KB per example), including
 *     the projection of the test gradient and the contributor normalisation.
 *
 * Env: ATTR_BENCH_TOKENS (default 50,000,000) to try smaller sizes; ATTR_BENCH_SA_ONLY=1 runs section 1
 * only (prints its rows and a BENCH line named attribution-sa; bench/results is not written).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildSpanIndex,
  type CorpusDocument,
  contributorInfluence,
  contributorWeights,
  DEFAULT_POLICY,
  dataInf,
  type GradientSet,
  gradDot,
  normalisePositive,
  Prng,
  RandomProjector,
  readGradientStore,
  SpanIndex,
  selectSpans,
  spanContributorScores,
  tracIn,
  writeGradientStore,
  zipfTokens,
} from '../packages/attribution/src/index.ts';
import { nativeSaisFailure } from '../packages/attribution/src/native-sais.ts';
import {
  buildSuffixArrayJs,
  buildSuffixArrayNative,
  suffixArrayBackend,
} from '../packages/attribution/src/sais.ts';

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.ATTR_BENCH_TOKENS ?? 50_000_000);
const work = mkdtempSync(join(tmpdir(), 'ol-bench-attr-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fnv = (sa: Int32Array) => {
  let h = 2166136261;
  for (let i = 0; i < sa.length; i++) h = Math.imul(h ^ sa[i], 16777619) >>> 0;
  return h >>> 0;
};

/** Wall and process-CPU milliseconds of fn (CPU time is what an idle core would take; the machine is shared). */
function timed<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wall, cpu: (c.user + c.system) / 1000 };
}

function printRows(rows: [string, string, string, string][]): void {
  const w = [0, 1, 2].map((k) => Math.max(...rows.map((x) => x[k].length), 8));
  console.log(`${'measure'.padEnd(w[0])}  ${'wall'.padEnd(w[1])}  ${'cpu'.padEnd(w[2])}  note`);
  for (const [a, b, cc, note] of rows)
    console.log(`${a.padEnd(w[0])}  ${b.padEnd(w[1])}  ${cc.padEnd(w[2])}  ${note}`);
}

try {
  // 1. Byte string: ours (C addon and TypeScript) vs libdivsufsort.
  const exe = join(work, 'divsufsort_bench');
  execFileSync('gcc', ['-O2', '-o', exe, join(here, 'c/attribution/divsufsort_bench.c'), '-ldivsufsort']);
  const bytes = Uint8Array.from(zipfTokens(N, 256, 1));
  const bytesPath = join(work, 'bytes.bin');
  writeFileSync(bytesPath, bytes);
  // Two interleaved rounds each, best kept: the machine is shared, so this damps contention.
  const load0 = loadavg()[0];
  const hasNative = suffixArrayBackend() === 'native';
  if (!hasNative) console.log(`native SA-IS unavailable (${nativeSaisFailure()}); ours = TypeScript`);
  let c = { n: 0, ms: Number.POSITIVE_INFINITY, cpu_ms: Number.POSITIVE_INFINITY, fnv: 0 };
  const none = () => ({ wall: Number.POSITIVE_INFINITY, cpu: Number.POSITIVE_INFINITY });
  let nativeBytes = none();
  let jsBytes = none();
  let same = true;
  for (let round = 0; round < 2; round++) {
    const cr = JSON.parse(execFileSync(exe, [bytesPath]).toString()) as typeof c;
    if (cr.cpu_ms < c.cpu_ms) c = cr;
    if (hasNative) {
      const o = timed(() => buildSuffixArrayNative(bytes, 256));
      same &&= fnv(o.value) === cr.fnv;
      if (o.cpu < nativeBytes.cpu) nativeBytes = { wall: o.wall, cpu: o.cpu };
    }
    const j = timed(() => buildSuffixArrayJs(bytes, 256));
    same &&= fnv(j.value) === cr.fnv;
    if (j.cpu < jsBytes.cpu) jsBytes = { wall: j.wall, cpu: j.cpu };
  }
  if (!same) throw new Error('suffix arrays of ours and libdivsufsort differ');
  rmSync(bytesPath);
  const oursBytes = hasNative ? nativeBytes : jsBytes;
  const ms = (x: number) => (Number.isFinite(x) ? Math.round(x) : null);
  const ratio = (a: number, b: number) =>
    Number.isFinite(a) && Number.isFinite(b) ? +(a / b).toFixed(2) : null;
  const saResult = {
    sa_backend: hasNative ? 'native' : 'js',
    sa_bytes_ours_ms: Math.round(oursBytes.wall),
    sa_bytes_ours_cpu_ms: Math.round(oursBytes.cpu),
    sa_bytes_divsufsort_ms: Math.round(c.ms),
    sa_bytes_divsufsort_cpu_ms: Math.round(c.cpu_ms),
    sa_ratio_vs_divsufsort: +(oursBytes.wall / c.ms).toFixed(2),
    sa_ratio_vs_divsufsort_cpu: +(oursBytes.cpu / c.cpu_ms).toFixed(2),
    sa_ratio_target: 2,
    sa_bytes_native_ms: ms(nativeBytes.wall),
    sa_bytes_native_cpu_ms: ms(nativeBytes.cpu),
    sa_bytes_js_ms: Math.round(jsBytes.wall),
    sa_bytes_js_cpu_ms: Math.round(jsBytes.cpu),
    sa_ratio_js_vs_divsufsort: ratio(jsBytes.wall, c.ms),
    sa_ratio_js_vs_divsufsort_cpu: ratio(jsBytes.cpu, c.cpu_ms),
    sa_native_speedup_vs_js_cpu: ratio(jsBytes.cpu, nativeBytes.cpu),
    sa_outputs_equal: same,
  };
  const saRows: [string, string, string, string][] = [
    [
      'SA build, ours native (SA-IS, C addon), bytes',
      hasNative ? `${saResult.sa_bytes_native_ms} ms` : 'n/a',
      hasNative ? `${saResult.sa_bytes_native_cpu_ms} ms` : 'n/a',
      `${N.toLocaleString()} bytes, best of 2${hasNative ? '' : `; ${nativeSaisFailure()}`}`,
    ],
    [
      'SA build, ours TypeScript (SA-IS, fallback)',
      `${saResult.sa_bytes_js_ms} ms`,
      `${saResult.sa_bytes_js_cpu_ms} ms`,
      'same bytes, best of 2',
    ],
    [
      'SA build, libdivsufsort (C), same bytes',
      `${saResult.sa_bytes_divsufsort_ms} ms`,
      `${saResult.sa_bytes_divsufsort_cpu_ms} ms`,
      `best of 2; suffix arrays equal: ${same}`,
    ],
    [
      `  ratio ours (${saResult.sa_backend}) / libdivsufsort`,
      `${saResult.sa_ratio_vs_divsufsort}×`,
      `${saResult.sa_ratio_vs_divsufsort_cpu}×`,
      'target ≤ 2×',
    ],
    [
      '  ratio TypeScript / libdivsufsort',
      `${saResult.sa_ratio_js_vs_divsufsort}×`,
      `${saResult.sa_ratio_js_vs_divsufsort_cpu}×`,
      hasNative ? `native is ${saResult.sa_native_speedup_vs_js_cpu}× faster (cpu)` : '',
    ],
  ];
  if (process.env.ATTR_BENCH_SA_ONLY) {
    printRows(saRows);
    console.log(
      `machine: ${availableParallelism()} cores, load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)} (shared)`,
    );
    console.log(`BENCH ${JSON.stringify({ name: 'attribution-sa', tokens: N, ...saResult })}`);
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  }

  // 2. Token index: N tokens, vocabulary 32,000, documents of ~500 tokens, 1,000 contributors.
  const tokens = zipfTokens(N, 32000, 2);
  const r = new Prng(3);
  const docs: CorpusDocument[] = [];
  for (let p = 0, d = 0; p < N; d++) {
    const len = Math.min(N - p, 100 + r.int(800));
    docs.push({
      tokens: tokens.subarray(p, p + len),
      rowId: `row-${d}`,
      contributionId: `contribution-${d >> 2}`,
      contributor: `0x${(d % 1000).toString(16).padStart(40, '0')}`,
    });
    p += len;
  }
  const indexPath = join(work, 'corpus.olsa');
  const indexSaBackend = suffixArrayBackend(); // what buildSpanIndex's buildSuffixArray call will use
  const built = timed(() => buildSpanIndex(docs, indexPath));
  const build = built.value;

  // 3. Span attribution of 500-token outputs.
  const outputs = Array.from({ length: 11 }, (_, o) => {
    const rr = new Prng(100 + o);
    const out: number[] = [];
    while (out.length < 500) {
      if (rr.next() < 0.5) {
        const d = docs[rr.int(docs.length)].tokens as Uint32Array;
        const s = rr.int(Math.max(1, d.length - 40));
        out.push(...d.subarray(s, s + 8 + rr.int(32)));
      } else {
        out.push(...zipfTokens(5 + rr.int(20), 32000, 1000 + out.length + o * 7919));
      }
    }
    out.length = 500;
    const ws = out.map((_, i) => i === 0 || rr.next() < 0.75);
    return { out, ws };
  });
  const spanQuery = (index: SpanIndex, q: { out: number[]; ws: boolean[] }) => {
    const spans = selectSpans(index, q.out, {}, q.ws);
    contributorWeights([{ shares: normalisePositive(spanContributorScores(index, spans)), weight: 1 }], {
      minInfluence: 0.001,
      topK: 20,
    });
    return spans.length;
  };
  // Lazy: a 4 MiB page cache over the on-disk index; resident = sampled table + tables + cache.
  const lazyCacheMiB = 4;
  const lazyOpen = timed(() => SpanIndex.open(indexPath, { cacheBytes: lazyCacheMiB << 20, preload: false }));
  const lazy = lazyOpen.value;
  const cold = timed(() => spanQuery(lazy, outputs[0]));
  const coldPageReads = lazy.pageReads;
  let spansFound = cold.value;
  const lazyReads: number[] = [];
  const lazyRuns = outputs.slice(1).map((q) => {
    const r0 = lazy.pageReads;
    const t = timed(() => spanQuery(lazy, q));
    lazyReads.push(lazy.pageReads - r0);
    return t;
  });
  for (const x of lazyRuns) spansFound += x.value;
  const resident = lazy.memory;
  lazy.close();
  // Preloaded: the index read into memory at open (as an mmap-ed index would be once warm).
  const pre = timed(() => SpanIndex.open(indexPath, { preload: true }));
  const preRuns = outputs.map((q) => timed(() => spanQuery(pre.value, q)));
  pre.value.close();
  const med = (xs: { wall: number; cpu: number }[]) => ({
    wall: median(xs.map((x) => x.wall)),
    cpu: median(xs.map((x) => x.cpu)),
  });
  const spanLazy = med(lazyRuns);
  const spanPre = med(preRuns);

  // 4. Gradient attribution over 10,000 examples.
  const n = 10_000;
  const layers = 4;
  const rawDim = 4096; // e.g. rank-8 LoRA A and B of a 256-wide layer
  const projDims = [256, 256, 256, 256];
  const projector = new RandomProjector({
    seed: 7,
    kind: 'rademacher',
    inputDims: Array(layers).fill(rawDim),
    outputDims: projDims,
  });
  const gr = new Prng(9);
  const D = 1024;
  const basis = Array.from({ length: 16 }, () => Float32Array.from({ length: D }, () => gr.gaussian()));
  const synth = (scale: number) => {
    const g = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      const a = basis[i % 16];
      const s = gr.gaussian();
      for (let j = 0; j < D; j++) g[i * D + j] = scale * (s * a[j] + 0.3 * gr.gaussian());
    }
    return g;
  };
  const examples = Array.from({ length: n }, (_, i) => ({
    rowId: `row-${i}`,
    contributor: `0x${(i % 500).toString(16).padStart(40, '0')}`,
  }));
  const set32: GradientSet = {
    layerDims: projDims,
    examples,
    checkpoints: [{ lr: 1e-4, grads: synth(1) }],
    projection: projector.spec,
    dtype: 'f32',
  };
  const store32 = join(work, 'grads32.olgs');
  const store32Bytes = writeGradientStore(store32, set32);
  const setTrac: GradientSet = {
    ...set32,
    checkpoints: [
      { lr: 2e-4, grads: synth(1.5) },
      { lr: 1e-4, grads: set32.checkpoints[0].grads },
    ],
    dtype: 'f16',
  };
  const store16 = join(work, 'grads16.olgs');
  const store16Bytes = writeGradientStore(store16, setTrac);
  const load32 = timed(() => readGradientStore(store32));
  const load16 = timed(() => readGradientStore(store16));
  const loaded32 = load32.value;
  const loaded16 = load16.value;
  const rawTest = Array.from({ length: layers }, () =>
    Float32Array.from({ length: rawDim }, () => gr.gaussian()),
  );
  // Generates and caches the projection matrices (once per model, not per query).
  const projInit = timed(() => projector.project(rawTest));
  type Method = 'datainf' | 'datainf-exact' | 'grad-dot' | 'tracin';
  // 'datainf-exact' is what receipts use (DEFAULT_POLICY.gradient: the paper's damping and the exact
  // damped per-layer inverse, factorised once per gradient store and cached)
  const { dampingScale, perEntry, inverse } = DEFAULT_POLICY.gradient;
  const gradQuery = (method: Method) =>
    timed(() => {
      const v = projector.project(rawTest);
      const store = method === 'tracin' ? loaded16 : loaded32;
      const m =
        method === 'datainf'
          ? dataInf()
          : method === 'datainf-exact'
            ? dataInf({ dampingScale, perEntry, inverse })
            : method === 'grad-dot'
              ? gradDot()
              : tracIn();
      const scores = m.scores(store, method === 'tracin' ? [v, v] : [v]);
      contributorWeights([{ shares: normalisePositive(contributorInfluence(store, scores)), weight: 1 }], {
        minInfluence: 0.001,
        topK: 20,
      });
    });
  const gq = (m: Method) => med([gradQuery(m), gradQuery(m), gradQuery(m)]);
  const datainf = gq('datainf');
  const exactFirst = gradQuery('datainf-exact');
  const exact = gq('datainf-exact');
  const gradDotQ = gq('grad-dot');
  const tracin = gq('tracin');

  const r1 = (x: number) => +x.toFixed(1);
  const result = {
    name: 'attribution',
    tokens: N,
    ...saResult,
    index_sa_backend: indexSaBackend,
    index_tokens: build.tokens,
    index_documents: build.documents,
    sa_tokens_ms: Math.round(build.suffixArrayMs),
    index_build_ms: Math.round(built.wall),
    index_build_cpu_ms: Math.round(built.cpu),
    index_bytes_per_token: +build.bytesPerToken.toFixed(3),
    index_bytes_per_token_target: 6,
    index_core_bytes_per_token: +build.coreBytesPerToken.toFixed(3),
    index_overhead_bytes_per_token: +build.overheadBytesPerToken.toFixed(3),
    index_format_version: build.formatVersion,
    index_token_bits: build.tokenBits,
    index_sa_bits: build.saBits,
    index_file_bytes: build.fileBytes,
    span_lazy_cold_ms: r1(cold.wall),
    span_lazy_cold_cpu_ms: r1(cold.cpu),
    span_lazy_cold_page_reads: coldPageReads,
    span_lazy_median_ms: r1(spanLazy.wall),
    span_lazy_median_cpu_ms: r1(spanLazy.cpu),
    span_lazy_median_page_reads: median(lazyReads),
    span_lazy_cache_mib: lazyCacheMiB,
    span_lazy_open_ms: Math.round(lazyOpen.wall),
    span_lazy_resident_bytes: resident.total,
    span_lazy_resident_pct_of_index: +((100 * resident.total) / build.fileBytes).toFixed(2),
    span_lazy_resident_samples_bytes: resident.samples,
    span_preloaded_median_ms: r1(spanPre.wall),
    span_preloaded_median_cpu_ms: r1(spanPre.cpu),
    span_preload_open_ms: Math.round(pre.wall),
    span_query_target_ms: 50,
    spans_per_output: r1(spansFound / outputs.length),
    grad_examples: n,
    grad_bytes_per_example: D * 4,
    grad_store_file_bytes_per_example: r1(store32Bytes / n),
    grad_store_tracin_file_bytes_per_example: r1(store16Bytes / n),
    grad_store_load_ms: Math.round(load32.wall),
    grad_store_tracin_load_ms: Math.round(load16.wall),
    projector_init_ms: Math.round(projInit.wall),
    datainf_query_ms: r1(datainf.wall),
    datainf_query_cpu_ms: r1(datainf.cpu),
    datainf_exact_first_query_ms: r1(exactFirst.wall),
    datainf_exact_first_query_cpu_ms: r1(exactFirst.cpu),
    datainf_exact_query_ms: r1(exact.wall),
    datainf_exact_query_cpu_ms: r1(exact.cpu),
    grad_dot_query_ms: r1(gradDotQ.wall),
    tracin_query_ms: r1(tracin.wall),
    grad_query_target_ms: 1000,
    load_average_start: r1(load0),
    load_average_end: r1(loadavg()[0]),
    cores: availableParallelism(),
  };
  const rows: [string, string, string, string][] = [
    ...saRows,
    [
      `SA build, ours (${indexSaBackend}), tokens (vocab 32k)`,
      `${result.sa_tokens_ms} ms`,
      '',
      `${build.tokens.toLocaleString()} tokens, ${build.documents} docs (inside the index build)`,
    ],
    [
      'span index build (text + SA + write)',
      `${result.index_build_ms} ms`,
      `${result.index_build_cpu_ms} ms`,
      '',
    ],
    [
      'span index size',
      `${result.index_bytes_per_token} B/token`,
      '',
      `target ≤ 6; v${build.formatVersion}: tokens ${build.tokenBits} bits + SA ${build.saBits} bits = ${result.index_core_bytes_per_token} B/token; + ${result.index_overhead_bytes_per_token} sampled table, doc map, tables, checksums`,
    ],
    [
      'span attribution 500 tok, lazy, cold',
      `${result.span_lazy_cold_ms} ms`,
      `${result.span_lazy_cold_cpu_ms} ms`,
      `${coldPageReads} page reads, ${lazyCacheMiB} MiB cache; open ${result.span_lazy_open_ms} ms`,
    ],
    [
      'span attribution 500 tok, lazy, median',
      `${result.span_lazy_median_ms} ms`,
      `${result.span_lazy_median_cpu_ms} ms`,
      `target ≤ 50 ms; 10 other outputs, median ${result.span_lazy_median_page_reads} page reads; ${result.spans_per_output} spans/output`,
    ],
    [
      'span index resident, lazy',
      `${(result.span_lazy_resident_bytes / 2 ** 20).toFixed(1)} MiB`,
      '',
      `${result.span_lazy_resident_pct_of_index}% of the file: sampled table ${(result.span_lazy_resident_samples_bytes / 2 ** 20).toFixed(1)} MiB + tables, doc map, page cache`,
    ],
    [
      'span attribution 500 tok, preloaded, median',
      `${result.span_preloaded_median_ms} ms`,
      `${result.span_preloaded_median_cpu_ms} ms`,
      `preload at open ${result.span_preload_open_ms} ms`,
    ],
    [
      'gradient store size',
      `${result.grad_store_file_bytes_per_example} B/example`,
      '',
      `${D} f32 dims = ${D * 4} B + metadata`,
    ],
    ['gradient store load (10k, sha256-checked)', `${result.grad_store_load_ms} ms`, '', ''],
    [
      'DataInf query, 10k examples (closed form)',
      `${result.datainf_query_ms} ms`,
      `${result.datainf_query_cpu_ms} ms`,
      'target ≤ 1000 ms (incl. test projection)',
    ],
    [
      'DataInf exact inverse (receipts), first query',
      `${result.datainf_exact_first_query_ms} ms`,
      `${result.datainf_exact_first_query_cpu_ms} ms`,
      'factorises G_l + λ_l I once per gradient store',
    ],
    [
      'DataInf exact inverse (receipts), later queries',
      `${result.datainf_exact_query_ms} ms`,
      `${result.datainf_exact_query_cpu_ms} ms`,
      'target ≤ 1000 ms',
    ],
    ['gradient-dot query, 10k examples', `${result.grad_dot_query_ms} ms`, '', ''],
    [
      'TracIn query, 10k × 2 checkpoints (f16)',
      `${result.tracin_query_ms} ms`,
      '',
      `${result.grad_store_tracin_file_bytes_per_example} B/example`,
    ],
  ];
  printRows(rows);
  console.log(
    `machine: ${result.cores} cores, load average ${result.load_average_start} → ${result.load_average_end} (shared); cpu = process CPU time`,
  );
  const line = JSON.stringify(result);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results/attribution.json'), `${line}\n`);
  console.log(`BENCH ${line}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
