import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ChainWalletClient } from '@openledger/chain';
import {
  computeFee,
  type EconomyChain,
  epochParamsOf,
  escrowDomainOf,
  type Ledger,
  meterRequest,
  nextVoucher,
  readCurrentEpoch,
  readParamsAt,
  signVoucher,
  type Voucher,
  type VoucherBook,
  verifyVoucher,
} from '@openledger/economy';
import { type BaseModelCatalog, instructionPrompt, SHIPPED_BASE_MODEL_ID } from '@openledger/factory';
import type { BpeTokenizer } from '@openledger/model';
import {
  AdapterDiskCache,
  AdapterManager,
  type AdapterResolver,
  adapterLocation,
  compileResponseFormat,
  DEFAULT_ADAPTER_CACHE_BYTES,
  Engine,
  type EngineRequest,
  minJsonLength,
  type ResponseFormat,
  ServeError,
} from '@openledger/serve';
import type { Store } from '@openledger/store';
import { type Address, getAddress } from 'viem';
import { OpenLedgerError } from './errors.ts';
import { readModelCount, readModelRecord } from './model-record.ts';
import type { Signers } from './signers.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface GenerationRequest {
  model: string;
  /** chat messages, or a raw prompt for /v1/completions */
  messages?: ChatMessage[];
  prompt?: string;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** a weighted mixture of adapters instead of `model` (priced as the first) */
  mixture?: { model: string; weight: number }[];
  /** JSON output: any object, or one that fits a JSON schema (constrained decoding) */
  responseFormat?: ResponseFormat;
  /**
   * The consumer's EIP-712 voucher paying for this request (X-OpenLedger-Voucher). It must raise the
   * stream's authorised total by at least the request's worst-case cost; what the answer costs less
   * stays prepaid credit of the stream (settlement carries it). Without one, this node signs only for
   * the local test accounts it holds.
   */
  voucher?: { voucher: Voucher; signature: `0x${string}` };
}

export interface GenerationResult {
  id: string;
  model: string;
  text: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  /** wei of OPEN charged; "0" for the free base model */
  cost: string;
  receiptId: string | null;
}

/** Attaches an attribution receipt to an answer; implemented by the attribution service. */
export interface Attributor {
  attribute(input: {
    modelId: number;
    prompt: string;
    promptTokens: number[];
    output: string;
    outputTokens: number[];
  }): Promise<{ id: string; contributors: { address: string; weight: number }[] } | null>;
}

interface ModelEntry {
  id: string;
  modelId: number | null;
  owner: Address | null;
  adapterHash: `0x${string}` | null;
  uri: string | null;
  deprecated: boolean;
  pricePerKInput: bigint;
  pricePerKOutput: bigint;
}

const MODEL_PREFIX = 'model-';

/**
 * OpenLoRA on this node: one base model in the engine's worker thread, registered adapters loaded
 * just in time (hash-checked against ModelRegistry), every paid request priced from the chain,
 * paid by an EIP-712 voucher and recorded in the ledger before its answer is acknowledged.
 */
export class ServingService {
  readonly engine: Engine;
  readonly adapters: AdapterManager;
  /** adapters fetched from remote locations, kept on disk (LRU by bytes) */
  readonly adapterCache: AdapterDiskCache;
  /** where content-addressed adapter blobs missing locally are fetched from (`<url>/<sha256>`), if set */
  readonly adapterBaseUrl: string | undefined;
  readonly tokenizer: BpeTokenizer;
  readonly baseModelId = SHIPPED_BASE_MODEL_ID;
  requests = 0;
  failures = 0;
  readonly #chain: EconomyChain;
  readonly #store: Store;
  readonly #signers: Signers;
  readonly #operator: ChainWalletClient;
  readonly #ledger: Ledger;
  readonly #book: VoucherBook;
  attributor: Attributor | undefined;
  readonly ttftSeconds: number[] = [];

  constructor(options: {
    catalog: BaseModelCatalog;
    chain: EconomyChain;
    store: Store;
    signers: Signers;
    operator: ChainWalletClient;
    ledger: Ledger;
    book: VoucherBook;
    maxBatch?: number;
    maxAdapters?: number;
    /**
     * The adapter disk cache: `dir` (default `<home>/cache/adapters`), `maxBytes` (default
     * $OPENLEDGER_ADAPTER_CACHE_BYTES or 8 GiB) and `baseUrl` (default $OPENLEDGER_ADAPTER_BASE_URL), a
     * hub serving content-addressed blobs by sha256 for adapters whose files this node lacks.
     */
    adapterCache?: { dir?: string; maxBytes?: number; baseUrl?: string };
  }) {
    const base = options.catalog.load(SHIPPED_BASE_MODEL_ID);
    this.tokenizer = base.tokenizer;
    this.engine = new Engine({ baseModelDir: base.info.dir, maxBatch: options.maxBatch ?? 64 });
    this.#chain = options.chain;
    this.#store = options.store;
    this.#signers = options.signers;
    this.#operator = options.operator;
    this.#ledger = options.ledger;
    this.#book = options.book;
    const cache = options.adapterCache ?? {};
    this.adapterBaseUrl = cache.baseUrl ?? (process.env.OPENLEDGER_ADAPTER_BASE_URL || undefined);
    this.adapterCache = new AdapterDiskCache({
      dir: cache.dir ?? join(options.store.home, 'cache', 'adapters'),
      maxBytes: cache.maxBytes ?? envBytes('OPENLEDGER_ADAPTER_CACHE_BYTES') ?? DEFAULT_ADAPTER_CACHE_BYTES,
    });
    // scan the cache now (drops partial downloads, rebuilds the LRU); a failure shows at first use
    this.adapterCache.open().catch(() => {});
    this.adapters = new AdapterManager(this.engine, this.#resolver(), {
      maxLoaded: options.maxAdapters ?? 512,
    });
  }

  get operatorAddress(): Address {
    return this.#operator.account.address;
  }

  #resolver(): AdapterResolver {
    return {
      resolve: async (key) => {
        const entry = await this.model(key);
        if (!entry.adapterHash || !entry.uri)
          throw new ServeError('model_not_found', `${key} is not an adapter`, {
            status: 404,
            field: 'model',
          });
        const location = adapterLocation(entry.uri, { baseUrl: this.adapterBaseUrl });
        if (!location) {
          throw new ServeError(
            'adapter_unavailable',
            `${key}: its registry URI names no files this node can read`,
            { status: 502 },
          );
        }
        const expectedHash = entry.adapterHash;
        return {
          key,
          expectedHash,
          fetch: async () => {
            if (location.blobs) {
              const [weights, config] = await Promise.all([
                this.#store.blobs.get(location.blobs.weights),
                this.#store.blobs.get(location.blobs.config),
              ]);
              if (weights && config) return { weights, configJson: Buffer.from(config).toString('utf8') };
            }
            if (location.remote)
              return this.adapterCache.get({ ...location.remote, sha256: expectedHash }, key);
            throw new ServeError(
              'adapter_unavailable',
              `${key}: adapter files are not on this node (set OPENLEDGER_ADAPTER_BASE_URL to fetch them from a hub)`,
              { status: 502 },
            );
          },
        };
      },
    };
  }

  /** A model by API id: the base model, or `model-<id>` / `<base>:model-<id>` for a registered adapter. */
  async model(name: string): Promise<ModelEntry> {
    const key = name.startsWith(`${this.baseModelId}:`) ? name.slice(this.baseModelId.length + 1) : name;
    if (key === this.baseModelId || key === 'base') {
      return {
        id: this.baseModelId,
        modelId: null,
        owner: null,
        adapterHash: null,
        uri: null,
        deprecated: false,
        pricePerKInput: 0n,
        pricePerKOutput: 0n,
      };
    }
    const numeric = key.startsWith(MODEL_PREFIX) ? key.slice(MODEL_PREFIX.length) : key;
    if (!/^[1-9][0-9]{0,9}$/.test(numeric)) {
      throw new ServeError(
        'model_not_found',
        `model "${name}" does not exist (use ${this.baseModelId} or model-<id>)`,
        { status: 404, field: 'model' },
      );
    }
    const modelId = Number(numeric);
    const count = await this.#modelCount();
    if (modelId > count)
      throw new ServeError('model_not_found', `model "${name}" does not exist`, {
        status: 404,
        field: 'model',
      });
    return this.#readModel(modelId);
  }

  async #modelCount(): Promise<number> {
    return readModelCount(this.#chain.publicClient, this.#chain.contracts.ModelRegistry);
  }

  async #readModel(modelId: number): Promise<ModelEntry> {
    const m = await readModelRecord(this.#chain.publicClient, this.#chain.contracts.ModelRegistry, modelId);
    return { ...m, id: `${MODEL_PREFIX}${modelId}`, modelId };
  }

  /** `/v1/models`: the base model and every registered, non-deprecated adapter. */
  async listModels(): Promise<ModelEntry[]> {
    const [count, base] = await Promise.all([this.#modelCount(), this.model(this.baseModelId)]);
    const entries = [base];
    // records are independent reads: issue them together, a page at a time
    const PAGE = 32;
    for (let first = 1; first <= count; first += PAGE) {
      const ids = Array.from({ length: Math.min(PAGE, count - first + 1) }, (_, k) => first + k);
      for (const m of await Promise.all(ids.map((id) => this.#readModel(id)))) {
        if (!m.deprecated) entries.push(m);
      }
    }
    return entries;
  }

  /** The text the model continues: chat turns framed as the instruction template, or the raw prompt. */
  promptText(req: GenerationRequest): string {
    if (req.prompt !== undefined) return req.prompt;
    const messages = req.messages ?? [];
    const turns: string[] = [];
    let pendingQuestion: string | undefined;
    for (const m of messages) {
      if (m.role === 'system') turns.push(m.content.trim());
      else if (m.role === 'user') pendingQuestion = m.content;
      else if (m.role === 'assistant' && pendingQuestion !== undefined) {
        turns.push(`${instructionPrompt(pendingQuestion)} ${m.content.trim()}`);
        pendingQuestion = undefined;
      }
    }
    if (pendingQuestion !== undefined) turns.push(instructionPrompt(pendingQuestion));
    return turns.join('\n');
  }

  /**
   * Generates an answer for `consumer`, streaming text pieces to `onText`. Paid models are
   * checked against the consumer's escrow before anything runs and metered after: a refused
   * request changes nothing.
   */
  async generate(
    consumer: Address,
    req: GenerationRequest,
    onText?: (piece: string) => void,
  ): Promise<GenerationResult> {
    const started = performance.now();
    const requested = req.mixture?.length ? req.mixture : [{ model: req.model, weight: 1 }];
    const entries = await Promise.all(requested.map((m) => this.model(m.model)));
    for (const e of entries) {
      if (e.deprecated)
        throw new ServeError('model_deprecated', `${e.id} is deprecated`, { status: 410, field: 'model' });
    }
    const primary = entries[0];
    const maxTokens = req.maxTokens ?? 64;
    const json = compileResponseFormat(req.responseFormat);
    const promptText = this.promptText(req);
    const promptTokens = this.tokenizer.encode(promptText);
    const eot = this.tokenizer.specialId('<|endoftext|>');
    if (promptTokens.length === 0 && eot !== undefined) promptTokens.push(eot);
    const { maxSeq } = await this.engine.ready();
    if (promptTokens.length + 1 >= maxSeq) {
      throw new ServeError(
        'context_length_exceeded',
        `the prompt has ${promptTokens.length} tokens; the context holds ${maxSeq}`,
        {
          field: 'messages',
        },
      );
    }
    if (json && minJsonLength(json) > Math.min(maxTokens, maxSeq - promptTokens.length)) {
      throw new ServeError(
        'max_tokens_too_small',
        `the shortest JSON this schema allows takes ${minJsonLength(json)} tokens; max_tokens (or the context left) allows ${Math.min(maxTokens, maxSeq - promptTokens.length)}`,
        { field: 'max_tokens' },
      );
    }

    // payment pre-check: the most this request can cost must fit in the consumer's escrow
    let pay: { epoch: number; params: ReturnType<typeof epochParamsOf> } | undefined;
    if (primary.modelId !== null) {
      const epoch = await readCurrentEpoch(this.#chain);
      const params = epochParamsOf(await readParamsAt(this.#chain, epoch));
      const worst = computeFee(
        promptTokens.length,
        Math.min(maxTokens, maxSeq - promptTokens.length),
        primary,
        params.platformFee,
      );
      const available = await this.#book.available(consumer);
      if (worst.total > available) {
        throw new ServeError(
          'insufficient_quota',
          `this request may cost up to ${worst.total} wei of OPEN; ${consumer} has ${available} available in escrow — deposit more`,
          { status: 402 },
        );
      }
      pay = { epoch, params };
      if (req.voucher) await this.#precheckVoucher(consumer, primary, req.voucher, worst);
      else if (!this.#signers.has(consumer)) {
        throw new ServeError(
          'voucher_required',
          `send X-OpenLedger-Voucher: a voucher from ${consumer} adding at least ${worst.total} wei (platform part ${worst.platform})`,
          { status: 402 },
        );
      }
    }
    const releases: (() => void)[] = [];
    try {
      for (const e of entries) if (e.modelId !== null) releases.push(await this.adapters.acquire(e.id));
      const adapter: EngineRequest['adapter'] =
        requested.length > 1
          ? entries.map((e, i) => ({ key: e.id, weight: requested[i].weight }))
          : primary.modelId === null
            ? null
            : primary.id;
      const id = `chatcmpl-${randomUUID()}`;
      const decoder = this.tokenizer.streamDecoder();
      const outputTokens: number[] = [];
      let text = '';
      let finishReason: 'stop' | 'length' = 'length';
      const stops = req.stop?.filter((s) => s.length > 0) ?? [];
      let first = true;
      for await (const event of this.engine.run({
        id,
        adapter,
        prompt: promptTokens,
        maxTokens,
        temperature: req.temperature ?? 0.7,
        topP: req.topP ?? 1,
        topK: 0,
        seed: req.seed ?? Math.floor(Math.random() * 2 ** 31),
        stopTokens: eot !== undefined ? [eot] : [],
        responseFormat: json ? req.responseFormat : undefined,
      })) {
        if (event.type === 'error')
          throw new ServeError('engine_error', event.message, { status: event.status });
        if (event.type === 'done') {
          finishReason = event.reason === 'stop' ? 'stop' : 'length';
          break;
        }
        if (first) {
          this.ttftSeconds.push((performance.now() - started) / 1000);
          if (this.ttftSeconds.length > 1000) this.ttftSeconds.shift();
          first = false;
        }
        outputTokens.push(event.token);
        const piece = decoder.push(event.token);
        const cut = stopIndex(text + piece, stops);
        if (cut >= 0) {
          const keep = (text + piece).slice(0, cut);
          onText?.(keep.slice(text.length));
          text = keep;
          finishReason = 'stop';
          break;
        }
        text += piece;
        if (piece) onText?.(piece);
      }
      const rest = finishReason === 'stop' && stops.length ? '' : decoder.flush();
      if (rest) {
        text += rest;
        onText?.(rest);
      }
      this.requests++;

      let cost = 0n;
      let receiptId: string | null = null;
      if (pay && primary.modelId !== null) {
        const receipt =
          (await this.attributor?.attribute({
            modelId: primary.modelId,
            prompt: promptText,
            promptTokens,
            output: text,
            outputTokens,
          })) ?? null;
        receiptId = receipt?.id ?? null;
        cost = await this.#meter(
          consumer,
          primary,
          promptTokens.length,
          outputTokens.length,
          pay,
          id,
          receipt,
          req.voucher,
        );
      }
      return {
        id,
        model: requested.length > 1 ? entries.map((e) => e.id).join('+') : primary.id,
        text,
        finishReason,
        promptTokens: promptTokens.length,
        completionTokens: outputTokens.length,
        cost: cost.toString(),
        receiptId,
      };
    } catch (error) {
      this.failures++;
      throw error;
    } finally {
      for (const release of releases) release();
    }
  }

  /** Prices, pays (voucher) and records one request; returns what it cost. */
  async #meter(
    consumer: Address,
    model: ModelEntry,
    tokensIn: number,
    tokensOut: number,
    pay: { epoch: number; params: ReturnType<typeof epochParamsOf> },
    requestId: string,
    attribution: { id: string; contributors: { address: string; weight: number }[] } | null,
    paid?: { voucher: Voucher; signature: `0x${string}` },
  ): Promise<bigint> {
    const operator = getAddress(this.operatorAddress);
    const modelId = BigInt(model.modelId!);
    const fee = computeFee(tokensIn, tokensOut, model, pay.params.platformFee);
    const prev = this.#book.latest(consumer, operator, modelId)?.voucher;
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 30 * 24 * 3600);
    const voucher = paid?.voucher ?? nextVoucher(prev, { consumer, operator, modelId }, fee, deadline);
    // Vouchers are signed by the consumer. This node signs only for the local test accounts it holds;
    // other consumers pay with the X-OpenLedger-Voucher header (see docs/api.md).
    if (!paid && !this.#signers.has(consumer)) {
      throw new OpenLedgerError(
        'voucher_required',
        `sign a voucher for ${fee.total} wei: this node holds no key for ${consumer}`,
        { status: 402 },
      );
    }
    const signature =
      paid?.signature ??
      (await signVoucher(
        this.#signers.wallet(consumer).account as never,
        escrowDomainOf(this.#chain),
        voucher,
      ));
    const receipt = attribution
      ? {
          id: attribution.id,
          weights: attribution.contributors.map((c) => ({ contributor: c.address, weight: c.weight })),
        }
      : undefined;
    await meterRequest(
      { ledger: this.#ledger, book: this.#book, epoch: pay.epoch, params: pay.params },
      {
        id: requestId,
        consumer,
        operator,
        modelId,
        price: model,
        tokensIn,
        tokensOut,
        voucher,
        signature,
        receipt,
      },
    );
    return fee.total;
  }

  /**
   * Checks a consumer's voucher before anything runs, so a forged, replayed or uncovered voucher is
   * refused with nothing charged: the signature is the consumer's, it names this operator and model,
   * it raises the stream's total by at least the worst-case cost, and the escrow can cover it.
   */
  async #precheckVoucher(
    consumer: Address,
    model: ModelEntry,
    paid: { voucher: Voucher; signature: `0x${string}` },
    worst: { total: bigint; platform: bigint },
  ): Promise<void> {
    const v = paid.voucher;
    if (!(await verifyVoucher(escrowDomainOf(this.#chain), v, paid.signature))) {
      throw new ServeError('invalid_voucher_signature', 'the voucher is not signed by its consumer', {
        status: 401,
        field: 'x-openledger-voucher',
      });
    }
    if (getAddress(v.consumer) !== getAddress(consumer)) {
      throw new ServeError(
        'voucher_consumer_mismatch',
        `the voucher is from ${v.consumer}, the request from ${consumer}`,
        { status: 403, field: 'x-openledger-voucher' },
      );
    }
    if (getAddress(v.operator) !== getAddress(this.operatorAddress) || v.modelId !== BigInt(model.modelId!)) {
      throw new ServeError(
        'voucher_mismatch',
        `the voucher must name operator ${this.operatorAddress} and model ${model.modelId}`,
        { status: 400, field: 'x-openledger-voucher' },
      );
    }
    const prev = this.#book.latest(consumer, v.operator, v.modelId)?.voucher;
    const prevAmount = prev?.cumulativeAmount ?? 0n;
    if (v.cumulativeAmount <= prevAmount) {
      throw new ServeError(
        'voucher_replayed',
        `cumulativeAmount must exceed the stream's authorised total ${prevAmount}`,
        { status: 409, field: 'x-openledger-voucher' },
      );
    }
    if (
      v.cumulativeAmount - prevAmount < worst.total ||
      v.cumulativePlatformFee - (prev?.cumulativePlatformFee ?? 0n) !== worst.platform
    ) {
      throw new ServeError(
        'voucher_underpaid',
        `the voucher must add at least ${worst.total} wei, of which exactly ${worst.platform} platform fee`,
        { status: 402, field: 'x-openledger-voucher' },
      );
    }
    const available = await this.#book.available(consumer);
    if (v.cumulativeAmount - prevAmount > available) {
      throw new ServeError('insufficient_quota', `${consumer} has ${available} wei available in escrow`, {
        status: 402,
      });
    }
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}

/** A positive byte count from the environment, or undefined when unset. */
function envBytes(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new OpenLedgerError(
      'invalid_config',
      `${name} must be a positive whole number of bytes, not "${raw}"`,
      {
        status: 500,
      },
    );
  }
  return n;
}

function stopIndex(text: string, stops: string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}
