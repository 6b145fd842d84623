import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HYPERPARAMETERS, learningRateAt, validateJobSpec } from '../src/index.ts';

const base = { baseModel: 'tiny', datanets: [{ id: 1, version: 1 }], template: 'completion' };

test('defaults fill every hyperparameter', () => {
  const spec = validateJobSpec(base);
  assert.deepEqual(spec.hyperparameters, DEFAULT_HYPERPARAMETERS);
});

test('invalid configurations are refused with the field named', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hyperparameters: { loraRank: 0 } }, /hyperparameters\.loraRank must be ≥ 1/],
    [{ hyperparameters: { learningRate: -0.1 } }, /hyperparameters\.learningRate must be > 0/],
    [{ hyperparameters: { epochs: 1.5 } }, /hyperparameters\.epochs must be an integer/],
    [{ hyperparameters: { loraTargets: ['q', 'nope'] } }, /hyperparameters\.loraTargets/],
    [{ hyperparameters: { bogus: 1 } }, /hyperparameters\.bogus is not a known hyperparameter/],
    [{ template: 'poetry' }, /template must be/],
    [{ datanets: [] }, /datanets must list at least one/],
    [{ datanets: [{ id: 1, version: 0 }] }, /datanets\[0\]\.version/],
    [{ baseModel: '' }, /baseModel is required/],
  ];
  for (const [patch, message] of cases) {
    assert.throws(() => validateJobSpec({ ...base, ...patch }), message, JSON.stringify(patch));
  }
});

test('learning rate schedule: warm-up rises linearly, cosine ends at a tenth', () => {
  assert.equal(learningRateAt(0, 100, 1, 4, 'cosine'), 0.25);
  assert.equal(learningRateAt(3, 100, 1, 4, 'cosine'), 1);
  assert.ok(Math.abs(learningRateAt(100, 100, 1, 4, 'cosine') - 0.1) < 1e-12);
  assert.equal(learningRateAt(50, 100, 1, 0, 'constant'), 1);
  assert.ok(learningRateAt(60, 100, 1, 0, 'linear') < learningRateAt(30, 100, 1, 0, 'linear'));
});
