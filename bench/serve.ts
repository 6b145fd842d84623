/**
 * bench:serve — OpenLoRA serving throughput with many adapters (issue 7).
 *
 * One run, one machine, everything compared side by side:
 *  1. throughput (generated tokens/s, wall and per CPU-second) of the in-process BatchEngine on one
 *     mixed request trace, with its requests drawn uniformly over 1, 16, 64 and 256 distinct
 *     adapters (same prompts, lengths and seeds for every adapter count; best of ROUNDS rounds,
 *     the adapter counts alternating within each round);
 *  2. a naive baseline on the same trace: one request at a time, mergeLora (a private merged copy
 *     of the base) then generateTokens alone; speed-up of batching over it;
 *  3. the same comparison (64 adapters, batched vs naive) on a larger base model, random init: 25M
 *     parameters, 99 MB in float32, more than the CPU caches hold, as any real base model is. The
 *     shipped base (9 MB) fits in cache, which flatters the naive baseline's one-row products;
 *  4. the worker-thread Engine: JIT cold load of adapters through AdapterManager (fetch + sha256 +
 *     parse + load into the engine) next to reading the same files; adapters at a remote location
 *     (a local HTTP server standing in for a hub): first load = download + verify + write to the disk
 *     cache + load, next to a load from the disk cache after unloading; the same trace at 64 adapters
 *     through the worker, and time to first token of requests arriving over time (Poisson).
 *
 * Sizes come from the environment (defaults in SIZES) and are printed first.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASE_CONFIG,
  BASE_MODEL_DIR,
  createLora,
  createModel,
  generateTokens,
  type LlamaConfig,
  type LlamaModel,
  type LoraAdapter,
  type LoraTarget,
  loadBaseModel,
  loraFromPeft,
  loraParamCount,
  loraToPeftSafetensors,
  mergeLora,
  paramCount,
  peftConfig,
  Rng,
  saveHfModel,
} from '@openledger/model';
import {
  AdapterDiskCache,
  AdapterManager,
  type AdapterRecord,
  BatchEngine,
  Engine,
  type EngineEvent,
  type EngineRequest,
} from '@openledger/serve';
import { load1, median, printTable, quantile, round, stopwatch, writeBench } from './lib/report.ts';

const env = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined ? fallback : Number(v);
};

const SIZES = {
  requests: env('BENCH_SERVE_REQUESTS', 256),
  promptMin: 16,
  promptMax: 48,
  outputTokens: 32,
  adapterCounts: [1, 16, 64, 256],
  maxBatch: env('BENCH_SERVE_BATCH', 64),
  rounds: env('BENCH_SERVE_ROUNDS', 2),
  loraRank: 8,
  loraTargets: ['q', 'v', 'o', 'up', 'down'] as LoraTarget[],
  /** requests of the trace the naive baseline serves (the first N; default all) */
  naiveRequests: env('BENCH_SERVE_NAIVE', 256),
  coldLoads: env('BENCH_SERVE_COLD', 64),
  ttftRequests: env('BENCH_SERVE_TTFT', 64),
  /** mean arrival rate of the TTFT test, requests per second */
  ttftRate: env('BENCH_SERVE_RATE', 8),
  /** requests of the trace the larger base serves batched (0 skips that part), and naively */
  largeRequests: env('BENCH_SERVE_LARGE', 256),
  largeNaiveRequests: env('BENCH_SERVE_LARGE_NAIVE', 32),
  temperature: 0.8,
  seed: 7,
};
SIZES.naiveRequests = Math.min(SIZES.naiveRequests, SIZES.requests);

interface TraceItem {
  id: string;
  prompt: number[];
  /** uniform draw in [0, 1): the adapter is floor(u · count) for any adapter count */
  u: number;
  seed: number;
}

function makeTrace(n: number, vocab: number, seed: number): TraceItem[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = SIZES.promptMin + rng.int(SIZES.promptMax - SIZES.promptMin + 1);
    const prompt = Array.from({ length: len }, () => 1 + rng.int(vocab - 1));
    return { id: `r${i}`, prompt, u: rng.next(), seed: 1000 + i };
  });
}

const adapterKey = (i: number) => `adapter-${i}`;

function request(item: TraceItem, adapters: number, suffix = ''): EngineRequest {
  return {
    id: `${item.id}${suffix}`,
    adapter: adapterKey(Math.floor(item.u * adapters)),
    prompt: item.prompt,
    maxTokens: SIZES.outputTokens,
    temperature: SIZES.temperature,
    topP: 1,
    topK: 0,
    seed: item.seed,
    stopTokens: [],
  };
}

/** A LoRA adapter with a non-zero B, so every adapter really changes the model. */
function makeAdapter(model: LlamaModel, i: number): LoraAdapter {
  const adapter = createLora(model.config, {
    rank: SIZES.loraRank,
    alpha: 2 * SIZES.loraRank,
    targets: SIZES.loraTargets,
    seed: 100 + i,
  });
  const rng = new Rng(5000 + i);
  for (const layer of adapter.layers)
    for (const pair of Object.values(layer)) {
      if (!pair) continue;
      for (let j = 0; j < pair.b.length; j++) pair.b[j] = (rng.next() * 2 - 1) * 0.02;
    }
  return adapter;
}

/** Serves the whole trace through an in-process BatchEngine; returns tokens and timings. */
function runBatched(engine: BatchEngine, trace: TraceItem[], adapters: number, tag: string) {
  for (const item of trace) engine.submit(request(item, adapters, tag));
  let tokens = 0;
  let steps = 0;
  const sw = stopwatch();
  while (!engine.idle) {
    for (const e of engine.step()) {
      if (e.type === 'token') tokens++;
      else if (e.type === 'error') throw new Error(`request ${e.id}: ${e.message}`);
    }
    steps++;
  }
  const t = sw();
  return { tokens, steps, ...t };
}

/** One request at a time: merge its adapter into a private copy of the base, then generate alone. */
function runNaive(base: LlamaModel, adapters: LoraAdapter[], trace: TraceItem[], count: number) {
  let tokens = 0;
  let mergeWall = 0;
  const sw = stopwatch();
  for (const item of trace) {
    const m0 = performance.now();
    const merged = mergeLora(base, adapters[Math.floor(item.u * count)]);
    mergeWall += (performance.now() - m0) / 1000;
    for (const _ of generateTokens(merged, item.prompt, {
      maxTokens: SIZES.outputTokens,
      temperature: SIZES.temperature,
      seed: item.seed,
    }))
      tokens++;
  }
  return { tokens, mergeWall, ...sw() };
}

/** The larger base of part 3: 8 layers of dim 512 (grouped-query attention), the shipped vocabulary. */
const LARGE_CONFIG: LlamaConfig = {
  ...BASE_CONFIG,
  dim: 512,
  nLayers: 8,
  nHeads: 8,
  nKvHeads: 2,
  ffnDim: 1408,
};

/** Part 3: batched (64 adapters) vs naive on the larger base; the naive serves a prefix of the trace. */
function runLargeBase(trace: TraceItem[], maxSeq: number) {
  const model = createModel(LARGE_CONFIG, 3);
  const params = paramCount(LARGE_CONFIG);
  const adapters = Array.from({ length: 64 }, (_, i) => makeAdapter(model, i));
  const engine = new BatchEngine(model, { maxBatch: SIZES.maxBatch, maxSeq });
  adapters.forEach((a, i) => engine.loadAdapter(adapterKey(i), a));
  const requests = trace.slice(0, SIZES.largeRequests);
  runBatched(engine, requests.slice(0, SIZES.maxBatch), 64, '-large-warm');
  const batched = runBatched(engine, requests, 64, '-large');
  const naive = runNaive(model, adapters, requests.slice(0, SIZES.largeNaiveRequests), 64);
  return { params, batched, naive };
}

/** Serves the trace through the worker Engine, all requests submitted at once. */
async function runWorker(engine: Engine, trace: TraceItem[], adapters: number, tag: string) {
  let tokens = 0;
  const sw = stopwatch();
  await Promise.all(
    trace.map(async (item) => {
      for await (const e of engine.run(request(item, adapters, tag))) {
        if (e.type === 'token') tokens++;
        else if (e.type === 'error') throw new Error(`request ${e.id}: ${e.message}`);
      }
    }),
  );
  return { tokens, ...sw() };
}

async function main() {
  const started = performance.now();
  console.log(`bench:serve — load average at start ${load1()} on 2 cores (shared machine)`);
  let base: LlamaModel;
  let baseModel = 'shipped base model (packages/model/assets/base)';
  let baseDir = BASE_MODEL_DIR;
  const tmp = mkdtempSync(join(tmpdir(), 'ol-bench-serve-'));
  try {
    try {
      base = loadBaseModel().model;
    } catch {
      base = createModel(BASE_CONFIG, 1);
      baseModel = 'random init of BASE_CONFIG (shipped base model absent)';
      baseDir = join(tmp, 'base');
      saveHfModel(baseDir, base);
    }
    const c = base.config;
    const maxSeq = SIZES.promptMax + SIZES.outputTokens + 1;
    const nAdapters = Math.max(...SIZES.adapterCounts);
    const adapters = Array.from({ length: nAdapters }, (_, i) => makeAdapter(base, i));
    const trace = makeTrace(SIZES.requests, c.vocabSize, SIZES.seed);
    const promptTokens = trace.reduce((s, t) => s + t.prompt.length, 0);
    console.log(
      `model: ${baseModel}, dim ${c.dim}, ${c.nLayers} layers, vocab ${c.vocabSize}; adapters: rank ${SIZES.loraRank}, targets ${SIZES.loraTargets.join(',')}, ${loraParamCount(adapters[0]).toLocaleString('en')} params each`,
    );
    console.log(
      `trace: ${SIZES.requests} requests, prompts ${SIZES.promptMin}–${SIZES.promptMax} tokens (${promptTokens} in all), ${SIZES.outputTokens} output tokens each (no stop tokens), temperature ${SIZES.temperature}, adapters drawn uniformly; maxBatch ${SIZES.maxBatch}, ${SIZES.rounds} rounds; naive baseline on the first ${SIZES.naiveRequests} requests`,
    );

    // ---- in-process BatchEngine, adapter counts alternating within each round
    const engine = new BatchEngine(base, { maxBatch: SIZES.maxBatch, maxSeq });
    adapters.forEach((a, i) => engine.loadAdapter(adapterKey(i), a));
    // warm-up (JIT, kernels, allocations)
    runBatched(engine, trace.slice(0, SIZES.maxBatch), 16, '-warm');
    const batched = new Map<number, { tokens: number; wall: number; cpu: number; steps: number }[]>();
    let naive: ReturnType<typeof runNaive> | undefined;
    for (let round = 0; round < SIZES.rounds; round++) {
      const order = round % 2 === 0 ? SIZES.adapterCounts : [...SIZES.adapterCounts].reverse();
      for (const k of order) {
        const r = runBatched(engine, trace, k, `-k${k}-r${round}`);
        if (r.tokens !== SIZES.requests * SIZES.outputTokens)
          throw new Error(`expected ${SIZES.requests * SIZES.outputTokens} tokens, got ${r.tokens}`);
        console.log(
          `  round ${round + 1}: ${String(k).padStart(3)} adapters  ${(r.tokens / r.wall).toFixed(0)} tok/s wall, ${(r.tokens / r.cpu).toFixed(0)} tok/CPU-s (${r.wall.toFixed(1)} s, ${r.steps} steps, load ${load1()})`,
        );
        batched.set(k, [...(batched.get(k) ?? []), r]);
      }
      if (round === 0) {
        naive = runNaive(base, adapters, trace.slice(0, SIZES.naiveRequests), 64);
        console.log(
          `  naive merge-per-request (64 adapters): ${(naive.tokens / naive.wall).toFixed(0)} tok/s wall, ${(naive.tokens / naive.cpu).toFixed(0)} tok/CPU-s (${naive.wall.toFixed(1)} s, merges ${naive.mergeWall.toFixed(1)} s)`,
        );
      }
    }
    const large = SIZES.largeRequests > 0 ? runLargeBase(trace, maxSeq) : null;
    if (large) {
      const { batched: lb, naive: ln } = large;
      console.log(
        `  larger base (${(large.params / 1e6).toFixed(1)}M parameters, ${((4 * large.params) / 1e6).toFixed(0)} MB), 64 adapters: batched ${(lb.tokens / lb.wall).toFixed(0)} tok/s wall, ${(lb.tokens / lb.cpu).toFixed(0)} tok/CPU-s; naive ${(ln.tokens / ln.wall).toFixed(0)} tok/s wall, ${(ln.tokens / ln.cpu).toFixed(0)} tok/CPU-s (${SIZES.largeNaiveRequests} requests, merges ${ln.mergeWall.toFixed(1)} s)`,
      );
    }
    const best = (k: number) => {
      const runs = batched.get(k)!;
      return {
        tokPerSec: Math.max(...runs.map((r) => r.tokens / r.wall)),
        tokPerCpuSec: Math.max(...runs.map((r) => r.tokens / r.cpu)),
        seconds: Math.min(...runs.map((r) => r.wall)),
      };
    };
    // ratios per round too (each round's runs are minutes apart at most)
    const ratioCpu = best(64).tokPerCpuSec / best(1).tokPerCpuSec;
    const roundRatios = Array.from({ length: SIZES.rounds }, (_, i) => {
      const a = batched.get(64)![i];
      const b = batched.get(1)![i];
      return round(a.tokens / a.wall / (b.tokens / b.wall), 3);
    });

    // ---- worker Engine + AdapterManager: cold loads, throughput, time to first token
    const files = new Map<string, { config: string; weights: string; hash: `0x${string}` }>();
    adapters.forEach((a, i) => {
      const weights = loraToPeftSafetensors(a);
      const config = `${JSON.stringify(peftConfig(a))}\n`;
      const w = join(tmp, `adapter-${i}.safetensors`);
      const cj = join(tmp, `adapter-${i}.json`);
      writeFileSync(w, weights);
      writeFileSync(cj, config);
      files.set(adapterKey(i), {
        config: cj,
        weights: w,
        hash: `0x${createHash('sha256').update(weights).digest('hex')}`,
      });
    });
    const adapterBytes = readFileSync(files.get(adapterKey(0))!.weights).byteLength;
    const worker = new Engine({ baseModelDir: baseDir, maxBatch: SIZES.maxBatch, maxSeq });
    await worker.ready();
    const resolver = {
      async resolve(key: string): Promise<AdapterRecord> {
        const f = files.get(key);
        if (!f) throw new Error(`unknown adapter ${key}`);
        return {
          key,
          expectedHash: f.hash,
          fetch: async () => ({
            configJson: readFileSync(f.config, 'utf8'),
            weights: readFileSync(f.weights),
          }),
        };
      },
    };
    const manager = new AdapterManager(worker, resolver, { maxLoaded: nAdapters });
    const readMs: number[] = [];
    const loadMs: number[] = [];
    const coldKeys = Math.min(SIZES.coldLoads, nAdapters);
    for (let i = 0; i < Math.max(coldKeys, 64); i++) {
      const key = adapterKey(i);
      const f = files.get(key)!;
      const t0 = performance.now();
      readFileSync(f.config, 'utf8');
      readFileSync(f.weights);
      const t1 = performance.now();
      await manager.load(key);
      const t2 = performance.now();
      if (i < coldKeys) {
        readMs.push(t1 - t0);
        loadMs.push(t2 - t1);
      }
    }
    const shaMs: number[] = [];
    const parseMs: number[] = [];
    for (let i = 0; i < coldKeys; i++) {
      const f = files.get(adapterKey(i))!;
      const config = readFileSync(f.config, 'utf8');
      const weights = readFileSync(f.weights);
      const t0 = performance.now();
      createHash('sha256').update(weights).digest('hex');
      const t1 = performance.now();
      loraFromPeft(JSON.parse(config), new Uint8Array(weights), base.config, adapterKey(i));
      shaMs.push(t1 - t0);
      parseMs.push(performance.now() - t1);
    }
    console.log(
      `  cold load (${coldKeys} adapters, ${(adapterBytes / 1024).toFixed(0)} KiB each): p50 ${median(loadMs).toFixed(2)} ms vs read ${median(readMs).toFixed(3)} ms`,
    );
    // remote adapters: the same files behind HTTP; first load downloads into the disk cache, the
    // load after an unload reads the cache (the hub counts its requests to prove it)
    let hubRequests = 0;
    const hub = createServer((req, res) => {
      hubRequests++;
      const [, key, name] =
        /^\/([^/]+)\/(adapter_model\.safetensors|adapter_config\.json)$/.exec(req.url ?? '') ?? [];
      const f = files.get(key);
      if (!f) return void res.writeHead(404).end();
      res.writeHead(200).end(readFileSync(name === 'adapter_config.json' ? f.config : f.weights));
    });
    await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
    const hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
    const diskCache = new AdapterDiskCache({ dir: join(tmp, 'adapter-cache') });
    const remoteManager = new AdapterManager(
      worker,
      {
        async resolve(key: string): Promise<AdapterRecord> {
          const source = key.slice('remote-'.length);
          const f = files.get(source)!;
          const url = `${hubUrl}/${source}`;
          const remote = {
            sha256: f.hash,
            weightsUrl: `${url}/adapter_model.safetensors`,
            configUrl: `${url}/adapter_config.json`,
          };
          return { key, expectedHash: f.hash, fetch: () => diskCache.get(remote, key) };
        },
      },
      { maxLoaded: nAdapters },
    );
    const remoteMs: number[] = [];
    const diskMs: number[] = [];
    for (const [times, phase] of [
      [remoteMs, 'remote'],
      [diskMs, 'disk'],
    ] as const) {
      for (let i = 0; i < coldKeys; i++) {
        const t0 = performance.now();
        await remoteManager.load(`remote-${adapterKey(i)}`);
        times.push(performance.now() - t0);
      }
      for (let i = 0; i < coldKeys; i++) await remoteManager.unload(`remote-${adapterKey(i)}`);
      if (phase === 'remote' && diskCache.remoteFetches !== coldKeys)
        throw new Error(`expected ${coldKeys} downloads, saw ${diskCache.remoteFetches}`);
    }
    if (diskCache.diskHits !== coldKeys || hubRequests !== 2 * coldKeys)
      throw new Error(`expected ${coldKeys} disk hits and ${2 * coldKeys} hub requests`);
    hub.close();
    console.log(
      `  remote adapters (${coldKeys}): first load p50 ${median(remoteMs).toFixed(2)} ms (download + verify + cache), from the disk cache p50 ${median(diskMs).toFixed(2)} ms`,
    );

    // worker warm-up, then the trace at 64 adapters through the worker
    await runWorker(worker, trace.slice(0, SIZES.maxBatch), 64, '-wwarm');
    const w64 = await runWorker(worker, trace, 64, '-w64');
    console.log(
      `  worker Engine, 64 adapters: ${(w64.tokens / w64.wall).toFixed(0)} tok/s wall, ${(w64.tokens / w64.cpu).toFixed(0)} tok/CPU-s (${w64.wall.toFixed(1)} s, load ${load1()})`,
    );
    // the same point in-process right after, for a side-by-side ratio
    const b64 = runBatched(engine, trace, 64, '-again');
    console.log(
      `  in-process BatchEngine again, 64 adapters: ${(b64.tokens / b64.wall).toFixed(0)} tok/s wall (${b64.wall.toFixed(1)} s)`,
    );

    // time to first token: requests arriving over time (Poisson), each on its own adapter of 64
    const arrivals = new Rng(SIZES.seed + 1);
    const ttft: number[] = [];
    const latency: number[] = [];
    let ttftTokens = 0;
    const swT = stopwatch();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < SIZES.ttftRequests; i++) {
      const item = trace[i % trace.length];
      const req = request(item, 64, '-ttft');
      req.adapter = adapterKey(i % 64);
      const sent = performance.now();
      pending.push(
        (async () => {
          let first = true;
          for await (const e of worker.run(req) as AsyncGenerator<EngineEvent>) {
            if (e.type === 'token') {
              ttftTokens++;
              if (first) ttft.push(performance.now() - sent);
              first = false;
            } else if (e.type === 'error') throw new Error(`request ${e.id}: ${e.message}`);
          }
          latency.push(performance.now() - sent);
        })(),
      );
      const gap = -Math.log(1 - arrivals.next()) / SIZES.ttftRate;
      await new Promise((r) => setTimeout(r, gap * 1000));
    }
    await Promise.all(pending);
    const tt = swT();
    console.log(
      `  TTFT, ${SIZES.ttftRequests} requests at ~${SIZES.ttftRate}/s over 64 adapters: p50 ${median(ttft).toFixed(0)} ms, p99 ${quantile(ttft, 0.99).toFixed(0)} ms`,
    );
    await worker.close();

    // ---- table + JSON
    const k1 = best(1);
    const k64 = best(64);
    const naiveTps = naive!.tokens / naive!.wall;
    const naiveCpuTps = naive!.tokens / naive!.cpu;
    console.log('');
    printTable(
      ['path', 'adapters', 'tokens/s (wall)', 'tokens/CPU-s', 'vs 1 adapter', 'vs naive'],
      [
        ...SIZES.adapterCounts.map((k) => {
          const b = best(k);
          return [
            'BatchEngine (in-process)',
            k,
            b.tokPerSec.toFixed(0),
            b.tokPerCpuSec.toFixed(0),
            `${(b.tokPerSec / k1.tokPerSec).toFixed(2)}×`,
            `${(b.tokPerSec / naiveTps).toFixed(1)}×`,
          ];
        }),
        [
          'Engine (worker thread)',
          64,
          (w64.tokens / w64.wall).toFixed(0),
          (w64.tokens / w64.cpu).toFixed(0),
          '',
          `${(w64.tokens / w64.wall / naiveTps).toFixed(1)}×`,
        ],
        [
          'naive: mergeLora + generate, 1 at a time',
          64,
          naiveTps.toFixed(0),
          naiveCpuTps.toFixed(0),
          '',
          '1.0×',
        ],
        ...(large
          ? [
              [
                `BatchEngine, ${((4 * large.params) / 1e6).toFixed(0)} MB base`,
                64,
                (large.batched.tokens / large.batched.wall).toFixed(0),
                (large.batched.tokens / large.batched.cpu).toFixed(0),
                '',
                `${(large.batched.tokens / large.batched.wall / (large.naive.tokens / large.naive.wall)).toFixed(1)}×`,
              ],
              [
                `naive, ${((4 * large.params) / 1e6).toFixed(0)} MB base`,
                64,
                (large.naive.tokens / large.naive.wall).toFixed(0),
                (large.naive.tokens / large.naive.cpu).toFixed(0),
                '',
                '1.0×',
              ],
            ]
          : []),
      ],
    );
    console.log('');
    printTable(
      ['measure', 'value', 'note'],
      [
        [
          'throughput ratio 64 vs 1 adapter',
          `${(k64.tokPerSec / k1.tokPerSec).toFixed(2)}×`,
          `wall, best of ${SIZES.rounds} rounds; per round ${roundRatios.join(', ')}; target ≥ 0.8×`,
        ],
        [
          'throughput ratio 64 vs 1 adapter, per CPU-s',
          `${ratioCpu.toFixed(2)}×`,
          'generated tokens per second of process CPU time: robust to the other tenants of this machine',
        ],
        [
          'batching speed-up over naive (64 adapters)',
          `${(k64.tokPerSec / naiveTps).toFixed(1)}×`,
          `per CPU-s ${(k64.tokPerCpuSec / naiveCpuTps).toFixed(1)}×; target ≥ 3×`,
        ],
        ...(large
          ? [
              [
                'speed-up over naive, larger base (64 adapters)',
                `${(large.batched.tokens / large.batched.wall / (large.naive.tokens / large.naive.wall)).toFixed(1)}×`,
                `per CPU-s ${(large.batched.tokens / large.batched.cpu / (large.naive.tokens / large.naive.cpu)).toFixed(1)}×; ${(large.params / 1e6).toFixed(1)}M parameters, random init; naive on ${SIZES.largeNaiveRequests} requests`,
              ],
            ]
          : []),
        [
          'naive: time in mergeLora',
          `${((100 * naive!.mergeWall) / naive!.wall).toFixed(0)} %`,
          `${((1000 * naive!.mergeWall) / SIZES.naiveRequests).toFixed(1)} ms per request`,
        ],
        [
          'worker Engine vs in-process (64 adapters)',
          `${(w64.tokens / w64.wall / (b64.tokens / b64.wall)).toFixed(2)}×`,
          'run back to back',
        ],
        [
          'adapter cold load p50 / p99',
          `${median(loadMs).toFixed(2)} / ${quantile(loadMs, 0.99).toFixed(2)} ms`,
          `AdapterManager: fetch + sha256 + parse + load into the worker; ${coldKeys} adapters`,
        ],
        [
          'of which: sha256 / parse (in-process) p50',
          `${median(shaMs).toFixed(2)} / ${median(parseMs).toFixed(2)} ms`,
          'the rest is the hop to the worker and its event loop',
        ],
        [
          'read the same files p50 / p99',
          `${median(readMs).toFixed(3)} / ${quantile(readMs, 0.99).toFixed(3)} ms`,
          `${(adapterBytes / 1024).toFixed(0)} KiB safetensors + config, page cache warm`,
        ],
        [
          'remote adapter first load p50 / p99',
          `${median(remoteMs).toFixed(2)} / ${quantile(remoteMs, 0.99).toFixed(2)} ms`,
          'HTTP download from a local hub + sha256 + fsync + rename into the disk cache + load',
        ],
        [
          'remote adapter from the disk cache p50 / p99',
          `${median(diskMs).toFixed(2)} / ${quantile(diskMs, 0.99).toFixed(2)} ms`,
          `after unloading: read + re-hash the cached file + load; ${coldKeys} adapters, no hub requests`,
        ],
        [
          'TTFT p50 / p99 (worker Engine)',
          `${median(ttft).toFixed(0)} / ${quantile(ttft, 0.99).toFixed(0)} ms`,
          `${SIZES.ttftRequests} requests, Poisson ${SIZES.ttftRate}/s, 64 resident adapters, ${(ttftTokens / tt.wall).toFixed(0)} tok/s during the test`,
        ],
        [
          'request latency p50 / p99',
          `${median(latency).toFixed(0)} / ${quantile(latency, 0.99).toFixed(0)} ms`,
          `${SIZES.outputTokens} tokens each`,
        ],
      ],
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(`\nwhole bench: ${seconds.toFixed(0)} s; load average at end ${load1()}`);
    const perCount = Object.fromEntries(
      SIZES.adapterCounts.map((k) => {
        const b = best(k);
        return [
          String(k),
          {
            tokensPerSec: round(b.tokPerSec, 1),
            tokensPerCpuSec: round(b.tokPerCpuSec, 1),
            runs: batched.get(k)!.map((r) => round(r.tokens / r.wall, 1)),
          },
        ];
      }),
    );
    writeBench({
      name: 'serve',
      model: baseModel,
      sizes: { ...SIZES, promptTokens, adapterFileBytes: adapterBytes },
      timing:
        'tokens/s = generated tokens per wall second (best of rounds); tokensPerCpuSec per second of process CPU time (all threads)',
      throughput: perCount,
      ratio64vs1: round(k64.tokPerSec / k1.tokPerSec, 3),
      ratio64vs1PerRound: roundRatios,
      ratio64vs1Cpu: round(ratioCpu, 3),
      ratio64vs1Target: 0.8,
      naive: {
        requests: SIZES.naiveRequests,
        adapters: 64,
        tokensPerSec: round(naiveTps, 1),
        tokensPerCpuSec: round(naiveCpuTps, 1),
        mergeSecondsShare: round(naive!.mergeWall / naive!.wall, 3),
      },
      speedupOverNaive: round(k64.tokPerSec / naiveTps, 2),
      speedupOverNaiveCpu: round(k64.tokPerCpuSec / naiveCpuTps, 2),
      speedupTarget: 3,
      largeBase: large && {
        config: LARGE_CONFIG,
        parameters: large.params,
        float32Bytes: 4 * large.params,
        requests: SIZES.largeRequests,
        naiveRequests: SIZES.largeNaiveRequests,
        batchedTokensPerSec: round(large.batched.tokens / large.batched.wall, 1),
        batchedTokensPerCpuSec: round(large.batched.tokens / large.batched.cpu, 1),
        naiveTokensPerSec: round(large.naive.tokens / large.naive.wall, 1),
        naiveTokensPerCpuSec: round(large.naive.tokens / large.naive.cpu, 1),
        naiveMergeSecondsShare: round(large.naive.mergeWall / large.naive.wall, 3),
        speedupOverNaive: round(
          large.batched.tokens / large.batched.wall / (large.naive.tokens / large.naive.wall),
          2,
        ),
        speedupOverNaiveCpu: round(
          large.batched.tokens / large.batched.cpu / (large.naive.tokens / large.naive.cpu),
          2,
        ),
      },
      worker64: {
        tokensPerSec: round(w64.tokens / w64.wall, 1),
        tokensPerCpuSec: round(w64.tokens / w64.cpu, 1),
        inProcessSameTimeTokensPerSec: round(b64.tokens / b64.wall, 1),
      },
      coldLoadMs: { p50: round(median(loadMs), 3), p99: round(quantile(loadMs, 0.99), 3), n: coldKeys },
      sha256Ms: round(median(shaMs), 3),
      parseMs: round(median(parseMs), 3),
      readFileMs: { p50: round(median(readMs), 4), p99: round(quantile(readMs, 0.99), 4) },
      remoteAdapterLoadMs: {
        remoteFetch: { p50: round(median(remoteMs), 3), p99: round(quantile(remoteMs, 0.99), 3) },
        diskCacheHit: { p50: round(median(diskMs), 3), p99: round(quantile(diskMs, 0.99), 3) },
        n: coldKeys,
      },
      ttftMs: {
        p50: round(median(ttft), 1),
        p99: round(quantile(ttft, 0.99), 1),
        requests: SIZES.ttftRequests,
        arrivalsPerSec: SIZES.ttftRate,
      },
      latencyMs: { p50: round(median(latency), 1), p99: round(quantile(latency, 0.99), 1) },
      loadAverageEnd: load1(),
      seconds: round(seconds, 1),
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
