import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  attribute,
  buildSpanIndex,
  type CorpusDocument,
  parseReceipt,
  type Receipt,
  SpanIndex,
  type VerifyResult,
  verifyReceipt,
} from '@openledger/attribution';
import type { AttributionIndexer, Factory, Hash, Job } from '@openledger/factory';
import { readJobRows } from '@openledger/factory';
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

  constructor(home: string, store: Store, factory: Factory) {
    this.#home = home;
    this.#store = store;
    this.#factory = factory;
    store.sql.exec(`CREATE TABLE IF NOT EXISTS attribution_receipts (
      id TEXT PRIMARY KEY, model_id INTEGER NOT NULL, blob TEXT NOT NULL, input TEXT NOT NULL, output TEXT NOT NULL,
      output_tokens TEXT NOT NULL, created_at TEXT NOT NULL)`);
  }

  #indexPath(jobId: number): string {
    return join(this.#home, 'attribution', `job-${jobId}.spanidx`);
  }

  async buildIndex(input: { job: Job; jobDir: string }): Promise<{ hash: Hash; uri: string }> {
    const { tokenizer } = this.#factory.catalog.load(input.job.spec.baseModel);
    const documents: CorpusDocument[] = readJobRows(input.jobDir).map((row) => ({
      tokens: tokenizer.encode(row.text ?? [row.prompt, row.completion].filter(Boolean).join(' ')),
      rowId: row.id,
      contributor: row.contributor,
    }));
    mkdirSync(join(this.#home, 'attribution'), { recursive: true });
    const path = this.#indexPath(input.job.id);
    buildSpanIndex(documents, path);
    const bytes = readFileSync(path);
    const blob = await this.#store.blobs.put(bytes);
    return {
      hash: `0x${createHash('sha256').update(bytes).digest('hex')}`,
      uri: `openledger://blobs/${blob.id}`,
    };
  }

  #jobOfModel(modelId: number): Job {
    const job = this.#factory.jobs.list({ limit: 1000 }).find((j) => j.modelId === modelId);
    if (!job)
      throw new OpenLedgerError('unknown_model', `model ${modelId} was not trained on this node`, {
        status: 404,
      });
    return job;
  }

  #index(jobId: number): SpanIndex {
    let index = this.#indexes.get(jobId);
    if (!index) {
      index = SpanIndex.open(this.#indexPath(jobId));
      this.#indexes.set(jobId, index);
    }
    return index;
  }

  #compute(modelId: number, input: string, output: string, outputTokens: number[]): Receipt {
    const job = this.#jobOfModel(modelId);
    const { tokenizer } = this.#factory.catalog.load(job.spec.baseModel);
    return attribute({
      modelId: `model-${modelId}`,
      modelKind: 'base',
      input,
      output,
      outputTokens,
      wordStart: outputTokens.map(
        (t) => /^[\sĠ]/.test(tokenizer.decode([t])) || !/^\w/.test(tokenizer.decode([t])),
      ),
      decode: (ids) => tokenizer.decode(ids),
      spanIndex: this.#index(job.id),
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
    return { id: receipt.id, contributors: receipt.contributors };
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
    return verifyReceipt(receipt, () =>
      this.#compute(modelId, stored.input, stored.output, stored.outputTokens),
    );
  }
}
