import {
  type AnyLoraAdapter,
  type BpeTokenizer,
  floatLora,
  forwardCached,
  forwardRagged,
  halfLora,
  KVCache,
  type LlamaModel,
  type LoraAdapter,
  mergeLora,
  Rng,
  sampleToken,
} from '@openledger/model';
import { ServeError } from './errors.ts';
import {
  allowedTokens,
  compileResponseFormat,
  type JsonNode,
  JsonRecognizer,
  minLength,
  type ResponseFormat,
  TokenTrie,
} from './json-constraint.ts';
import { mixAdapters } from './mixture.ts';

/** One generation request as the engine sees it: token ids in, token ids out. */
export interface EngineRequest {
  id: string;
  /** a loaded adapter key, null for the base model, or a weighted mixture of loaded adapters */
  adapter: string | null | { key: string; weight: number }[];
  prompt: number[];
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  stopTokens: number[];
  /** constrain the output to JSON (any object, or a JSON schema); it ends when the JSON is complete */
  responseFormat?: ResponseFormat;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export type EngineEvent =
  | { id: string; type: 'token'; token: number }
  | { id: string; type: 'done'; reason: FinishReason; promptTokens: number; completionTokens: number }
  | { id: string; type: 'error'; message: string; status: number };

interface Lane {
  model: LlamaModel;
  cache: KVCache;
  free: number[];
}

interface Active {
  req: EngineRequest;
  lane: Lane;
  slot: number;
  adapter: AnyLoraAdapter | null;
  rng: Rng;
  /** the token to feed at the next decode step */
  next: number;
  generated: number;
  cancelled: boolean;
  /** the JSON read so far, for constrained requests */
  json: JsonRecognizer | null;
}

/** Requests looked at past the oldest one when choosing whom to admit. */
const ADMIT_LOOKAHEAD = 256;
/** Times a request may be overtaken by requests whose adapter is already in the batch. */
const MAX_PASSED_OVER = 64;

/** A request's adapter as a grouping key; each mixture is its own group. */
function affinityKey(spec: EngineRequest['adapter']): string {
  if (spec === null) return '';
  if (typeof spec === 'string') return `a:${spec}`;
  return `m:${JSON.stringify(spec)}`;
}

export interface BatchEngineOptions {
  /** sequences decoded together per lane (KV cache slots) */
  maxBatch?: number;
  /** longest sequence (prompt + completion); at most the model's context */
  maxSeq?: number;
  /** each token id's bytes (null for special tokens): needed for JSON-constrained requests */
  tokenBytes?: readonly (Uint8Array | null)[];
}

/**
 * Continuous batching over one base model and many LoRA adapters, as S-LoRA / Punica do: each
 * decode step runs every active sequence through one batched forward, the base matmuls shared by
 * all rows and each row's LoRA delta applied to its own rows (segmented matmul). New requests join
 * between steps; finished ones leave at once. Hot adapters can be merged into a private copy of the
 * base (a "lane" of their own) to skip the LoRA pass.
 *
 * Sampling draws from each request's own seeded generator, so a request's tokens do not depend on
 * what else shares its batch.
 */
export class BatchEngine {
  readonly base: LlamaModel;
  readonly maxBatch: number;
  readonly maxSeq: number;
  /** loaded adapters at half width (see halfLora) */
  readonly #adapters = new Map<string, AnyLoraAdapter>();
  readonly #merged = new Map<string, Lane>();
  readonly #baseLane: Lane;
  readonly #waiting: EngineRequest[] = [];
  /** how many later requests were admitted ahead of each waiting one */
  readonly #passedOver = new WeakMap<EngineRequest, number>();
  /** each request's adapter grouping key, computed once at submit (mixtures serialise their parts) */
  readonly #affinity = new WeakMap<EngineRequest, string>();
  readonly #active = new Map<string, Active>();
  readonly #cancelled = new Set<string>();
  readonly #tokenBytes: readonly (Uint8Array | null)[] | undefined;
  #trie: TokenTrie | undefined;
  readonly #schemas = new WeakMap<EngineRequest, JsonNode>();
  /** each mixture request's adapter, built at submit */
  readonly #mixtures = new WeakMap<EngineRequest, AnyLoraAdapter>();

  constructor(base: LlamaModel, options: BatchEngineOptions = {}) {
    this.base = base;
    this.maxBatch = options.maxBatch ?? 16;
    this.maxSeq = Math.min(options.maxSeq ?? base.config.maxSeq, base.config.maxSeq);
    this.#baseLane = this.#lane(base);
    this.#tokenBytes = options.tokenBytes;
  }

  #lane(model: LlamaModel): Lane {
    return {
      model,
      cache: new KVCache(model, this.maxBatch, this.maxSeq),
      free: Array.from({ length: this.maxBatch }, (_, i) => this.maxBatch - 1 - i),
    };
  }

  get queueDepth(): number {
    return this.#waiting.length;
  }

  get activeCount(): number {
    return this.#active.size;
  }

  get idle(): boolean {
    return this.#waiting.length === 0 && this.#active.size === 0;
  }

  adapterKeys(): string[] {
    return [...this.#adapters.keys()];
  }

  mergedKeys(): string[] {
    return [...this.#merged.keys()];
  }

  loadAdapter(key: string, adapter: LoraAdapter): void {
    if (adapter.layers.length !== this.base.config.nLayers) {
      throw new ServeError(
        'adapter_mismatch',
        `adapter ${key} has ${adapter.layers.length} layers; the base has ${this.base.config.nLayers}`,
        {
          status: 422,
        },
      );
    }
    this.#adapters.set(key, halfLora(adapter));
  }

  /** Forgets an adapter (and its merged lane). Requests already running keep their reference. */
  unloadAdapter(key: string): boolean {
    this.#merged.delete(key);
    return this.#adapters.delete(key);
  }

  /** Merges a loaded adapter into a copy of the base; its requests then run on that copy. */
  mergeAdapter(key: string): void {
    const adapter = this.#loaded(key);
    if (!this.#merged.has(key)) this.#merged.set(key, this.#lane(mergeLora(this.base, floatLora(adapter))));
  }

  unmergeAdapter(key: string): boolean {
    return this.#merged.delete(key);
  }

  /** Queues a request; errors that make it impossible are thrown now, before anything runs. */
  submit(req: EngineRequest): void {
    if (this.#active.has(req.id) || this.#waiting.some((w) => w.id === req.id)) {
      throw new ServeError('duplicate_request', `request id ${req.id} is already queued or running`, {
        status: 409,
        field: 'id',
      });
    }
    if (req.prompt.length === 0)
      throw new ServeError('empty_prompt', 'the prompt has no tokens', { field: 'messages' });
    if (req.prompt.length >= this.maxSeq) {
      throw new ServeError(
        'context_length_exceeded',
        `the prompt has ${req.prompt.length} tokens; the context holds ${this.maxSeq}`,
        {
          field: 'messages',
        },
      );
    }
    this.#resolveAdapter(req);
    const schema = compileResponseFormat(req.responseFormat);
    if (schema) {
      if (!this.#tokenBytes)
        throw new ServeError('unsupported_response_format', 'this engine has no tokenizer for JSON output', {
          field: 'response_format',
        });
      const budget = Math.min(req.maxTokens, this.maxSeq - req.prompt.length);
      if (minLength(schema) > budget) {
        throw new ServeError(
          'max_tokens_too_small',
          `the shortest JSON this schema allows takes ${minLength(schema)} tokens; max_tokens (or the context left) allows ${budget}`,
          { field: 'max_tokens' },
        );
      }
      this.#schemas.set(req, schema);
    }
    this.#affinity.set(req, affinityKey(req.adapter));
    this.#waiting.push(req);
  }

  cancel(id: string): void {
    const i = this.#waiting.findIndex((r) => r.id === id);
    if (i >= 0) this.#waiting.splice(i, 1);
    const a = this.#active.get(id);
    if (a) a.cancelled = true;
    this.#cancelled.add(id);
  }

  /** A loaded adapter, or a 404 naming it. */
  #loaded(key: string): AnyLoraAdapter {
    const adapter = this.#adapters.get(key);
    if (!adapter)
      throw new ServeError('adapter_not_loaded', `adapter ${key} is not loaded`, {
        status: 404,
        field: 'model',
      });
    return adapter;
  }

  /**
   * The lane and adapter a request runs with. Called at submit (to refuse it early) and again at
   * admission (its adapters may have been unloaded meanwhile); a mixture is built once, at submit.
   */
  #resolveAdapter(req: EngineRequest): { lane: Lane; adapter: AnyLoraAdapter | null } {
    const spec = req.adapter;
    if (spec === null) return { lane: this.#baseLane, adapter: null };
    if (typeof spec === 'string') {
      const merged = this.#merged.get(spec);
      if (merged) return { lane: merged, adapter: null };
      return { lane: this.#baseLane, adapter: this.#loaded(spec) };
    }
    const parts = spec.map((p) => ({ adapter: this.#loaded(p.key), weight: p.weight }));
    let mixture = this.#mixtures.get(req);
    if (!mixture) {
      mixture = mixAdapters(parts.map((p) => ({ adapter: floatLora(p.adapter), weight: p.weight })));
      this.#mixtures.set(req, mixture);
    }
    return { lane: this.#baseLane, adapter: mixture };
  }

  /**
   * Which waiting request to admit next: the oldest, unless a request within the next
   * `ADMIT_LOOKAHEAD` uses an adapter already in the batch. Grouping requests by adapter means fewer
   * distinct adapters per decode step, whose weights are what a mixed batch spends its memory
   * bandwidth on; a request passed over `MAX_PASSED_OVER` times is admitted first, so none waits
   * for long.
   */
  #nextToAdmit(batchAdapters: Set<string>): number {
    const head = this.#waiting[0];
    if ((this.#passedOver.get(head) ?? 0) >= MAX_PASSED_OVER) return 0;
    const n = Math.min(this.#waiting.length, ADMIT_LOOKAHEAD);
    for (let i = 0; i < n; i++) if (batchAdapters.has(this.#affinity.get(this.#waiting[i])!)) return i;
    return 0;
  }

  /**
   * One scheduling step: admits waiting requests into free slots (prefilling their prompts), then
   * decodes one token for every active sequence, lane by lane. Returns the events of the step.
   */
  step(): EngineEvent[] {
    const events: EngineEvent[] = [];
    // finish cancelled sequences first, freeing their slots
    for (const a of [...this.#active.values()]) if (a.cancelled) this.#finish(a, 'cancelled', events);
    // admit into free slots; the prompts admitted together are prefilled in one forward per lane
    const admitted = new Map<Lane, { req: EngineRequest; slot: number; adapter: AnyLoraAdapter | null }[]>();
    const batchAdapters = new Set<string>();
    for (const a of this.#active.values()) batchAdapters.add(this.#affinity.get(a.req)!);
    while (this.#waiting.length > 0) {
      const pick = this.#nextToAdmit(batchAdapters);
      const req = this.#waiting[pick];
      let resolved: { lane: Lane; adapter: AnyLoraAdapter | null };
      try {
        resolved = this.#resolveAdapter(req);
      } catch (error) {
        this.#waiting.splice(pick, 1);
        const e = error as ServeError;
        events.push({ id: req.id, type: 'error', message: e.message, status: e.status ?? 500 });
        continue;
      }
      const slot = resolved.lane.free.pop();
      if (slot === undefined) break;
      this.#waiting.splice(pick, 1);
      for (let k = 0; k < pick; k++) {
        const w = this.#waiting[k];
        this.#passedOver.set(w, (this.#passedOver.get(w) ?? 0) + 1);
      }
      this.#passedOver.delete(req);
      batchAdapters.add(this.#affinity.get(req)!);
      const list = admitted.get(resolved.lane) ?? [];
      list.push({ req, slot, adapter: resolved.adapter });
      admitted.set(resolved.lane, list);
    }
    for (const [lane, list] of admitted) this.#prefill(lane, list, events);
    // decode, one batched forward per lane
    const lanes = new Map<Lane, Active[]>();
    for (const a of this.#active.values()) {
      const list = lanes.get(a.lane) ?? [];
      list.push(a);
      lanes.set(a.lane, list);
    }
    for (const [lane, rows] of lanes) {
      // rows sharing an adapter side by side, so each adapter is one contiguous segment
      rows.sort((x, y) => adapterOrder(x.adapter) - adapterOrder(y.adapter));
      const tokens = Int32Array.from(rows.map((r) => r.next));
      // the lane's cache keeps the activation buffers from step to step (no fresh arrays per step);
      // the logits are read before the lane's next forward
      const logits = forwardCached(
        lane.model,
        lane.cache,
        rows.map((r) => r.slot),
        tokens,
        1,
        { adapters: rows.map((r) => r.adapter), reuseBuffers: true },
      );
      const V = lane.model.config.vocabSize;
      rows.forEach((row, i) => this.#emitNext(row, logits.subarray(i * V, (i + 1) * V), events));
    }
    return events;
  }

  /**
   * Runs the prompts of newly admitted requests through one forward (rows of different lengths, each
   * with its own adapter, side by side per adapter) and emits each one's first token.
   */
  #prefill(
    lane: Lane,
    list: { req: EngineRequest; slot: number; adapter: AnyLoraAdapter | null }[],
    events: EngineEvent[],
  ): void {
    list.sort((x, y) => adapterOrder(x.adapter) - adapterOrder(y.adapter));
    let total = 0;
    for (const item of list) {
      lane.cache.reset(item.slot);
      total += item.req.prompt.length;
    }
    const tokens = new Int32Array(total);
    let at = 0;
    for (const item of list) {
      tokens.set(item.req.prompt, at);
      at += item.req.prompt.length;
    }
    const logits = forwardRagged(
      lane.model,
      lane.cache,
      list.map((item) => item.slot),
      tokens,
      list.map((item) => item.req.prompt.length),
      { adapters: list.map((item) => item.adapter), reuseBuffers: true },
    );
    const V = lane.model.config.vocabSize;
    list.forEach(({ req, slot, adapter }, i) => {
      const active: Active = {
        req,
        lane,
        slot,
        adapter,
        rng: new Rng(req.seed),
        next: -1,
        generated: 0,
        cancelled: false,
        json: null,
      };
      const schema = this.#schemas.get(req);
      if (schema) active.json = new JsonRecognizer(schema);
      this.#active.set(req.id, active);
      this.#emitNext(active, logits.subarray(i * V, (i + 1) * V), events);
    });
  }

  /** Samples the next token from `logits`, emits it, or finishes the sequence. */
  #emitNext(a: Active, logits: Float32Array, events: EngineEvent[]): void {
    if (a.req.maxTokens === 0) {
      this.#finish(a, 'length', events);
      return;
    }
    // an answer is never empty: the stop tokens cannot be the first token
    if (a.generated === 0)
      for (const stop of a.req.stopTokens) if (stop < logits.length) logits[stop] = Number.NEGATIVE_INFINITY;
    let scores = logits;
    if (a.json) {
      // only tokens that keep the JSON valid and completable within the tokens left
      this.#trie ??= TokenTrie.build(this.#tokenBytes!);
      const left = Math.min(a.req.maxTokens - a.generated, this.maxSeq - a.lane.cache.lengths[a.slot]);
      const allowed = allowedTokens(a.json, this.#trie, left);
      if (allowed.length === 0) {
        this.#finish(a, 'length', events);
        return;
      }
      const masked = new Float32Array(logits.length).fill(Number.NEGATIVE_INFINITY);
      for (const id of allowed) masked[id] = logits[id];
      scores = masked;
    }
    const token = sampleToken(
      scores,
      { temperature: a.req.temperature, topP: a.req.topP, topK: a.req.topK },
      a.rng,
    );
    if (!a.json && a.req.stopTokens.includes(token)) {
      this.#finish(a, 'stop', events);
      return;
    }
    a.generated++;
    a.next = token;
    events.push({ id: a.req.id, type: 'token', token });
    if (a.json) {
      a.json.feed(this.#tokenBytes![token]!);
      if (a.json.done) {
        this.#finish(a, 'stop', events);
        return;
      }
    }
    const full = a.lane.cache.lengths[a.slot] + 1 >= this.maxSeq;
    if (a.generated >= a.req.maxTokens || full) this.#finish(a, 'length', events);
  }

  #finish(a: Active, reason: FinishReason, events: EngineEvent[]): void {
    this.#active.delete(a.req.id);
    this.#cancelled.delete(a.req.id);
    a.lane.cache.reset(a.slot);
    a.lane.free.push(a.slot);
    events.push({
      id: a.req.id,
      type: 'done',
      reason,
      promptTokens: a.req.prompt.length,
      completionTokens: a.generated,
    });
  }
}

const adapterIds = new WeakMap<AnyLoraAdapter, number>();
let nextAdapterId = 1;
function adapterOrder(adapter: AnyLoraAdapter | null): number {
  if (!adapter) return 0;
  let id = adapterIds.get(adapter);
  if (!id) {
    id = nextAdapterId++;
    adapterIds.set(adapter, id);
  }
  return id;
}

/** Each token id's bytes for JSON-constrained decoding; null for special (added) tokens. */
export function tokenBytesOf(tokenizer: BpeTokenizer, vocabSize: number): (Uint8Array | null)[] {
  const special = new Set(tokenizer.added.map((a) => a.id));
  return Array.from({ length: vocabSize }, (_, id) => {
    if (special.has(id) || id >= tokenizer.idToToken.length) return null;
    return tokenizer.decodeBytes([id]);
  });
}
