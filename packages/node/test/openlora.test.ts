// OpenLoRA over HTTP on a real anvil chain. Adapters whose files live at a remote location (an
// http(s) URI in the ModelRegistry record, or a hub serving content-addressed blobs; here a real
// local HTTP server) are fetched into <home>/cache/adapters, checked against the on-chain hash and
// served. JSON-schema-constrained output through the official openai client.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SHIPPED_BASE_MODEL_ID } from '@openledger/factory';
import { createLora, Rng, savePeftAdapter } from '@openledger/model';
import OpenAI from 'openai';
import { accounts, api, signIn, startTestNode } from './helpers.ts';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const ZERO = `0x${'0'.repeat(64)}` as const;

let node: Awaited<ReturnType<typeof startTestNode>>;
let hubUrl = '';
let token = '';
const hubDir = mkdtempSync(join(tmpdir(), 'hub-'));
const requests = new Map<string, number>();
const hub = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  requests.set(path, (requests.get(path) ?? 0) + 1);
  const file = join(hubDir, path);
  if (!file.startsWith(hubDir) || !existsSync(file)) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
});

before(async () => {
  await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  // the node reads its hub for content-addressed blobs from the environment at start
  process.env.OPENLEDGER_ADAPTER_BASE_URL = `${hubUrl}/blobs`;
  node = await startTestNode();
  token = await signIn(node.url, accounts[1]);
});

after(async () => {
  await node?.stop();
  hub.closeAllConnections();
  await new Promise((resolve) => hub.close(resolve));
});

/** A PEFT adapter for the shipped base model, written into the hub under `name/`. */
function publishToHub(name: string, seed: number): { weights: Buffer; config: Buffer } {
  const { model } = node.ctx.services.factory!.catalog.load(SHIPPED_BASE_MODEL_ID);
  const adapter = createLora(model.config, { rank: 2, alpha: 4, targets: ['q', 'v'], seed });
  const rng = new Rng(seed);
  for (const layer of adapter.layers)
    for (const pair of Object.values(layer))
      for (let j = 0; j < pair!.b.length; j++) pair!.b[j] = 0.01 * rng.normal();
  const dir = join(hubDir, name);
  savePeftAdapter(dir, adapter);
  return {
    weights: readFileSync(join(dir, 'adapter_model.safetensors')),
    config: readFileSync(join(dir, 'adapter_config.json')),
  };
}

async function register(uri: string, adapterHash: `0x${string}`): Promise<string> {
  const { modelId } = await node.ctx.services.registrar!.registerModel({
    owner: accounts[1].address,
    baseModelHash: ZERO,
    adapterHash,
    trainingConfigHash: ZERO,
    attributionIndexHash: ZERO,
    pricePerKInput: 1000n,
    pricePerKOutput: 2000n,
    uri,
    datanets: [],
  });
  return `model-${modelId}`;
}

interface AdaptersView {
  loaded: string[];
  diskCache: {
    entries: { adapterHash: string; bytes: number }[];
    bytes: number;
    hits: number;
    remoteFetches: number;
  };
}

test('an adapter registered with an http(s) URI is fetched into the disk cache, verified and served', async () => {
  const files = publishToHub('good', 21);
  const hash = `0x${sha(files.weights)}` as const;
  const model = await register(`${hubUrl}/good/`, hash);

  const load = await api<{ loaded: string[] }>(node.url, `/api/serve/adapters/${model}/load`, {
    method: 'POST',
    token,
  });
  assert.equal(load.status, 200, JSON.stringify(load.body));
  assert.ok(load.body.loaded.includes(model));
  const cached = join(node.home, 'cache', 'adapters', hash.slice(2), 'adapter_model.safetensors');
  assert.deepEqual(readFileSync(cached), files.weights);
  let view = (await api<AdaptersView>(node.url, '/api/serve/adapters')).body;
  assert.deepEqual(
    view.diskCache.entries.map((e) => e.adapterHash),
    [hash],
  );
  assert.equal(view.diskCache.remoteFetches, 1);

  // it answers a paid request (no attribution index for this hand-made adapter: no receipt)
  node.ctx.services.serving!.attributor = undefined;
  const key = await api<{ key: string }>(node.url, '/api/keys', { token, body: { label: 'remote' } });
  const answer = await fetch(`${node.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key.body.key}` },
    body: JSON.stringify({ model, prompt: 'Ships carry', max_tokens: 4, seed: 3 }),
  });
  const body = (await answer.json()) as { usage: { completion_tokens: number } };
  assert.equal(answer.status, 200, JSON.stringify(body));
  assert.ok(body.usage.completion_tokens > 0);

  // unloaded from memory, it loads again from disk without asking the hub
  await api(node.url, `/api/serve/adapters/${model}/unload`, { method: 'POST', token });
  const again = await api(node.url, `/api/serve/adapters/${model}/load`, { method: 'POST', token });
  assert.equal(again.status, 200);
  view = (await api<AdaptersView>(node.url, '/api/serve/adapters')).body;
  assert.equal(view.diskCache.hits, 1);
  assert.equal(view.diskCache.remoteFetches, 1);
  assert.equal(requests.get('/good/adapter_model.safetensors'), 1);
});

test('a remote adapter whose file differs from the on-chain hash is refused and not cached', async () => {
  const files = publishToHub('tampered', 22);
  const registered = `0x${sha(files.weights)}` as const;
  const model = await register(`${hubUrl}/tampered/adapter_model.safetensors`, registered);
  const bytes = Buffer.from(files.weights);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(join(hubDir, 'tampered', 'adapter_model.safetensors'), bytes);

  const res = await api<{ error: { code: string; message: string } }>(
    node.url,
    `/api/serve/adapters/${model}/load`,
    { method: 'POST', token },
  );
  assert.equal(res.status, 422);
  assert.equal(res.body.error.code, 'adapter_integrity_failed');
  assert.match(
    res.body.error.message,
    new RegExp(`${model} was refused: .*not the on-chain record ${registered}`),
  );
  assert.equal(existsSync(join(node.home, 'cache', 'adapters', registered.slice(2))), false);
  const view = (await api<AdaptersView>(node.url, '/api/serve/adapters')).body;
  assert.ok(!view.loaded.includes(model));
});

test('content-addressed blobs this node lacks come from the configured hub, config hash checked', async () => {
  const files = publishToHub('blob-source', 23);
  mkdirSync(join(hubDir, 'blobs'), { recursive: true });
  writeFileSync(join(hubDir, 'blobs', sha(files.weights)), files.weights);
  writeFileSync(join(hubDir, 'blobs', sha(files.config)), files.config);
  const hash = `0x${sha(files.weights)}` as const;
  const model = await register(`openledger://blobs/${sha(files.weights)}?config=${sha(files.config)}`, hash);
  assert.equal(await node.ctx.services.store!.blobs.has(sha(files.weights)), false);

  const res = await api(node.url, `/api/serve/adapters/${model}/load`, { method: 'POST', token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(requests.get(`/blobs/${sha(files.weights)}`), 1);
  assert.ok(existsSync(join(node.home, 'cache', 'adapters', hash.slice(2), 'adapter_config.json')));

  // a config the hub serves under the wrong hash is refused
  const other = publishToHub('blob-bad-config', 24);
  writeFileSync(join(hubDir, 'blobs', sha(other.weights)), other.weights);
  writeFileSync(join(hubDir, 'blobs', sha(other.config)), Buffer.concat([other.config, Buffer.from(' ')]));
  const bad = await register(
    `openledger://blobs/${sha(other.weights)}?config=${sha(other.config)}`,
    `0x${sha(other.weights)}`,
  );
  const refused = await api<{ error: { message: string } }>(node.url, `/api/serve/adapters/${bad}/load`, {
    method: 'POST',
    token,
  });
  assert.equal(refused.status, 422);
  assert.match(refused.body.error.message, /config from .* has hash/);
});

test('response_format: JSON that fits the schema, through the official openai client', async () => {
  const key = await api<{ key: string }>(node.url, '/api/keys', { token, body: { label: 'json' } });
  const client = new OpenAI({ apiKey: key.body.key, baseURL: `${node.url}/v1` });
  const schema = {
    type: 'object',
    properties: {
      city: { type: 'string' },
      ships: { type: 'integer' },
      open: { type: 'boolean' },
      cargo: { type: 'array', items: { enum: ['salt', 'wool', 'tea'] }, maxItems: 3 },
    },
    required: ['city', 'ships', 'open', 'cargo'],
    additionalProperties: false,
  };
  for (const seed of [1, 2, 3]) {
    const answer = await client.chat.completions.create({
      model: 'openledger-base',
      messages: [{ role: 'user', content: 'Describe the harbour as JSON' }],
      max_tokens: 48,
      seed,
      response_format: { type: 'json_schema', json_schema: { name: 'harbour', schema } },
    });
    const text = answer.choices[0].message.content ?? '';
    const value = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(value), ['city', 'ships', 'open', 'cargo'], text);
    assert.equal(typeof value.city, 'string');
    assert.ok(Number.isInteger(value.ships));
    assert.equal(typeof value.open, 'boolean');
    assert.ok(Array.isArray(value.cargo) && value.cargo.every((c) => ['salt', 'wool', 'tea'].includes(c)));
    assert.equal(answer.choices[0].finish_reason, 'stop');
  }
  const object = await client.chat.completions.create({
    model: 'openledger-base',
    messages: [{ role: 'user', content: 'JSON please' }],
    max_tokens: 32,
    seed: 4,
    response_format: { type: 'json_object' },
  });
  const parsed = JSON.parse(object.choices[0].message.content ?? '');
  assert.equal(typeof parsed, 'object');
  assert.ok(parsed !== null && !Array.isArray(parsed));

  await assert.rejects(
    client.chat.completions.create({
      model: 'openledger-base',
      messages: [{ role: 'user', content: 'x' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'bad',
          schema: { type: 'object', properties: { s: { type: 'string', format: 'email' } } },
        },
      },
    }),
    (e: { status: number; message: string }) =>
      e.status === 400 && /schema\.properties\.s: the keyword "format" is not supported/.test(e.message),
  );
  await assert.rejects(
    client.chat.completions.create({
      model: 'openledger-base',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 4,
      response_format: { type: 'json_schema', json_schema: { name: 'big', schema } },
    }),
    (e: { status: number; message: string }) =>
      e.status === 400 && /shortest JSON this schema allows/.test(e.message),
  );
});
