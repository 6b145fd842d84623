import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Factory, JOB_FILES, runTrainingJob, type TrainResult } from '../src/index.ts';
import { OTHER, OWNER, patternedRows, publishedDatanet, tinySetup } from './helpers.ts';

const hyperparameters = {
  epochs: 3,
  batchSize: 8,
  learningRate: 1e-2,
  loraRank: 4,
  checkpointEvery: 5,
  seed: 3,
};

test('a real fine-tune on a small datanet lowers held-out loss against the base model', async () => {
  const { home, store } = tinySetup();
  const { datanets, id, version } = await publishedDatanet(store, patternedRows(60));
  const factory = new Factory({ home, store, datanets });
  const events: string[] = [];
  const job = factory.submit(OWNER, {
    baseModel: 'tiny',
    datanets: [{ id, version }],
    template: 'completion',
    hyperparameters: { ...hyperparameters, epochs: 20, learningRate: 3e-2, loraRank: 8, checkpointEvery: 50 },
  });
  factory.subscribe(job.id, (e) => events.push(e.type));
  const done = await factory.waitFor(job.id);
  assert.equal(done.status, 'completed', done.error ?? '');
  const result = done.result!;
  assert.ok(
    result.after.loss < result.before.loss * 0.9,
    `held-out loss ${result.before.loss} → ${result.after.loss}`,
  );
  assert.ok(result.validationExamples > 0);
  assert.ok(events.includes('progress'));
  assert.ok(existsSync(join(factory.jobDir(job.id), JOB_FILES.adapter, 'adapter_model.safetensors')));
  assert.ok(factory.jobs.logs(job.id).some((l) => l.line.startsWith('completed')));
  await factory.stop();
  store.close();
});

test('refuses an unknown base model, an unpublished version and a permissioned datanet without access', async () => {
  const { home, store } = tinySetup();
  const { datanets, id } = await publishedDatanet(store, patternedRows(12), { visibility: 'permissioned' });
  const factory = new Factory({ home, store, datanets, autoStart: false });
  assert.throws(
    () => factory.submit(OWNER, { baseModel: 'nope', datanets: [{ id, version: 1 }] }),
    /baseModel "nope" is not on this node/,
  );
  assert.throws(
    () => factory.submit(OWNER, { baseModel: 'tiny', datanets: [{ id, version: 9 }] }),
    /datanets\[0\]/,
  );
  assert.throws(
    () => factory.submit(OTHER, { baseModel: 'tiny', datanets: [{ id, version: 1 }] }),
    /datanets\[0\]/,
  );
  assert.equal(factory.jobs.list().length, 0, 'nothing was queued');
  store.close();
});

test('kill -9 mid-training, resume: the final loss matches an uninterrupted run', async () => {
  const { home, store } = tinySetup();
  const { datanets, id, version } = await publishedDatanet(store, patternedRows(60));
  const factory = new Factory({ home, store, datanets, autoStart: false });
  const job = factory.submit(OWNER, { baseModel: 'tiny', datanets: [{ id, version }], hyperparameters });
  const dirA = factory.jobDir(job.id);
  const dirB = mkdtempSync(join(tmpdir(), 'factory-b-'));
  cpSync(dirA, dirB, { recursive: true });

  // uninterrupted reference run, in this process
  const reference = (await runTrainingJob(dirB)) as TrainResult;

  // the same job in a training process that we kill -9 right after its first checkpoint
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('../src/child.ts', import.meta.url)), dirA],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (existsSync(join(dirA, JOB_FILES.checkpoint))) {
        clearInterval(timer);
        child.kill('SIGKILL');
      }
    }, 5);
    child.on('exit', (_code, signal) => {
      clearInterval(timer);
      signal === 'SIGKILL' ? resolve() : reject(new Error('training finished before it could be killed'));
    });
  });
  assert.ok(!existsSync(join(dirA, JOB_FILES.result)), 'the killed run did not finish');

  const resumed = (await runTrainingJob(dirA)) as TrainResult;
  assert.ok(resumed.resumedFrom > 0, 'resumed from a checkpoint');
  assert.ok(
    Math.abs(resumed.finalLoss - reference.finalLoss) < 1e-4,
    `final loss ${resumed.finalLoss} vs uninterrupted ${reference.finalLoss}`,
  );
  assert.ok(Math.abs(resumed.after.loss - reference.after.loss) < 1e-4);
  const saved = JSON.parse(readFileSync(join(dirA, JOB_FILES.result), 'utf8')) as TrainResult;
  assert.equal(saved.steps, reference.steps);
  store.close();
});
