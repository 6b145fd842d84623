import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBaseModel } from '../src/base.ts';
import { generateText } from '../src/generate.ts';
import { evalLoss } from '../src/model.ts';
import { makeBatch } from '../src/train.ts';

test('the shipped base model loads and predicts English far better than uniform', async () => {
  const { model, tokenizer } = loadBaseModel();
  assert.equal(model.config.vocabSize, tokenizer.vocabSize);
  const text = 'The Congress of the United States has the power to regulate commerce with foreign nations.';
  const ids = tokenizer.encode(text);
  assert.equal(tokenizer.decode(ids), text);
  const loss = evalLoss(model, makeBatch([{ tokens: ids }]));
  assert.ok(
    loss < Math.log(model.config.vocabSize) - 2,
    `loss ${loss} vs uniform ${Math.log(model.config.vocabSize)}`,
  );
  const a = await generateText(model, tokenizer, 'The people', { maxTokens: 8, seed: 1, temperature: 0.8 });
  const b = await generateText(model, tokenizer, 'The people', { maxTokens: 8, seed: 1, temperature: 0.8 });
  assert.equal(a, b);
  assert.ok(a.length > 0);
  assert.equal(loadBaseModel(), loadBaseModel()); // cached
});
