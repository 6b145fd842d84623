import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RemoteAdapterUrls } from './adapter-location.ts';
import { ServeError } from './errors.ts';

/** An adapter to fetch: where its files are and the weights hash the on-chain record names. */
export interface RemoteAdapterFiles extends RemoteAdapterUrls {
  /** sha256 of adapter_model.safetensors, 0x-prefixed, from the ModelRegistry record */
  sha256: `0x${string}`;
}

export interface AdapterDiskCacheOptions {
  /** the cache directory, e.g. `<home>/cache/adapters` */
  dir: string;
  /** bytes of adapter files kept on disk; least recently used entries beyond it are deleted (default 8 GiB) */
  maxBytes?: number;
  /** a download taking longer is aborted (default 10 minutes) */
  timeoutMs?: number;
}

export interface CachedAdapter {
  configJson: string;
  weights: Uint8Array;
  /** `disk`: read from the cache; `remote`: downloaded now (or by a concurrent request for the same adapter) */
  source: 'disk' | 'remote';
}

interface Entry {
  bytes: number;
  lastUsed: number;
}

const WEIGHTS = 'adapter_model.safetensors';
const CONFIG = 'adapter_config.json';
const ENTRY_NAME = /^[0-9a-f]{64}$/;
const PARTIAL = '.partial-';
const MAX_CONFIG_BYTES = 1024 * 1024;
/** a partial download older than this is removed even if its process id is alive (ids get reused) */
const STALE_PARTIAL_MS = 3_600_000;

export const DEFAULT_ADAPTER_CACHE_BYTES = 8 * 1024 ** 3;

/**
 * A disk cache of adapters downloaded from remote locations, bounded by bytes on disk with LRU
 * eviction. Each entry is a PEFT directory `<dir>/<weights-sha256>/{adapter_model.safetensors,
 * adapter_config.json}`. A download streams into `<dir>/.partial-<sha>-<pid>-<rand>/`, is hashed
 * while it streams, and only when the weights hash equals the on-chain record (and the config hash
 * equals the content-addressed URI's, if it names one) is it fsynced and renamed into place — so a
 * failed, tampered or killed download never becomes an entry (leftover partial directories are
 * removed when a cache opens). Concurrent requests for one adapter share one download; entries being
 * read or pinned are never evicted. Recency survives restarts as the weights file's mtime, touched
 * on every use. Everything is asynchronous I/O in chunks, so the event loop keeps serving.
 *
 * Written here rather than taken from a library: the npm HTTP-cache packages key by URL and trust the
 * response, while this cache is content-addressed by the on-chain hash and must refuse what fails it.
 */
export class AdapterDiskCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #pins = new Map<string, number>();
  readonly #downloads = new Map<string, Promise<{ configJson: string; weights: Uint8Array }>>();
  #opened: Promise<void> | undefined;
  #lastTick = 0;
  /** adapters served from disk */
  diskHits = 0;
  /** downloads started (concurrent requests for one adapter count once) */
  remoteFetches = 0;
  evictions = 0;
  downloadedBytes = 0;
  /** seconds of each completed download, for metrics and benchmarks */
  readonly fetchSeconds: number[] = [];

  constructor(options: AdapterDiskCacheOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? DEFAULT_ADAPTER_CACHE_BYTES;
    this.timeoutMs = options.timeoutMs ?? 600_000;
    if (!(this.maxBytes > 0)) throw new RangeError('maxBytes must be positive');
  }

  /** Scans the directory once: drops partial downloads and incomplete entries, rebuilds the LRU order. */
  open(): Promise<void> {
    this.#opened ??= this.#scan().catch((error) => {
      this.#opened = undefined; // try again on the next use
      throw error;
    });
    return this.#opened;
  }

  async #scan(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (name.startsWith(PARTIAL)) {
        if (await partialIsAbandoned(name, path)) await rm(path, { recursive: true, force: true });
        continue;
      }
      if (!ENTRY_NAME.test(name)) continue;
      try {
        const [w, c] = await Promise.all([stat(join(path, WEIGHTS)), stat(join(path, CONFIG))]);
        this.#entries.set(name, { bytes: w.size + c.size, lastUsed: w.mtimeMs });
      } catch {
        await rm(path, { recursive: true, force: true }); // not a complete entry
      }
    }
    await this.#evict();
  }

  /** A strictly increasing wall-clock time in ms, so two uses in one millisecond still have an order. */
  #tick(): number {
    this.#lastTick = Math.max(Date.now(), this.#lastTick + 0.001);
    return this.#lastTick;
  }

  /** Records a use: in memory and as the weights file's mtime, which a restarted cache reads back. */
  async #touch(hex: string): Promise<void> {
    const now = this.#tick();
    const entry = this.#entries.get(hex);
    if (entry) entry.lastUsed = now;
    await utimes(join(this.dir, hex, WEIGHTS), now / 1000, now / 1000);
  }

  /** Bytes of the entries on disk. */
  get bytes(): number {
    let total = 0;
    for (const e of this.#entries.values()) total += e.bytes;
    return total;
  }

  /** Entries, most recently used first. */
  entries(): { sha256: `0x${string}`; bytes: number; lastUsed: number }[] {
    return [...this.#entries]
      .sort((a, b) => b[1].lastUsed - a[1].lastUsed)
      .map(([hex, e]) => ({ sha256: `0x${hex}`, bytes: e.bytes, lastUsed: e.lastUsed }));
  }

  has(sha256: string): boolean {
    return this.#entries.has(hexOf(sha256));
  }

  /** Keeps an entry from eviction until the returned function is called. */
  pin(sha256: string): () => void {
    const hex = hexOf(sha256);
    this.#pins.set(hex, (this.#pins.get(hex) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#pins.get(hex) ?? 1) - 1;
      if (n > 0) this.#pins.set(hex, n);
      else this.#pins.delete(hex);
    };
  }

  /**
   * An adapter's files: from disk when cached (re-hashed; a corrupted entry is dropped and fetched
   * again), otherwise downloaded, verified and cached. `label` names the adapter in errors.
   */
  async get(files: RemoteAdapterFiles, label: string = files.sha256): Promise<CachedAdapter> {
    await this.open();
    const hex = hexOf(files.sha256);
    const release = this.pin(hex);
    try {
      if (this.#entries.has(hex) && !this.#downloads.has(hex)) {
        const cached = await this.#read(hex);
        if (cached) {
          this.diskHits++;
          return { ...cached, source: 'disk' };
        }
      }
      let download = this.#downloads.get(hex);
      if (!download) {
        download = this.#download(hex, files, label).finally(() => this.#downloads.delete(hex));
        this.#downloads.set(hex, download);
      }
      return { ...(await download), source: 'remote' };
    } finally {
      release();
    }
  }

  /** Reads and re-hashes a cached entry; null (and the entry deleted) when it no longer matches. */
  async #read(hex: string): Promise<{ configJson: string; weights: Uint8Array } | null> {
    const path = join(this.dir, hex);
    try {
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      for await (const chunk of createReadStream(join(path, WEIGHTS), { highWaterMark: 1 << 20 })) {
        hash.update(chunk as Buffer);
        chunks.push(chunk as Buffer);
      }
      const config = await readSmall(join(path, CONFIG));
      if (hash.digest('hex') === hex) {
        await this.#touch(hex);
        return { configJson: config.toString('utf8'), weights: Buffer.concat(chunks) };
      }
    } catch {
      // missing or unreadable: fetch it again
    }
    this.#entries.delete(hex);
    await rm(path, { recursive: true, force: true });
    return null;
  }

  async #download(
    hex: string,
    files: RemoteAdapterFiles,
    label: string,
  ): Promise<{ configJson: string; weights: Uint8Array }> {
    const started = performance.now();
    this.remoteFetches++;
    const partial = join(this.dir, `${PARTIAL}${hex}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(partial, { recursive: true });
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const configBytes = await this.#fetchConfig(files, label, signal);
      const { weights, actual } = await this.#fetchWeights(files, label, join(partial, WEIGHTS), signal);
      if (actual !== hex) {
        throw new ServeError(
          'adapter_integrity_failed',
          `adapter ${label} was refused: the file downloaded from ${safeUrl(files.weightsUrl)} has hash 0x${actual}, not the on-chain record 0x${hex}; the download was deleted`,
          { status: 422, field: 'model' },
        );
      }
      await writeFile(join(partial, CONFIG), configBytes);
      await fsyncPath(join(partial, CONFIG));
      await fsyncPath(partial);
      const target = join(this.dir, hex);
      try {
        await rename(partial, target);
      } catch (error) {
        // another process committed the same content first: keep theirs
        if (!['EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
      }
      await fsyncPath(this.dir);
      const bytes = weights.byteLength + configBytes.byteLength;
      this.#entries.set(hex, { bytes, lastUsed: 0 });
      await this.#touch(hex);
      this.downloadedBytes += bytes;
      this.fetchSeconds.push((performance.now() - started) / 1000);
      if (this.fetchSeconds.length > 1000) this.fetchSeconds.shift();
      await this.#evict(hex);
      return { configJson: configBytes.toString('utf8'), weights };
    } catch (error) {
      if (error instanceof ServeError) throw error;
      const e = error as Error;
      throw new ServeError(
        'adapter_unavailable',
        `adapter ${label}: downloading ${safeUrl(files.weightsUrl)} failed: ${e.name === 'TimeoutError' ? `no complete answer within ${this.timeoutMs} ms` : e.message}`,
        { status: 502 },
      );
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }

  async #fetchConfig(files: RemoteAdapterFiles, label: string, signal: AbortSignal): Promise<Buffer> {
    const response = await get(files.configUrl, label, signal);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_CONFIG_BYTES) {
      await response.body?.cancel();
      throw new ServeError(
        'adapter_unavailable',
        `adapter ${label}: ${safeUrl(files.configUrl)} is ${length} bytes; an adapter config may be at most ${MAX_CONFIG_BYTES}`,
        { status: 502 },
      );
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    if (files.configSha256) {
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== files.configSha256.toLowerCase()) {
        throw new ServeError(
          'adapter_integrity_failed',
          `adapter ${label} was refused: its config from ${safeUrl(files.configUrl)} has hash ${actual}, not ${files.configSha256} named by the registry URI`,
          { status: 422, field: 'model' },
        );
      }
    }
    try {
      JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new ServeError(
        'adapter_unavailable',
        `adapter ${label}: ${safeUrl(files.configUrl)} is not JSON`,
        { status: 502 },
      );
    }
    return bytes;
  }

  /** Streams the weights into `path`, hashing and keeping them as they arrive. */
  async #fetchWeights(
    files: RemoteAdapterFiles,
    label: string,
    path: string,
    signal: AbortSignal,
  ): Promise<{ weights: Uint8Array; actual: string }> {
    const response = await get(files.weightsUrl, label, signal);
    const length = Number(response.headers.get('content-length') ?? 0);
    const tooLarge = (n: number) =>
      new ServeError(
        'adapter_too_large',
        `adapter ${label}: ${safeUrl(files.weightsUrl)} is ${n > length ? 'over ' : ''}${n} bytes, more than the adapter disk cache holds (${this.maxBytes})`,
        { status: 507 },
      );
    if (length > this.maxBytes) {
      await response.body?.cancel();
      throw tooLarge(length);
    }
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let received = 0;
    const limit = this.maxBytes;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.byteLength;
        if (received > limit) return done(tooLarge(received));
        hash.update(chunk);
        chunks.push(chunk);
        done(null, chunk);
      },
    });
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
    await pipeline(body, tap, createWriteStream(path, { flags: 'wx', mode: 0o644 }));
    await fsyncPath(path);
    if (length > 0 && received !== length) {
      throw new Error(`the answer ended after ${received} of ${length} bytes`);
    }
    return { weights: Buffer.concat(chunks), actual: hash.digest('hex') };
  }

  /** Deletes least recently used entries until the cache fits, never a pinned or `keep` entry. */
  async #evict(keep?: string): Promise<void> {
    while (this.bytes > this.maxBytes) {
      let victim: string | undefined;
      let oldest = Number.POSITIVE_INFINITY;
      for (const [hex, e] of this.#entries) {
        if (hex !== keep && !this.#pins.has(hex) && !this.#downloads.has(hex) && e.lastUsed < oldest) {
          oldest = e.lastUsed;
          victim = hex;
        }
      }
      if (!victim) return; // the rest is in use: stay over the limit until it is released
      this.#entries.delete(victim);
      this.evictions++;
      await rm(join(this.dir, victim), { recursive: true, force: true });
    }
  }
}

function hexOf(sha256: string): string {
  const hex = sha256.toLowerCase().replace(/^0x/, '');
  if (!ENTRY_NAME.test(hex)) throw new ServeError('invalid_hash', `not a sha256: ${sha256}`, { status: 500 });
  return hex;
}

async function get(url: string, label: string, signal: AbortSignal): Promise<Response> {
  const response = await fetch(url, { signal });
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new ServeError(
      'adapter_unavailable',
      `adapter ${label}: GET ${safeUrl(url)} answered ${response.status} ${response.statusText}`.trimEnd(),
      { status: 502 },
    );
  }
  return response;
}

async function readSmall(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size > MAX_CONFIG_BYTES) throw new Error('config too large');
    return await file.readFile();
  } finally {
    await file.close();
  }
}

async function fsyncPath(path: string): Promise<void> {
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    file = await open(path, 'r');
    await file.sync();
  } catch {
    // some filesystems refuse fsync on directories; rename is still atomic
  } finally {
    await file?.close();
  }
}

/** A partial download is abandoned when its process is gone or it is old. */
async function partialIsAbandoned(name: string, path: string): Promise<boolean> {
  const pid = Number(/^\.partial-[0-9a-f]{64}-(\d+)-/.exec(name)?.[1]);
  try {
    if (Date.now() - (await stat(path)).mtimeMs > STALE_PARTIAL_MS) return true;
  } catch {
    return false; // already gone
  }
  if (!Number.isInteger(pid) || pid === process.pid) return !Number.isInteger(pid);
  try {
    process.kill(pid, 0);
    return false; // still running: its download may be live
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A URL fit for an error message: no credentials, no query (signed URLs carry tokens there). */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.href;
  } catch {
    return '(invalid URL)';
  }
}
