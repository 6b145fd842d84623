import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createLora,
  type LoraAdapter,
  LoraTrainer,
  loadHfModel,
  makeBatch,
  Rng,
  savePeftAdapter,
} from '@openledger/model';
import { type Checkpoint, loadCheckpoint, saveCheckpoint, writeAtomic } from './checkpoint.ts';
import { FactoryError } from './errors.ts';
import { classify, type Evaluation, heldOutLoss, sampleGenerations } from './evaluate.ts';
import { buildExamples, splitValidation, type TrainingExample, type TrainingRow } from './examples.ts';
import { learningRateAt } from './schedule.ts';
import type { JobSpec } from './spec.ts';

/** What a job folder holds: inputs written at submission, outputs written by training. */
export const JOB_FILES = {
  spec: 'spec.json',
  data: 'data.jsonl',
  checkpoint: 'checkpoint.safetensors',
  adapter: 'adapter',
  result: 'result.json',
} as const;

export interface TrainProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  valLoss?: number;
  learningRate: number;
  tokensPerSecond: number;
  etaSeconds: number;
}

export interface TrainResult {
  steps: number;
  trainExamples: number;
  validationExamples: number;
  trainTokens: number;
  finalLoss: number;
  seconds: number;
  tokensPerSecond: number;
  before: Evaluation;
  after: Evaluation;
  samples: { prompt: string; before: string; after: string }[];
  history: { step: number; loss: number; valLoss?: number }[];
  resumedFrom: number;
}

export interface TrainHooks {
  progress?: (p: TrainProgress) => void;
  log?: (line: string) => void;
  /** checked between steps; true stops the run (cancel) after saving a checkpoint */
  shouldStop?: () => boolean;
  /** test hook: called after each checkpoint is written */
  afterCheckpoint?: (step: number) => void;
}

export function readJobSpec(jobDir: string): JobSpec & { baseModelDir: string } {
  return JSON.parse(readFileSync(join(jobDir, JOB_FILES.spec), 'utf8'));
}

export function readJobRows(jobDir: string): TrainingRow[] {
  return readFileSync(join(jobDir, JOB_FILES.data), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/**
 * Trains a LoRA adapter for the job in `jobDir`, resuming from its checkpoint if there is one.
 * Data order and dropout depend only on the seed and the step, so a resumed run takes the same
 * path as an uninterrupted one.
 */
export async function runTrainingJob(
  jobDir: string,
  hooks: TrainHooks = {},
): Promise<TrainResult | 'stopped'> {
  const log = hooks.log ?? (() => {});
  const spec = readJobSpec(jobDir);
  const hp = spec.hyperparameters;
  const { model, tokenizer } = loadHfModel(spec.baseModelDir);
  if (!tokenizer)
    throw new FactoryError('base_model_no_tokenizer', 'the base model has no tokenizer.json', {
      status: 500,
    });
  const maxSeqLen = Math.min(hp.maxSeqLen, model.config.maxSeq);
  const rows = readJobRows(jobDir);
  const examples = buildExamples(rows, spec.template, tokenizer, maxSeqLen);
  if (examples.length === 0)
    throw new FactoryError('no_training_data', 'the chosen datanet versions have no usable rows');
  const { train, validation } = splitValidation(examples, hp.validationSplit);
  const effectiveBatch = Math.min(hp.batchSize * hp.gradientAccumulation, train.length);
  const stepsPerEpoch = Math.ceil(train.length / effectiveBatch);
  const totalSteps = stepsPerEpoch * hp.epochs;

  const adapter: LoraAdapter = createLora(model.config, {
    rank: hp.loraRank,
    alpha: hp.loraAlpha,
    dropout: hp.loraDropout,
    targets: hp.loraTargets,
    seed: hp.seed,
  });
  const trainer = new LoraTrainer(model, adapter, {
    lr: hp.learningRate,
    weightDecay: hp.weightDecay,
    clip: hp.maxGradNorm,
    seed: hp.seed,
  });
  const ckptPath = join(jobDir, JOB_FILES.checkpoint);
  let history: Checkpoint['history'] = [];
  let startStep = 0;
  const ckpt = loadCheckpoint(ckptPath, adapter);
  if (ckpt) {
    trainer.optimizer.importState(ckpt.optimizer);
    history = ckpt.history;
    startStep = ckpt.step;
    log(`resuming from the checkpoint at step ${startStep} of ${totalSteps}`);
  }
  const before = heldOutLoss(model, validation.length ? validation : train.slice(0, 8), null);
  log(
    `training ${train.length} examples (${validation.length} held out), ${totalSteps} steps, batch ${effectiveBatch}`,
  );

  const started = Date.now();
  let trainedTokens = 0;
  let lastLoss = history.at(-1)?.loss ?? Number.NaN;
  for (let step = startStep; step < totalSteps; step++) {
    if (hooks.shouldStop?.()) {
      saveCheckpoint(ckptPath, { step, adapter, optimizer: trainer.optimizer.exportState(), history });
      return 'stopped';
    }
    const epoch = Math.floor(step / stepsPerEpoch);
    const order = epochOrder(train.length, hp.seed, epoch);
    const offset = (step % stepsPerEpoch) * effectiveBatch;
    const batchExamples: TrainingExample[] = order
      .slice(offset, offset + effectiveBatch)
      .map((i) => train[i]);
    const batch = makeBatch(batchExamples);
    const lr = learningRateAt(step, totalSteps, hp.learningRate, hp.warmupSteps, hp.scheduler);
    const loss = trainer.step(batch, lr);
    lastLoss = loss;
    for (const t of batch.targets) if (t >= 0) trainedTokens++;
    const done = step + 1;
    const entry: Checkpoint['history'][number] = { step: done, loss };
    const evalNow = validation.length > 0 && (done % hp.checkpointEvery === 0 || done === totalSteps);
    if (evalNow) entry.valLoss = heldOutLoss(model, validation, adapter).loss;
    history.push(entry);
    const seconds = (Date.now() - started) / 1000;
    const tokensPerSecond = seconds > 0 ? trainedTokens / seconds : 0;
    const stepsPerSecond = seconds > 0 ? (done - startStep) / seconds : 0;
    hooks.progress?.({
      step: done,
      totalSteps,
      epoch,
      loss,
      valLoss: entry.valLoss,
      learningRate: lr,
      tokensPerSecond,
      etaSeconds: stepsPerSecond > 0 ? (totalSteps - done) / stepsPerSecond : 0,
    });
    if (done % hp.checkpointEvery === 0 && done < totalSteps) {
      saveCheckpoint(ckptPath, { step: done, adapter, optimizer: trainer.optimizer.exportState(), history });
      hooks.afterCheckpoint?.(done);
    }
  }
  const seconds = (Date.now() - started) / 1000;

  const heldOut = validation.length ? validation : train.slice(0, 8);
  const after = heldOutLoss(model, heldOut, adapter);
  const validationRows = heldOut.map((e) => rows.find((r) => r.id === e.rowId)!).filter(Boolean);
  if (spec.template === 'classification') {
    const labels = [...new Set(rows.map((r) => r.label ?? ''))].filter(Boolean).sort();
    const b = classify(model, tokenizer, validationRows, labels, null);
    const a = classify(model, tokenizer, validationRows, labels, adapter);
    Object.assign(before, { accuracy: b.accuracy, f1: b.f1 });
    Object.assign(after, { accuracy: a.accuracy, f1: a.f1 });
  }
  const beforeSamples = await sampleGenerations(model, tokenizer, validationRows, spec.template, null);
  const afterSamples = await sampleGenerations(model, tokenizer, validationRows, spec.template, adapter);
  const result: TrainResult = {
    steps: totalSteps,
    trainExamples: train.length,
    validationExamples: validation.length,
    trainTokens: trainedTokens,
    finalLoss: lastLoss,
    seconds,
    tokensPerSecond: seconds > 0 ? trainedTokens / seconds : 0,
    before,
    after,
    samples: beforeSamples.map((s, i) => ({
      prompt: s.prompt,
      before: s.output,
      after: afterSamples[i]?.output ?? '',
    })),
    history,
    resumedFrom: startStep,
  };
  // the adapter in PEFT form first; result.json last, as the mark that the job finished
  savePeftAdapter(join(jobDir, JOB_FILES.adapter), adapter, { baseModel: spec.baseModel });
  writeAtomic(join(jobDir, JOB_FILES.result), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** The example order of an epoch: a seeded Fisher–Yates shuffle, so it is the same after a resume. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rng = new Rng(seed * 7919 + epoch + 1);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export function jobHasResult(jobDir: string): boolean {
  return existsSync(join(jobDir, JOB_FILES.result));
}
