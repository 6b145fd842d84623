import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Datanets, MemoryAnchor } from '@openledger/datanet';
import { createModel, saveHfModel, trainBpe } from '@openledger/model';
import { openStore, type Store } from '@openledger/store';

export const OWNER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
export const OTHER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

/** Sentences with a strong, learnable pattern, so a LoRA fine-tune clearly lowers held-out loss. */
export function patternedRows(n: number): string[] {
  const animals = ['cat', 'dog', 'fox', 'owl', 'bee', 'elk', 'yak', 'ant'];
  const colours = ['red', 'blue', 'green', 'gold', 'grey', 'pink'];
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = animals[i % animals.length];
    const c = colours[(i * 5) % colours.length];
    rows.push(`the ${c} ${a} sat by the river number ${i} and the ${c} ${a} slept.`);
  }
  return rows;
}

/** A temp home with a tiny base model at models/base/tiny and a store. */
export function tinySetup(): { home: string; store: Store } {
  const home = mkdtempSync(join(tmpdir(), 'factory-'));
  const corpus = [...patternedRows(40), 'a quick brown fox jumps over the lazy dog. '.repeat(4)];
  const tokenizer = trainBpe(corpus, { vocabSize: 320, specialTokens: ['<|endoftext|>'], minFrequency: 2 });
  const model = createModel(
    {
      dim: 32,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      ffnDim: 64,
      vocabSize: tokenizer.vocabSize,
      ropeTheta: 10000,
      normEps: 1e-5,
      tiedEmbeddings: true,
      maxSeq: 64,
    },
    7,
  );
  // A random model's logits are tiny (0.02-scale embeddings after a unit-RMS norm), which no LoRA can
  // fix since it cannot touch the norm or the embeddings; a larger final norm stands in for pretraining.
  model.weights.finalNorm.fill(25);
  saveHfModel(join(home, 'models', 'base', 'tiny'), model, tokenizer);
  const store = openStore(home);
  return { home, store };
}

/** A published text datanet with the given rows, owned by OWNER. */
export async function publishedDatanet(
  store: Store,
  texts: string[],
  opts: { visibility?: 'public' | 'permissioned' } = {},
): Promise<{ datanets: Datanets; id: number; version: number }> {
  const datanets = new Datanets(store, new MemoryAnchor());
  const d = await datanets.create(OWNER, {
    name: 'Animals',
    license: 'CC0-1.0',
    schema: 'text',
    visibility: opts.visibility ?? 'public',
  });
  const jsonl = texts.map((text) => JSON.stringify({ text })).join('\n');
  await datanets.contribute(OWNER, d.id, { name: 'rows.jsonl', bytes: new TextEncoder().encode(jsonl) });
  const pending = datanets.pending(OWNER, d.id, { limit: 100_000 });
  datanets.review(
    OWNER,
    d.id,
    pending.map((rowId) => ({ rowId, decision: 'approve' as const })),
  );
  const v = await datanets.publish(OWNER, d.id);
  return { datanets, id: d.id, version: v.version };
}
