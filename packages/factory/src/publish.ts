import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BpeTokenizer,
  type LlamaModel,
  type LoraAdapter,
  loadPeftAdapter,
  loraToGguf,
  mergeLora,
  saveHfModel,
} from '@openledger/model';
import type { Store } from '@openledger/store';
import { FactoryError } from './errors.ts';
import type { Job } from './repository.ts';
import { JOB_FILES } from './train-job.ts';

export type Hash = `0x${string}`;

/** Everything ModelRegistry records about a fine-tuned model (docs/protocol.md). */
export interface ModelLineage {
  owner: string;
  baseModelHash: Hash;
  adapterHash: Hash;
  trainingConfigHash: Hash;
  attributionIndexHash: Hash;
  pricePerKInput: bigint;
  pricePerKOutput: bigint;
  uri: string;
  datanets: { datanetId: number; version: number }[];
}

/** Registers a model on-chain; packages/node implements it with the ModelRegistry contract. */
export interface ModelRegistrar {
  registerModel(lineage: ModelLineage): Promise<{ modelId: number; txHash?: string }>;
}

/** Builds the attribution index of a finished job; returns the hash of the index files. */
export interface AttributionIndexer {
  buildIndex(input: { job: Job; jobDir: string; modelId?: number }): Promise<{ hash: Hash; uri: string }>;
}

export interface PublishedModel {
  modelId: number;
  txHash?: string;
  lineage: ModelLineage;
  /** blob ids of the adapter files */
  files: { adapterConfig: string; adapterWeights: string };
}

export function sha256Hash(bytes: Uint8Array | string): Hash {
  return `0x${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The hash of a job's training configuration: the canonical JSON of its spec. */
export function trainingConfigHash(job: Job): Hash {
  return sha256Hash(canonicalJson(job.spec));
}

/**
 * Publishes a finished job: stores the adapter files content-addressed, builds the attribution
 * index, and registers the model with its lineage and price. The adapter hash recorded on-chain
 * is the sha256 of `adapter_model.safetensors`, so anyone holding the file can check it.
 */
export async function publishJob(input: {
  job: Job;
  jobDir: string;
  store: Store;
  registrar: ModelRegistrar;
  indexer?: AttributionIndexer;
  pricePerKInput: bigint;
  pricePerKOutput: bigint;
}): Promise<PublishedModel> {
  const { job, jobDir } = input;
  if (job.status !== 'completed') {
    throw new FactoryError(
      'job_not_completed',
      `job ${job.id} is ${job.status}; only a completed job can be published`,
      {
        status: 409,
      },
    );
  }
  if (job.modelId !== null) {
    throw new FactoryError(
      'already_published',
      `job ${job.id} was already published as model ${job.modelId}`,
      { status: 409 },
    );
  }
  for (const [field, price] of [
    ['pricePerKInput', input.pricePerKInput],
    ['pricePerKOutput', input.pricePerKOutput],
  ] as const) {
    if (price < 0n || price >= 2n ** 128n)
      throw new FactoryError('invalid_price', `${field} must be in 0..2^128-1 wei`, { field });
  }
  const adapterDir = join(jobDir, JOB_FILES.adapter);
  const weights = readFileSync(join(adapterDir, 'adapter_model.safetensors'));
  const config = readFileSync(join(adapterDir, 'adapter_config.json'));
  const weightsBlob = await input.store.blobs.put(weights);
  const configBlob = await input.store.blobs.put(config);
  const index = input.indexer ? await input.indexer.buildIndex({ job, jobDir }) : undefined;
  const lineage: ModelLineage = {
    owner: job.owner,
    baseModelHash: job.baseModelHash as Hash,
    adapterHash: sha256Hash(weights),
    trainingConfigHash: trainingConfigHash(job),
    attributionIndexHash: index?.hash ?? (`0x${'0'.repeat(64)}` as Hash),
    pricePerKInput: input.pricePerKInput,
    pricePerKOutput: input.pricePerKOutput,
    uri: `openledger://blobs/${weightsBlob.id}?config=${configBlob.id}${index ? `&index=${index.uri}` : ''}`,
    datanets: job.spec.datanets.map((d) => ({ datanetId: d.id, version: d.version })),
  };
  const { modelId, txHash } = await input.registrar.registerModel(lineage);
  return {
    modelId,
    txHash,
    lineage,
    files: { adapterConfig: configBlob.id, adapterWeights: weightsBlob.id },
  };
}

export type ExportFormat = 'peft' | 'gguf-lora' | 'merged';

/** Writes a finished job's adapter in one of the export formats into `outDir`; returns the files written. */
export function exportAdapter(input: {
  jobDir: string;
  format: ExportFormat;
  outDir: string;
  base: { model: LlamaModel; tokenizer: BpeTokenizer };
  name: string;
}): string[] {
  const adapterDir = join(input.jobDir, JOB_FILES.adapter);
  if (!existsSync(join(adapterDir, 'adapter_model.safetensors'))) {
    throw new FactoryError('no_adapter', 'this job has no trained adapter yet', { status: 409 });
  }
  const adapter: LoraAdapter = loadPeftAdapter(adapterDir, input.base.model.config);
  mkdirSync(input.outDir, { recursive: true });
  if (input.format === 'peft') {
    const files = ['adapter_config.json', 'adapter_model.safetensors'];
    for (const f of files) writeFileSync(join(input.outDir, f), readFileSync(join(adapterDir, f)));
    return files.map((f) => join(input.outDir, f));
  }
  if (input.format === 'gguf-lora') {
    const path = join(input.outDir, `${input.name}.lora.gguf`);
    writeFileSync(path, loraToGguf(adapter, input.base.model.config, { name: input.name }));
    return [path];
  }
  const merged = mergeLora(input.base.model, adapter);
  saveHfModel(input.outDir, merged, input.base.tokenizer);
  return ['config.json', 'model.safetensors', 'tokenizer.json'].map((f) => join(input.outDir, f));
}

/** JSON with sorted keys, so equal specs hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
