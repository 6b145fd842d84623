import {
  type BpeTokenizer,
  evalLoss,
  generateText,
  type LlamaModel,
  type LoraAdapter,
  makeBatch,
} from '@openledger/model';
import {
  classificationPrompt,
  END_OF_TEXT,
  instructionPrompt,
  type TrainingExample,
  type TrainingRow,
} from './examples.ts';
import type { Template } from './spec.ts';

export interface Evaluation {
  examples: number;
  loss: number;
  perplexity: number;
  /** classification only: accuracy and macro F1 of picking the most likely label */
  accuracy?: number;
  f1?: number;
}

/** Mean held-out loss (token-weighted over batches) and its perplexity. */
export function heldOutLoss(
  model: LlamaModel,
  examples: TrainingExample[],
  adapter: LoraAdapter | null,
  batchSize = 8,
): Evaluation {
  let weighted = 0;
  let tokens = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const part = examples.slice(i, i + batchSize);
    const batch = makeBatch(part);
    let counted = 0;
    for (const t of batch.targets) if (t >= 0) counted++;
    if (counted === 0) continue;
    weighted += evalLoss(model, batch, adapter) * counted;
    tokens += counted;
  }
  const loss = tokens ? weighted / tokens : Number.NaN;
  return { examples: examples.length, loss, perplexity: Math.exp(loss) };
}

/**
 * Classification by likelihood: for each example, the label whose tokens the model finds most
 * likely after the prompt. Returns accuracy and macro F1 over the labels seen.
 */
export function classify(
  model: LlamaModel,
  tokenizer: BpeTokenizer,
  rows: TrainingRow[],
  labels: string[],
  adapter: LoraAdapter | null,
): { accuracy: number; f1: number; predictions: string[] } {
  const predictions: string[] = [];
  const eot = tokenizer.specialId(END_OF_TEXT);
  for (const row of rows) {
    const prompt = tokenizer.encode(classificationPrompt(row.text ?? ''));
    let best = labels[0];
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const label of labels) {
      const answer = tokenizer.encode(` ${label}`);
      if (eot !== undefined) answer.push(eot);
      const tokens = [...prompt, ...answer];
      const batch = makeBatch([{ tokens, lossMask: tokens.map((_, i) => (i < prompt.length ? 0 : 1)) }]);
      // mean loss over the label's tokens → total log-likelihood of the label
      const score = -evalLoss(model, batch, adapter) * answer.length;
      if (score > bestScore) {
        bestScore = score;
        best = label;
      }
    }
    predictions.push(best);
  }
  const truth = rows.map((r) => r.label ?? '');
  const correct = predictions.filter((p, i) => p === truth[i]).length;
  let f1Sum = 0;
  for (const label of labels) {
    const tp = predictions.filter((p, i) => p === label && truth[i] === label).length;
    const fp = predictions.filter((p, i) => p === label && truth[i] !== label).length;
    const fn = predictions.filter((p, i) => p !== label && truth[i] === label).length;
    const precision = tp + fp ? tp / (tp + fp) : 0;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    f1Sum += precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  }
  return {
    accuracy: rows.length ? correct / rows.length : 0,
    f1: labels.length ? f1Sum / labels.length : 0,
    predictions,
  };
}

/** A few greedy generations from validation prompts, to read next to the numbers. */
export async function sampleGenerations(
  model: LlamaModel,
  tokenizer: BpeTokenizer,
  rows: TrainingRow[],
  template: Template,
  adapter: LoraAdapter | null,
  count = 2,
): Promise<{ prompt: string; output: string }[]> {
  const out: { prompt: string; output: string }[] = [];
  for (const row of rows.slice(0, count)) {
    const prompt =
      template === 'instruction'
        ? instructionPrompt(row.prompt ?? '')
        : template === 'classification'
          ? classificationPrompt(row.text ?? '')
          : (row.text ?? '').split(/\s+/).slice(0, 8).join(' ');
    const output = await generateText(model, tokenizer, prompt, { maxTokens: 24, temperature: 0, adapter });
    out.push({ prompt, output });
  }
  return out;
}
