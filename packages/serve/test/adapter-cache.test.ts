import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLora, Rng, saveHfModel, savePeftAdapter, trainBpe } from '@openledger/model';
import {
  AdapterDiskCache,
  AdapterManager,
  type AdapterResolver,
  adapterLocation,
  Engine,
  type EngineRequest,
  type RemoteAdapterFiles,
  type ServeError,
} from '../src/index.ts';
import { tinyModel } from './helpers.ts';

const here = dirname(fileURLToPath(import.meta.url));
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A tiny base model and `count` PEFT adapters written to a temp directory (the "hub"'s files). */
function writeAdapters(count: number, withBase = false) {
  const root = mkdtempSync(join(tmpdir(), 'adapter-cache-'));
  const tokenizer = trainBpe(['hello world, the quick brown fox'], {
    vocabSize: 280,
    specialTokens: ['<|endoftext|>'],
  });
  const model = tinyModel({ vocabSize: tokenizer.vocabSize, maxSeq: 64, seed: 3 });
  if (withBase) saveHfModel(join(root, 'base'), model, tokenizer);
  const adapters: { name: string; hash: `0x${string}`; bytes: number }[] = [];
  for (let i = 0; i < count; i++) {
    const adapter = createLora(model.config, { rank: 2, alpha: 4, targets: ['q', 'v'], seed: i + 1 });
    const rng = new Rng(100 + i);
    for (const layer of adapter.layers)
      for (const pair of Object.values(layer))
        for (let j = 0; j < pair!.b.length; j++) pair!.b[j] = rng.normal();
    const dir = join(root, 'hub', `a${i}`);
    savePeftAdapter(dir, adapter);
    const weights = readFileSync(join(dir, 'adapter_model.safetensors'));
    const config = readFileSync(join(dir, 'adapter_config.json'));
    adapters.push({
      name: `a${i}`,
      hash: `0x${sha(weights)}`,
      bytes: weights.byteLength + config.byteLength,
    });
  }
  return { root, hub: join(root, 'hub'), cacheDir: join(root, 'cache', 'adapters'), adapters };
}

interface Hub {
  url: string;
  /** GET requests per path */
  requests: Map<string, number>;
  /** per path: what to do instead of answering normally */
  behaviour: Map<string, 'truncate' | 'stall' | 'tamper'>;
  delayMs: number;
  /** resolves when a stalled answer has sent its first half */
  stalled: Promise<void>;
  close(): Promise<void>;
}

/** A real HTTP server serving `dir` — the remote location adapters are fetched from. */
async function startHub(dir: string): Promise<Hub> {
  let onStall: () => void = () => {};
  const stalled = new Promise<void>((resolve) => (onStall = resolve));
  const hub = {
    requests: new Map<string, number>(),
    behaviour: new Map<string, 'truncate' | 'stall' | 'tamper'>(),
    delayMs: 0,
    stalled,
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hub.requests.set(path, (hub.requests.get(path) ?? 0) + 1);
    if (hub.delayMs) await new Promise((r) => setTimeout(r, hub.delayMs));
    const file = join(dir, path);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    let bytes = readFileSync(file);
    const behaviour = hub.behaviour.get(path);
    if (behaviour === 'tamper') {
      bytes = Buffer.from(bytes);
      bytes[bytes.length - 1] ^= 0xff;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
    if (behaviour === 'truncate') {
      res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
    } else if (behaviour === 'stall') {
      res.write(bytes.subarray(0, bytes.length >> 1), () => onStall());
    } else {
      res.end(bytes);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...hub,
    get delayMs() {
      return hub.delayMs;
    },
    set delayMs(v: number) {
      hub.delayMs = v;
    },
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const filesOf = (hub: Hub, a: { name: string; hash: `0x${string}` }): RemoteAdapterFiles => ({
  sha256: a.hash,
  ...adapterLocation(`${hub.url}/${a.name}/`)!.remote!,
});

/** Entry and partial-download directories in the cache directory. */
function cacheListing(dir: string): { entries: string[]; partials: string[] } {
  const names = existsSync(dir) ? readdirSync(dir) : [];
  return {
    entries: names.filter((n) => /^[0-9a-f]{64}$/.test(n)).sort(),
    partials: names.filter((n) => n.startsWith('.partial-')),
  };
}

const weightsPath = (a: { name: string }) => `/${a.name}/adapter_model.safetensors`;

test('adapterLocation reads content-addressed and http(s) registry URIs', () => {
  const w = 'a'.repeat(64);
  const c = 'b'.repeat(64);
  assert.deepEqual(adapterLocation(`openledger://blobs/${w}?config=${c}&index=openledger://blobs/x`), {
    blobs: { weights: w, config: c },
  });
  assert.deepEqual(
    adapterLocation(`openledger://blobs/${w}?config=${c}`, { baseUrl: 'https://hub.example/b/' }),
    {
      blobs: { weights: w, config: c },
      remote: {
        weightsUrl: `https://hub.example/b/${w}`,
        configUrl: `https://hub.example/b/${c}`,
        configSha256: c,
      },
    },
  );
  assert.deepEqual(adapterLocation('https://hub.example/org/m/resolve/main/adapter_model.safetensors'), {
    remote: {
      weightsUrl: 'https://hub.example/org/m/resolve/main/adapter_model.safetensors',
      configUrl: 'https://hub.example/org/m/resolve/main/adapter_config.json',
    },
  });
  assert.deepEqual(adapterLocation('http://hub.example/adapters/7'), {
    remote: {
      weightsUrl: 'http://hub.example/adapters/7/adapter_model.safetensors',
      configUrl: 'http://hub.example/adapters/7/adapter_config.json',
    },
  });
  assert.equal(adapterLocation(`openledger://blobs/${w}`), null);
  assert.equal(adapterLocation('ftp://hub.example/a'), null);
  assert.equal(adapterLocation('not a uri'), null);
});

test('a remote adapter is downloaded once into a PEFT entry, then served from disk', async () => {
  const { hub: hubDir, cacheDir, adapters } = writeAdapters(1);
  const hub = await startHub(hubDir);
  try {
    const cache = new AdapterDiskCache({ dir: cacheDir });
    const first = await cache.get(filesOf(hub, adapters[0]), 'model-1');
    assert.equal(first.source, 'remote');
    assert.equal(`0x${sha(first.weights)}`, adapters[0].hash);
    assert.deepEqual(
      JSON.parse(first.configJson),
      JSON.parse(readFileSync(join(hubDir, 'a0', 'adapter_config.json'), 'utf8')),
    );
    const entry = join(cacheDir, adapters[0].hash.slice(2));
    assert.deepEqual(
      readFileSync(join(entry, 'adapter_model.safetensors')),
      readFileSync(join(hubDir, 'a0', 'adapter_model.safetensors')),
    );
    assert.equal(cache.bytes, adapters[0].bytes);

    const second = await cache.get(filesOf(hub, adapters[0]), 'model-1');
    assert.equal(second.source, 'disk');
    assert.deepEqual(second.weights, first.weights);
    assert.equal(hub.requests.get(weightsPath(adapters[0])), 1);
    assert.equal(cache.diskHits, 1);
    assert.equal(cache.remoteFetches, 1);
  } finally {
    await hub.close();
  }
});

test('a download whose hash differs from the on-chain record is deleted and refused', async () => {
  const { hub: hubDir, cacheDir, adapters } = writeAdapters(1);
  const hub = await startHub(hubDir);
  try {
    const cache = new AdapterDiskCache({ dir: cacheDir });
    hub.behaviour.set(weightsPath(adapters[0]), 'tamper');
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(cache.get(filesOf(hub, adapters[0]), 'model-1'), (e: ServeError) => {
        assert.equal(e.code, 'adapter_integrity_failed');
        assert.equal(e.status, 422);
        assert.match(
          e.message,
          /adapter model-1 was refused: .* has hash 0x[0-9a-f]{64}, not the on-chain record .*deleted/,
        );
        return true;
      });
      assert.deepEqual(cacheListing(cacheDir), { entries: [], partials: [] });
    }
    assert.equal(hub.requests.get(weightsPath(adapters[0])), 2, 'nothing bad was cached');
    assert.equal(cache.has(adapters[0].hash), false);

    // a content-addressed config is checked against the hash its URI names
    hub.behaviour.clear();
    const wrongConfig = { ...filesOf(hub, adapters[0]), configSha256: '0'.repeat(64) };
    await assert.rejects(cache.get(wrongConfig), /config from .* has hash [0-9a-f]{64}, not 0{64}/);
    assert.deepEqual(cacheListing(cacheDir), { entries: [], partials: [] });

    await assert.rejects(
      cache.get({ ...filesOf(hub, adapters[0]), weightsUrl: `${hub.url}/missing/adapter_model.safetensors` }),
      (e: ServeError) =>
        e.code === 'adapter_unavailable' && e.status === 502 && /answered 404/.test(e.message),
    );
  } finally {
    await hub.close();
  }
});

test('an adapter larger than the disk cache is refused before anything is written', async () => {
  const { hub: hubDir, cacheDir, adapters } = writeAdapters(1);
  const hub = await startHub(hubDir);
  try {
    const cache = new AdapterDiskCache({ dir: cacheDir, maxBytes: 100 });
    await assert.rejects(cache.get(filesOf(hub, adapters[0])), (e: ServeError) => {
      assert.equal(e.code, 'adapter_too_large');
      assert.match(e.message, /more than the adapter disk cache holds \(100\)/);
      return true;
    });
    assert.deepEqual(cacheListing(cacheDir), { entries: [], partials: [] });
  } finally {
    await hub.close();
  }
});

test('LRU by bytes on disk: the least recently used entry goes, a pinned one stays', async () => {
  const { hub: hubDir, cacheDir, adapters } = writeAdapters(4);
  const hub = await startHub(hubDir);
  try {
    const size = Math.max(...adapters.map((a) => a.bytes));
    const cache = new AdapterDiskCache({ dir: cacheDir, maxBytes: 2 * size + size / 2 });
    const [a0, a1, a2, a3] = adapters;
    await cache.get(filesOf(hub, a0));
    await cache.get(filesOf(hub, a1));
    await cache.get(filesOf(hub, a0)); // a0 is now more recent than a1
    await cache.get(filesOf(hub, a2));
    assert.deepEqual(cacheListing(cacheDir).entries, [a0, a2].map((a) => a.hash.slice(2)).sort());
    assert.equal(cache.evictions, 1);
    assert.ok(cache.bytes <= cache.maxBytes);
    assert.deepEqual(
      cache.entries().map((e) => e.sha256),
      [a2.hash, a0.hash],
    );

    // a0 is the least recent, but pinned (in use): a2 goes instead
    const release = cache.pin(a0.hash);
    await cache.get(filesOf(hub, a3));
    assert.deepEqual(cacheListing(cacheDir).entries, [a0, a3].map((a) => a.hash.slice(2)).sort());
    // with everything else pinned too, the cache goes over its limit rather than fail a request
    const release3 = cache.pin(a3.hash);
    await cache.get(filesOf(hub, a1));
    assert.equal(cacheListing(cacheDir).entries.length, 3);
    release();
    release3();
    await cache.get(filesOf(hub, a2)); // the next insertion brings it back under the limit
    assert.ok(cache.bytes <= cache.maxBytes);
    assert.equal(cache.has(a2.hash), true);
    assert.equal(cache.has(a0.hash), false, 'a0 was least recently used once released');
  } finally {
    await hub.close();
  }
});

test('concurrent requests for one adapter share one download', async () => {
  const { hub: hubDir, cacheDir, adapters } = writeAdapters(2);
  const hub = await startHub(hubDir);
  try {
    hub.delayMs = 150; // keep the download open while the others arrive
    const cache = new AdapterDiskCache({ dir: cacheDir });
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => cache.get(filesOf(hub, adapters[0]))),
      cache.get(filesOf(hub, adapters[1])),
    ]);
    assert.equal(hub.requests.get(weightsPath(adapters[0])), 1);
    assert.equal(hub.requests.get(weightsPath(adapters[1])), 1);
    assert.equal(cache.remoteFetches, 2);
    for (const r of results.slice(0, 8)) {
      assert.equal(r.source, 'remote');
      assert.equal(`0x${sha(r.weights)}`, adapters[0].hash);
    }
    assert.equal(cacheListing(cacheDir).entries.length, 2);
  } finally {
    await hub.close();
  }
});

test('a restarted cache reuses its files, with the LRU order rebuilt from their mtimes', async () => {
  const { hub: hubDir, cacheDir, adapters } = writeAdapters(3);
  const hub = await startHub(hubDir);
  const [a0, a1, a2] = adapters;
  try {
    const cache = new AdapterDiskCache({ dir: cacheDir });
    for (const a of [a0, a1, a2]) await cache.get(filesOf(hub, a));
    await new Promise((r) => setTimeout(r, 20));
    await cache.get(filesOf(hub, a0)); // use order now: a1, a2, a0
    assert.equal(hub.requests.get(weightsPath(a0)), 1);
  } finally {
    await hub.close();
  }
  // the hub is gone: everything must come from disk. A smaller limit drops the least recent at open.
  const size = Math.max(...adapters.map((a) => a.bytes));
  const restarted = new AdapterDiskCache({ dir: cacheDir, maxBytes: 2 * size + size / 2 });
  await restarted.open();
  assert.deepEqual(
    restarted.entries().map((e) => e.sha256),
    [a0.hash, a2.hash],
  );
  assert.equal(existsSync(join(cacheDir, a1.hash.slice(2))), false);
  const dead = { weightsUrl: 'http://127.0.0.1:9/x', configUrl: 'http://127.0.0.1:9/y' };
  const got = await restarted.get({ sha256: a2.hash, ...dead });
  assert.equal(got.source, 'disk');
  assert.equal(`0x${sha(got.weights)}`, a2.hash);
  assert.equal(restarted.remoteFetches, 0);
  assert.deepEqual(
    restarted.entries().map((e) => e.sha256),
    [a2.hash, a0.hash],
  );

  // an entry corrupted on disk is dropped rather than served
  const corrupt = join(cacheDir, a0.hash.slice(2), 'adapter_model.safetensors');
  const bytes = readFileSync(corrupt);
  bytes[10] ^= 1;
  writeFileSync(corrupt, bytes);
  utimesSync(corrupt, new Date(), new Date());
  await assert.rejects(restarted.get({ sha256: a0.hash, ...dead }), /downloading .* failed/);
  assert.equal(existsSync(join(cacheDir, a0.hash.slice(2))), false);
});

test('an interrupted download leaves nothing behind', async () => {
  const { hub: hubDir, cacheDir, adapters } = writeAdapters(1);
  const hub = await startHub(hubDir);
  try {
    const cache = new AdapterDiskCache({ dir: cacheDir });
    hub.behaviour.set(weightsPath(adapters[0]), 'truncate');
    await assert.rejects(cache.get(filesOf(hub, adapters[0]), 'model-3'), (e: ServeError) => {
      assert.equal(e.code, 'adapter_unavailable');
      assert.match(e.message, /adapter model-3: downloading .* failed/);
      return true;
    });
    assert.deepEqual(cacheListing(cacheDir), { entries: [], partials: [] });
    assert.equal(cache.has(adapters[0].hash), false);
    hub.behaviour.clear();
    const ok = await cache.get(filesOf(hub, adapters[0]));
    assert.equal(`0x${sha(ok.weights)}`, adapters[0].hash);
  } finally {
    await hub.close();
  }
});

test('a process killed mid-download leaves no entry; the next cache removes its partial files', async () => {
  const { hub: hubDir, cacheDir, adapters } = writeAdapters(1);
  const hub = await startHub(hubDir);
  try {
    hub.behaviour.set(weightsPath(adapters[0]), 'stall');
    const files = filesOf(hub, adapters[0]);
    const source = `
      import { AdapterDiskCache } from ${JSON.stringify(join(here, '..', 'src', 'adapter-cache.ts'))};
      const cache = new AdapterDiskCache({ dir: ${JSON.stringify(cacheDir)} });
      await cache.get(${JSON.stringify(files)});
      console.log('finished');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await Promise.race([
      hub.stalled,
      exited.then(() => {
        throw new Error(`the child ended before the download stalled: ${output}`);
      }),
    ]);
    // the child has received half of the weights: kill it without any chance to clean up
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    await exited;
    const left = cacheListing(cacheDir);
    assert.deepEqual(left.entries, []);
    assert.equal(left.partials.length, 1, 'the killed download left its partial directory');

    const cache = new AdapterDiskCache({ dir: cacheDir });
    await cache.open();
    assert.deepEqual(cacheListing(cacheDir), { entries: [], partials: [] });
    assert.deepEqual(cache.entries(), []);
    hub.behaviour.clear();
    assert.equal((await cache.get(files)).source, 'remote');
    assert.equal(cacheListing(cacheDir).entries.length, 1);
  } finally {
    await hub.close();
  }
});

test('AdapterManager loads a remote adapter through the disk cache: same tokens as the local file', async () => {
  const { root, hub: hubDir, cacheDir, adapters } = writeAdapters(1, true);
  const hub = await startHub(hubDir);
  const engine = new Engine({ baseModelDir: join(root, 'base'), maxBatch: 4 });
  try {
    const cache = new AdapterDiskCache({ dir: cacheDir });
    const a = adapters[0];
    const resolver: AdapterResolver = {
      async resolve(key) {
        const fetch =
          key === 'local'
            ? async () => ({
                configJson: readFileSync(join(hubDir, a.name, 'adapter_config.json'), 'utf8'),
                weights: readFileSync(join(hubDir, a.name, 'adapter_model.safetensors')),
              })
            : () => cache.get(filesOf(hub, a), key);
        return { key, expectedHash: a.hash, fetch };
      },
    };
    const manager = new AdapterManager(engine, resolver);
    const run = async (adapter: string) => {
      const release = await manager.acquire(adapter);
      const request: EngineRequest = {
        id: `${adapter}-${Math.random()}`,
        adapter,
        prompt: [5, 6, 7, 8],
        maxTokens: 8,
        temperature: 0.7,
        topP: 0.95,
        topK: 0,
        seed: 11,
        stopTokens: [],
      };
      const tokens: number[] = [];
      try {
        for await (const e of engine.run(request)) {
          if (e.type === 'token') tokens.push(e.token);
          if (e.type === 'error') throw new Error(e.message);
        }
      } finally {
        release();
      }
      return tokens;
    };
    const local = await run('local');
    assert.deepEqual(await run('remote'), local);
    assert.equal(cache.remoteFetches, 1);
    await manager.unload('remote');
    hub.behaviour.set(weightsPath(a), 'tamper'); // the hub turns bad: the cached copy is still good
    assert.deepEqual(await run('remote'), local);
    assert.equal(cache.diskHits, 1);
    assert.equal(hub.requests.get(weightsPath(a)), 1);
    rmSync(join(cacheDir, a.hash.slice(2)), { recursive: true });
    await manager.unload('remote');
    await assert.rejects(manager.acquire('remote'), /refused: .* not the on-chain record/);
    assert.deepEqual(manager.loaded(), ['local']);
  } finally {
    await engine.close();
    await hub.close();
  }
});
