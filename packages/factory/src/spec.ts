import { LORA_TARGETS, type LoraTarget } from '@openledger/model';
import { invalidField } from './errors.ts';

export type Template = 'completion' | 'instruction' | 'classification';
export type Scheduler = 'cosine' | 'linear' | 'constant';

export interface Hyperparameters {
  learningRate: number;
  epochs: number;
  batchSize: number;
  gradientAccumulation: number;
  maxSeqLen: number;
  warmupSteps: number;
  scheduler: Scheduler;
  weightDecay: number;
  maxGradNorm: number;
  loraRank: number;
  loraAlpha: number;
  loraDropout: number;
  loraTargets: LoraTarget[];
  validationSplit: number;
  seed: number;
  /** write a resumable checkpoint every this many optimizer steps */
  checkpointEvery: number;
}

/** Defaults that fine-tune the shipped base model well on a small datanet in a few minutes here. */
export const DEFAULT_HYPERPARAMETERS: Hyperparameters = {
  learningRate: 2e-3,
  epochs: 2,
  batchSize: 8,
  gradientAccumulation: 1,
  maxSeqLen: 128,
  warmupSteps: 5,
  scheduler: 'cosine',
  weightDecay: 0,
  maxGradNorm: 1,
  loraRank: 8,
  loraAlpha: 16,
  loraDropout: 0,
  loraTargets: ['q', 'v', 'o', 'up', 'down'],
  validationSplit: 0.1,
  seed: 1,
  checkpointEvery: 20,
};

export interface DatanetVersionRef {
  id: number;
  version: number;
}

export interface JobSpec {
  baseModel: string;
  datanets: DatanetVersionRef[];
  template: Template;
  hyperparameters: Hyperparameters;
  /** a display name for the adapter */
  name: string;
}

export interface JobSpecInput {
  baseModel?: unknown;
  datanets?: unknown;
  template?: unknown;
  hyperparameters?: Record<string, unknown>;
  name?: unknown;
}

const RANGES: Record<
  Exclude<keyof Hyperparameters, 'scheduler' | 'loraTargets'>,
  { min: number; max: number; integer?: boolean; exclusiveMin?: boolean }
> = {
  learningRate: { min: 0, max: 1, exclusiveMin: true },
  epochs: { min: 1, max: 1000, integer: true },
  batchSize: { min: 1, max: 512, integer: true },
  gradientAccumulation: { min: 1, max: 256, integer: true },
  maxSeqLen: { min: 8, max: 8192, integer: true },
  warmupSteps: { min: 0, max: 100_000, integer: true },
  weightDecay: { min: 0, max: 1 },
  maxGradNorm: { min: 0, max: 1e6 },
  loraRank: { min: 1, max: 1024, integer: true },
  loraAlpha: { min: 0, max: 1e6, exclusiveMin: true },
  loraDropout: { min: 0, max: 0.9 },
  validationSplit: { min: 0, max: 0.5 },
  seed: { min: 0, max: 2 ** 31 - 1, integer: true },
  checkpointEvery: { min: 1, max: 1_000_000, integer: true },
};

/** Fills defaults and checks every field; errors name the field and its limit. */
export function validateJobSpec(input: JobSpecInput): JobSpec {
  if (typeof input.baseModel !== 'string' || input.baseModel.length === 0) {
    throw invalidField('baseModel', 'is required (a base model id from /api/factory/base-models)');
  }
  if (!Array.isArray(input.datanets) || input.datanets.length === 0) {
    throw invalidField('datanets', 'must list at least one { id, version }');
  }
  if (input.datanets.length > 32) throw invalidField('datanets', 'may list at most 32 datanet versions');
  const datanets = input.datanets.map((d, i) => {
    const ref = d as { id?: unknown; version?: unknown };
    if (!Number.isInteger(ref?.id) || (ref.id as number) < 1)
      throw invalidField(`datanets[${i}].id`, 'must be a datanet id ≥ 1');
    if (!Number.isInteger(ref?.version) || (ref.version as number) < 1) {
      throw invalidField(`datanets[${i}].version`, 'must be a published version ≥ 1');
    }
    return { id: ref.id as number, version: ref.version as number };
  });
  const template = input.template ?? 'completion';
  if (template !== 'completion' && template !== 'instruction' && template !== 'classification') {
    throw invalidField('template', 'must be completion, instruction or classification');
  }
  const hp: Hyperparameters = {
    ...DEFAULT_HYPERPARAMETERS,
    loraTargets: [...DEFAULT_HYPERPARAMETERS.loraTargets],
  };
  const given = input.hyperparameters ?? {};
  if (typeof given !== 'object' || Array.isArray(given))
    throw invalidField('hyperparameters', 'must be an object');
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined || value === null) continue;
    const field = `hyperparameters.${key}`;
    if (key === 'scheduler') {
      if (value !== 'cosine' && value !== 'linear' && value !== 'constant') {
        throw invalidField(field, 'must be cosine, linear or constant');
      }
      hp.scheduler = value;
      continue;
    }
    if (key === 'loraTargets') {
      if (!Array.isArray(value) || value.length === 0 || !value.every((t) => LORA_TARGETS.includes(t))) {
        throw invalidField(field, `must be a non-empty list of ${LORA_TARGETS.join(', ')}`);
      }
      hp.loraTargets = [...new Set(value as LoraTarget[])];
      continue;
    }
    const range = RANGES[key as keyof typeof RANGES];
    if (!range) throw invalidField(field, 'is not a known hyperparameter');
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw invalidField(field, 'must be a number');
    if (range.integer && !Number.isInteger(n)) throw invalidField(field, 'must be an integer');
    const lowOk = range.exclusiveMin ? n > range.min : n >= range.min;
    if (!lowOk || n > range.max) {
      throw invalidField(
        field,
        `must be ${range.exclusiveMin ? '>' : '≥'} ${range.min} and ≤ ${range.max}, got ${n}`,
      );
    }
    (hp as unknown as Record<string, number>)[key] = n;
  }
  const name = input.name === undefined ? '' : input.name;
  if (typeof name !== 'string' || name.length > 80)
    throw invalidField('name', 'must be a string of at most 80 characters');
  return { baseModel: input.baseModel, datanets, template, hyperparameters: hp, name };
}
