import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AttributionPolicy,
  attribute,
  buildSpanIndex,
  type CorpusDocument,
  type GradientSet,
  parseReceipt,
  policyOfReceipt,
  projectionDims,
  RandomProjector,
  type Receipt,
  readGradientStore,
  SpanIndex,
  type VerifyResult,
  verifyReceipt,
  writeGradientStore,
} from '@openledger/attribution';
import type { AttributionIndexer, Factory, Hash, Job } from '@openledger/factory';
import { buildExamples, JOB_FILES, readJobRows } from '@openledger/factory';
import { type LlamaModel, type LoraAdapter, loadPeftAdapter, perExampleLoraGrads } from '@openledger/model';
import type { Store } from '@openledger/store';
import { OpenLedgerError } from './errors.ts';
import type { Attributor } from './serving.ts';

/**
 * Proof of Attribution on this node. At publish time a suffix-array span index is built over the
 * tokens of every training row (with row → contributor maps); at answer time the answer's tokens are
 * matched against it and a content-addressed receipt names the contributors and the matched spans.
 * Receipts are stored with the prompt and answer, so anyone can recompute and verify them.
 */
export class AttributionService implements AttributionIndexer, Attributor {
  readonly #home: string;
  readonly #store: Store;
  readonly #factory: Factory;
  readonly #indexes = new Map<number, SpanIndex>();
  readonly #gradients = new Map<
    number,
    { set: GradientSet; projector: RandomProjector; model: LlamaModel; adapter: LoraAdapter }
  >();

  constructor(home: string, store: Store, factory: Factory) {
    this.#home = home;
    this.#store = store;
    this.#factory = factory;
    store.sql.exec(`CREATE TABLE IF NOT EXISTS attribution_receipts (
      id TEXT PRIMARY KEY, model_id INTEGER NOT NULL, blob TEXT NOT NULL, input TEXT NOT NULL, output TEXT NOT NULL,
      output_tokens TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS attribution_receipt_contributors (
        receipt_id TEXT NOT NULL, address TEXT NOT NULL, weight REAL NOT NULL, PRIMARY KEY (receipt_id, address));
      CREATE INDEX IF NOT EXISTS attribution_receipt_contributors_address ON attribution_receipt_contributors (address);`);
  }

  #indexPath(jobId: number): string {
    return join(this.#home, 'attribution', `job-${jobId}.spanidx`);
  }

  #gradPath(jobId: number): string {
    return join(this.#home, 'attribution', `job-${jobId}.grads`);
  }

  /**
   * Builds both indexes of a finished job: the span index over its training tokens, and the
   * gradient store — each training example's LoRA gradient under the trained adapter, randomly
   * projected to 1,024 numbers (4 KB) — for DataInf influence at answer time.
   */
  async buildIndex(input: { job: Job; jobDir: string }): Promise<{ hash: Hash; uri: string }> {
    const { tokenizer, model } = this.#factory.catalog.load(input.job.spec.baseModel);
    mkdirSync(join(this.#home, 'attribution'), { recursive: true });
    const path = this.#indexPath(input.job.id);
    buildSpanIndex(this.#documents(input.job, input.jobDir), path);
    const rows = readJobRows(input.jobDir);
    const hp = input.job.spec.hyperparameters;
    const examples = buildExamples(
      rows,
      input.job.spec.template,
      tokenizer,
      Math.min(hp.maxSeqLen, model.config.maxSeq),
    );
    const adapter = loadPeftAdapter(join(input.jobDir, JOB_FILES.adapter), model.config);
    const grads = perExampleLoraGrads(model, adapter, examples);
    const inputDims = grads[0].map((g) => g.length);
    const projector = new RandomProjector({
      seed: input.job.id,
      kind: 'rademacher',
      inputDims,
      outputDims: projectionDims(inputDims, 1024),
    });
    const D = projector.spec.outputDims.reduce((a, b) => a + b, 0);
    const projected = new Float32Array(examples.length * D);
    grads.forEach((g, e) => projected.set(projector.project(g), e * D));
    const gradPath = this.#gradPath(input.job.id);
    writeGradientStore(gradPath, {
      layerDims: projector.spec.outputDims,
      examples: examples.map((e) => ({ rowId: e.rowId, contributor: e.contributor })),
      checkpoints: [{ lr: hp.learningRate, grads: projected }],
      projection: projector.spec,
      dtype: 'f32',
    });
    const spanBytes = readFileSync(path);
    const gradBytes = readFileSync(gradPath);
    const hash = createHash('sha256').update(spanBytes).update(gradBytes).digest('hex');
    const spanBlob = await this.#store.blobs.put(spanBytes);
    const gradBlob = await this.#store.blobs.put(gradBytes);
    return { hash: `0x${hash}`, uri: `openledger://blobs/${spanBlob.id}+${gradBlob.id}` };
  }

  #jobOfModel(modelId: number): Job {
    const job = this.#factory.jobs.findByModel(modelId);
    if (!job)
      throw new OpenLedgerError('unknown_model', `model ${modelId} was not trained on this node`, {
        status: 404,
      });
    return job;
  }

  /** The span index's documents: each training row's tokens, with its row id and contributor. */
  #documents(job: Job, jobDir: string): CorpusDocument[] {
    const { tokenizer } = this.#factory.catalog.load(job.spec.baseModel);
    return readJobRows(jobDir).map((row) => ({
      tokens: tokenizer.encode(row.text ?? [row.prompt, row.completion].filter(Boolean).join(' ')),
      rowId: row.id,
      contributor: row.contributor,
    }));
  }

  #index(job: Job): SpanIndex {
    let index = this.#indexes.get(job.id);
    if (!index) {
      const path = this.#indexPath(job.id);
      try {
        index = SpanIndex.open(path);
      } catch (e) {
        // an index written by an older format version is rebuilt from the job's rows (same
        // content; the published blob of the old file stays where the registry points)
        if ((e as { code?: string }).code !== 'INDEX_VERSION') throw e;
        buildSpanIndex(this.#documents(job, this.#factory.jobDir(job.id)), path);
        index = SpanIndex.open(path);
      }
      this.#indexes.set(job.id, index);
    }
    return index;
  }

  #gradientsOf(job: Job) {
    let g = this.#gradients.get(job.id);
    if (!g) {
      const set = readGradientStore(this.#gradPath(job.id));
      if (!set.projection)
        throw new OpenLedgerError('gradient_store_invalid', 'gradient store has no projection', {
          status: 500,
        });
      const { model } = this.#factory.catalog.load(job.spec.baseModel);
      const adapter = loadPeftAdapter(join(this.#factory.jobDir(job.id), JOB_FILES.adapter), model.config);
      g = { set, projector: new RandomProjector(set.projection), model, adapter };
      this.#gradients.set(job.id, g);
    }
    return g;
  }

  #compute(
    modelId: number,
    input: string,
    output: string,
    outputTokens: number[],
    policy?: AttributionPolicy,
  ): Receipt {
    const job = this.#jobOfModel(modelId);
    const { tokenizer } = this.#factory.catalog.load(job.spec.baseModel);
    const g = this.#gradientsOf(job);
    // the answer's own loss gradient under the adapter, projected like the training gradients
    const promptTokens = tokenizer.encode(input);
    const tokens = [...promptTokens, ...outputTokens].slice(-g.model.config.maxSeq);
    const promptKept = tokens.length - outputTokens.length;
    const test = perExampleLoraGrads(g.model, g.adapter, [
      { tokens, lossMask: tokens.map((_, i) => (i < promptKept ? 0 : 1)) },
    ])[0];
    return attribute({
      modelId: `model-${modelId}`,
      modelKind: 'adapter-on-base',
      gradients: g.set,
      testGradients: [g.projector.project(test)],
      input,
      output,
      outputTokens,
      wordStart: outputTokens.map(
        (t) => /^[\sĠ]/.test(tokenizer.decode([t])) || !/^\w/.test(tokenizer.decode([t])),
      ),
      decode: (ids) => tokenizer.decode(ids),
      spanIndex: this.#index(job),
      policy,
    });
  }

  async attribute(input: { modelId: number; prompt: string; output: string; outputTokens: number[] }) {
    const receipt = this.#compute(input.modelId, input.prompt, input.output, input.outputTokens);
    const blob = await this.#store.blobs.put(JSON.stringify(receipt));
    this.#store.sql
      .prepare(
        `INSERT OR IGNORE INTO attribution_receipts (id, model_id, blob, input, output, output_tokens, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        receipt.id,
        input.modelId,
        blob.id,
        input.prompt,
        input.output,
        JSON.stringify(input.outputTokens),
        new Date().toISOString(),
      );
    const byAddress = this.#store.sql.prepare(
      'INSERT OR IGNORE INTO attribution_receipt_contributors (receipt_id, address, weight) VALUES (?, ?, ?)',
    );
    for (const c of receipt.contributors) byAddress.run(receipt.id, c.address.toLowerCase(), c.weight);
    return { id: receipt.id, contributors: receipt.contributors };
  }

  /** The answers attributed to a contributor, newest first: receipt, model and the contributor's weight. */
  answersOf(
    address: string,
    limit = 200,
  ): { receiptId: string; model: string; weight: number; createdAt: string }[] {
    return (
      this.#store.sql
        .prepare(
          `SELECT r.id AS receiptId, r.model_id AS modelId, c.weight AS weight, r.created_at AS createdAt
           FROM attribution_receipt_contributors c JOIN attribution_receipts r ON r.id = c.receipt_id
           WHERE c.address = ? ORDER BY r.created_at DESC LIMIT ?`,
        )
        .all(address.toLowerCase(), limit) as {
        receiptId: string;
        modelId: number;
        weight: number;
        createdAt: string;
      }[]
    ).map((a) => ({
      receiptId: a.receiptId,
      model: `model-${a.modelId}`,
      weight: a.weight,
      createdAt: a.createdAt,
    }));
  }

  /** A stored receipt with the prompt and answer it attributes. */
  async receipt(
    id: string,
  ): Promise<{ receipt: Receipt; input: string; output: string; outputTokens: number[] }> {
    const row = this.#store.sql.prepare('SELECT * FROM attribution_receipts WHERE id = ?').get(id) as
      | { blob: string; input: string; output: string; output_tokens: string }
      | undefined;
    if (!row)
      throw new OpenLedgerError('unknown_receipt', `receipt ${id} is not on this node`, {
        status: 404,
        field: 'id',
      });
    const bytes = await this.#store.blobs.get(row.blob);
    if (!bytes)
      throw new OpenLedgerError('receipt_missing', `receipt ${id} is recorded but its blob is gone`, {
        status: 500,
      });
    return {
      receipt: parseReceipt(JSON.parse(Buffer.from(bytes).toString('utf8'))),
      input: row.input,
      output: row.output,
      outputTokens: JSON.parse(row.output_tokens),
    };
  }

  /** Recomputes a receipt from the training data index and compares; a tampered receipt fails. */
  async verify(receipt: unknown): Promise<VerifyResult> {
    const id = (receipt as { id?: unknown })?.id;
    if (typeof id !== 'string') return { ok: false, reason: 'receipt has no id' };
    let stored: Awaited<ReturnType<AttributionService['receipt']>>;
    try {
      stored = await this.receipt(id);
    } catch {
      return {
        ok: false,
        reason: `no answer with receipt id ${id} is known to this node (tampered or foreign)`,
      };
    }
    const modelId = Number(String((receipt as { modelId?: unknown }).modelId ?? '').replace('model-', ''));
    // recompute with the parameters the receipt records, not today's defaults
    return verifyReceipt(receipt, (r) =>
      this.#compute(modelId, stored.input, stored.output, stored.outputTokens, policyOfReceipt(r)),
    );
  }
}
