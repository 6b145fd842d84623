import { createHash } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Engine } from './engine.ts';
import { ServeError } from './errors.ts';

/** Where an adapter's files are and what their hash must be (from the on-chain ModelRegistry). */
export interface AdapterRecord {
  key: string;
  /** sha256 of adapter_model.safetensors, 0x-prefixed, as registered on-chain */
  expectedHash: `0x${string}`;
  /** the adapter's files: from a local store, or through an AdapterDiskCache for a remote location */
  fetch(): Promise<{ configJson: string; weights: Uint8Array }>;
}

export interface AdapterResolver {
  /** The record of an adapter key; throws a 404 ServeError for an unknown or deprecated model. */
  resolve(key: string): Promise<AdapterRecord>;
}

export interface AdapterManagerOptions {
  /** adapters resident in the engine at once (LRU beyond that) */
  maxLoaded?: number;
  /** bytes of adapter weights resident at once */
  maxBytes?: number;
}

interface Resident {
  bytes: number;
  refs: number;
  lastUsed: number;
}

/**
 * Just-in-time adapter loading with an LRU: the first request for an adapter fetches its files,
 * checks their hash against the on-chain record, and loads them into the engine; cold adapters are
 * evicted when the count or byte limit is passed (never while a request uses them). Loading happens
 * between engine steps, so running requests do not stall.
 */
export class AdapterManager {
  readonly #engine: Engine;
  readonly #resolver: AdapterResolver;
  readonly #resident = new Map<string, Resident>();
  readonly #loading = new Map<string, Promise<void>>();
  readonly maxLoaded: number;
  readonly maxBytes: number;
  hits = 0;
  misses = 0;
  evictions = 0;
  /** seconds of each cold load (fetch + verify + parse), for metrics */
  readonly loadSeconds: number[] = [];

  constructor(engine: Engine, resolver: AdapterResolver, options: AdapterManagerOptions = {}) {
    this.#engine = engine;
    this.#resolver = resolver;
    this.maxLoaded = options.maxLoaded ?? 256;
    this.maxBytes = options.maxBytes ?? 1024 * 1024 * 1024;
  }

  loaded(): string[] {
    return [...this.#resident.keys()];
  }

  get residentBytes(): number {
    let total = 0;
    for (const r of this.#resident.values()) total += r.bytes;
    return total;
  }

  /** Makes `key` resident and pins it until the returned release function is called. */
  async acquire(key: string): Promise<() => void> {
    const resident = this.#resident.get(key);
    if (resident) {
      this.hits++;
    } else {
      this.misses++;
      await this.load(key);
    }
    const r = this.#resident.get(key)!;
    r.refs++;
    r.lastUsed = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      r.refs--;
      r.lastUsed = performance.now();
    };
  }

  /** Loads an adapter now (idempotent; concurrent calls share one load). */
  async load(key: string): Promise<void> {
    if (this.#resident.has(key)) return;
    let pending = this.#loading.get(key);
    if (!pending) {
      pending = this.#load(key).finally(() => this.#loading.delete(key));
      this.#loading.set(key, pending);
    }
    await pending;
  }

  async #load(key: string): Promise<void> {
    const started = performance.now();
    const record = await this.#resolver.resolve(key);
    const { configJson, weights } = await record.fetch();
    const actual = `0x${await sha256Yielding(weights)}`;
    if (actual !== record.expectedHash.toLowerCase()) {
      throw new ServeError(
        'adapter_integrity_failed',
        `adapter ${key} was refused: its file hash ${actual} differs from the on-chain record ${record.expectedHash}`,
        { status: 422, field: 'model' },
      );
    }
    await this.#engine.loadAdapter(key, configJson, weights);
    this.#resident.set(key, { bytes: weights.byteLength, refs: 0, lastUsed: performance.now() });
    this.loadSeconds.push((performance.now() - started) / 1000);
    if (this.loadSeconds.length > 1000) this.loadSeconds.shift();
    await this.#evict(key);
  }

  async unload(key: string): Promise<boolean> {
    const r = this.#resident.get(key);
    if (!r) return false;
    if (r.refs > 0)
      throw new ServeError('adapter_busy', `adapter ${key} is serving ${r.refs} request(s)`, { status: 409 });
    this.#resident.delete(key);
    await this.#engine.unloadAdapter(key);
    return true;
  }

  async #evict(keep: string): Promise<void> {
    while (this.#resident.size > this.maxLoaded || this.residentBytes > this.maxBytes) {
      let victim: string | undefined;
      let oldest = Number.POSITIVE_INFINITY;
      for (const [key, r] of this.#resident) {
        if (key !== keep && r.refs === 0 && r.lastUsed < oldest) {
          oldest = r.lastUsed;
          victim = key;
        }
      }
      if (!victim) return; // everything else is in use: go over the limit rather than fail a request
      this.#resident.delete(victim);
      this.evictions++;
      await this.#engine.unloadAdapter(victim);
    }
  }
}

/** sha256 hex of `bytes`, hashed 4 MiB at a time with the event loop served in between. */
async function sha256Yielding(bytes: Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  const step = 4 * 1024 * 1024;
  for (let offset = 0; offset < bytes.byteLength; offset += step) {
    if (offset > 0) await yieldToEventLoop();
    hash.update(bytes.subarray(offset, offset + step));
  }
  return hash.digest('hex');
}
