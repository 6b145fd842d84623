import type { BpeTokenizer, Example } from '@openledger/model';
import { FactoryError } from './errors.ts';
import type { Template } from './spec.ts';

/** One approved datanet row as exported for training (a line of a version's JSONL export). */
export interface TrainingRow {
  id: string;
  contributor: string;
  datanetId: number;
  version: number;
  text?: string;
  prompt?: string;
  completion?: string;
  label?: string;
}

/** A tokenised training example that remembers the row (and so the contributor) it came from. */
export interface TrainingExample extends Example {
  rowId: string;
  contributor: string;
  /** the label of a classification example */
  label?: string;
}

export const END_OF_TEXT = '<|endoftext|>';

/** How a prompt is framed; the same framing is used at chat time. */
export function instructionPrompt(prompt: string): string {
  return `Question: ${prompt.trim()}\nAnswer:`;
}

export function classificationPrompt(text: string): string {
  return `Text: ${text.trim()}\nLabel:`;
}

/**
 * Turns rows into examples for a template. Completion trains on every token; instruction and
 * classification train only on the answer (the prompt's tokens are masked out of the loss).
 */
export function buildExamples(
  rows: readonly TrainingRow[],
  template: Template,
  tokenizer: BpeTokenizer,
  maxSeqLen: number,
): TrainingExample[] {
  const eot = tokenizer.specialId(END_OF_TEXT);
  const out: TrainingExample[] = [];
  for (const row of rows) {
    let prompt: number[] = [];
    let answer: number[];
    if (template === 'completion') {
      if (typeof row.text !== 'string') throw schemaMismatch(row, template, 'text');
      answer = tokenizer.encode(row.text);
    } else if (template === 'instruction') {
      if (typeof row.prompt !== 'string' || typeof row.completion !== 'string') {
        throw schemaMismatch(row, template, 'prompt and completion');
      }
      prompt = tokenizer.encode(instructionPrompt(row.prompt));
      answer = tokenizer.encode(` ${row.completion.trim()}`);
    } else {
      if (typeof row.text !== 'string' || typeof row.label !== 'string')
        throw schemaMismatch(row, template, 'text and label');
      prompt = tokenizer.encode(classificationPrompt(row.text));
      answer = tokenizer.encode(` ${row.label.trim()}`);
    }
    if (eot !== undefined) answer.push(eot);
    // keep the answer whole when the prompt is long: cut the prompt from the left
    const room = maxSeqLen - answer.length;
    if (room < 0) {
      if (template !== 'completion') prompt = [];
      answer = answer.slice(0, maxSeqLen);
    } else if (prompt.length > room) {
      prompt = prompt.slice(prompt.length - room);
    }
    const tokens = [...prompt, ...answer];
    if (tokens.length < 2) continue;
    const lossMask = tokens.map((_, i) => (i < prompt.length ? 0 : 1));
    out.push({ tokens, lossMask, rowId: row.id, contributor: row.contributor, label: row.label });
  }
  return out;
}

function schemaMismatch(row: TrainingRow, template: Template, fields: string): FactoryError {
  return new FactoryError(
    'template_mismatch',
    `template ${template} needs ${fields} in every row; row ${row.id} of datanet ${row.datanetId} has other fields`,
    { field: 'template' },
  );
}

/** Deterministic split: a row goes to validation by a hash of its id, so it stays put across runs. */
export function splitValidation<T extends { rowId: string }>(
  examples: T[],
  fraction: number,
): { train: T[]; validation: T[] } {
  if (fraction <= 0 || examples.length < 4) return { train: examples, validation: [] };
  const train: T[] = [];
  const validation: T[] = [];
  for (const e of examples) {
    const h = Number.parseInt(e.rowId.replace(/^0x/, '').slice(0, 8), 16) / 0xffffffff;
    (h < fraction ? validation : train).push(e);
  }
  if (validation.length === 0) validation.push(train.pop()!);
  if (train.length === 0) train.push(validation.pop()!);
  return { train, validation };
}
