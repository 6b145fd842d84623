import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadHfModel } from '../src/io/hf.ts';
import { pretrain } from '../src/pretrain.ts';

test('pretrain runs end to end on a small corpus and writes a loadable checkpoint with a model card', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-pretrain-'));
  try {
    const corpus = join(dir, 'corpus');
    mkdirSync(corpus);
    const words =
      'the people of the union have a government that serves the common good and the nation'.split(' ');
    for (let i = 0; i < 20; i++) {
      const text = Array.from({ length: 80 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ');
      writeFileSync(join(corpus, `${String(i).padStart(2, '0')}.txt`), `${text}.`);
    }
    const out = join(dir, 'out');
    const lines: string[] = [];
    const { metrics } = await pretrain({
      outDir: out,
      corpusDir: corpus,
      config: { dim: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, ffnDim: 32, vocabSize: 300, maxSeq: 64 },
      seqLen: 16,
      batchSize: 2,
      steps: 4,
      evalBatches: 1,
      log: (l) => lines.push(l),
    });
    assert.equal(metrics.steps, 4);
    assert.equal(metrics.trainDocs, 18);
    assert.equal(metrics.heldOutDocs, 2);
    assert.ok(Number.isFinite(metrics.heldOutPerplexity) && metrics.unigramPerplexity > 1);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'metrics.json', 'MODEL_CARD.md'])
      assert.ok(existsSync(join(out, f)), f);
    const { model, tokenizer } = loadHfModel(out);
    assert.equal(model.config.dim, 16);
    assert.equal(tokenizer!.vocabSize, model.config.vocabSize);
    assert.match(readFileSync(join(out, 'MODEL_CARD.md'), 'utf8'), /unigram baseline perplexity/);
    assert.ok(lines.some((l) => l.startsWith('done:')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
