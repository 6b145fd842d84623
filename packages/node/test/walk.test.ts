// The product's walk, end to end over HTTP on a real anvil chain: a row of data → a datanet version
// on-chain → a fine-tuned adapter registered with its lineage → paid answers with receipts → a
// settled epoch → OPEN claimed by the contributors.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { modelRegistryAbi } from '@openledger/chain';
import { voucherTypedData } from '@openledger/economy';
import { BASE_MODEL_DIR } from '@openledger/model';
import OpenAI from 'openai';
import { erc20Abi, type LocalAccount, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { accounts, api, signIn, startTestNode } from './helpers.ts';

let node: Awaited<ReturnType<typeof startTestNode>>;
const tokens: Record<number, string> = {};
const state: { datanetId?: number; version?: number; jobId?: number; modelId?: number } = {};

before(async () => {
  node = await startTestNode();
  for (const i of [1, 2, 3]) tokens[i] = await signIn(node.url, accounts[i]);
});

after(async () => {
  await node?.stop();
});

const WORDS = (
  'grain timber letters salt wool copper iron glass rope sails barrels nets lanterns bells maps ' +
  'cargo spices tea coal ink paper silk linen wax honey cheese apples oats barley wine fish'
).split(' ');

/** Varied sentences (a seeded mix of words), so no two rows are near-duplicates. */
const rows = (who: string, n: number) => {
  let seed = who.length * 7919;
  const pick = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return WORDS[seed % WORDS.length];
  };
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      text: `In ${who}, ship ${i} brought ${pick()}, ${pick()} and ${pick()}; the quay kept ${pick()} beside ${pick()} while ${pick()} went inland with ${pick()}.`,
    }),
  ).join('\n');
};

test('contribute, review and publish a datanet version anchored on-chain', async () => {
  const created = await api<{ id: number }>(node.url, '/api/datanets', {
    token: tokens[1],
    body: {
      name: 'Harbours',
      summary: 'Sentences about harbours',
      license: 'CC0-1.0',
      schema: 'text',
      tags: ['demo'],
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  for (const [who, name] of [
    [1, 'Avonmouth'],
    [2, 'Brightlingsea'],
  ] as const) {
    const res = await api(node.url, `/api/datanets/${id}/contributions`, {
      token: tokens[who],
      body: { filename: `${name}.jsonl`, contentBase64: Buffer.from(rows(name, 24)).toString('base64') },
    });
    assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
  }
  // a reader without rights cannot review
  const pending = await api<string[] | { rowIds: string[] }>(node.url, `/api/datanets/${id}/pending`, {
    token: tokens[1],
  });
  const rowIds = Array.isArray(pending.body) ? pending.body : pending.body.rowIds;
  assert.equal(rowIds.length, 48);
  const forbidden = await api(node.url, `/api/datanets/${id}/review`, {
    token: tokens[3],
    body: { rowIds, decision: 'approve' },
  });
  assert.equal(forbidden.status, 403);
  const reviewed = await api<{ approved: number }>(node.url, `/api/datanets/${id}/review`, {
    token: tokens[1],
    body: { rowIds, decision: 'approve' },
  });
  assert.equal(reviewed.body.approved, 48);
  const published = await api<{ version: number; root: string }>(node.url, `/api/datanets/${id}/publish`, {
    token: tokens[1],
    body: {},
  });
  assert.ok(published.status < 300, JSON.stringify(published.body));
  state.datanetId = id;
  state.version = published.body.version;
  const proof = await api<{ onchainRoot?: string; root: string }>(node.url, `/api/rows/${rowIds[0]}/proof`);
  assert.equal(proof.status, 200, JSON.stringify(proof.body));
  assert.equal(proof.body.onchainRoot, proof.body.root);
});

test('fine-tune an adapter in ModelFactory and publish it with lineage and a price', async () => {
  const job = await api<{ id: number }>(node.url, '/api/factory/jobs', {
    token: tokens[1],
    body: {
      baseModel: 'openledger-base',
      datanets: [{ id: state.datanetId, version: state.version }],
      template: 'completion',
      hyperparameters: {
        epochs: 8,
        batchSize: 8,
        maxSeqLen: 64,
        loraRank: 8,
        learningRate: 1e-2,
        checkpointEvery: 10,
      },
    },
  });
  assert.equal(job.status, 201, JSON.stringify(job.body));
  const bad = await api(node.url, '/api/factory/jobs', {
    token: tokens[1],
    body: {
      baseModel: 'openledger-base',
      datanets: [{ id: state.datanetId, version: 1 }],
      hyperparameters: { loraRank: 0 },
    },
  });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.body), /loraRank/);
  let status = '';
  for (let i = 0; i < 600 && status !== 'completed' && status !== 'failed'; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    status = (await api<{ status: string }>(node.url, `/api/factory/jobs/${job.body.id}`)).body.status;
  }
  assert.equal(status, 'completed');
  const evaluation = await api<{ before: { loss: number }; after: { loss: number } }>(
    node.url,
    `/api/factory/jobs/${job.body.id}/eval`,
  );
  assert.ok(evaluation.body.after.loss < evaluation.body.before.loss, JSON.stringify(evaluation.body));
  const published = await api<{ modelId: number; lineage: { adapterHash: string } }>(
    node.url,
    `/api/factory/jobs/${job.body.id}/publish`,
    {
      token: tokens[1],
      body: { pricePerKInput: parseEther('0.01').toString(), pricePerKOutput: parseEther('0.02').toString() },
    },
  );
  assert.equal(published.status, 200, JSON.stringify(published.body));
  state.jobId = job.body.id;
  state.modelId = published.body.modelId;
  // the on-chain lineage matches the stored files' hashes
  const onchain = (await node.ctx.chain.publicClient.readContract({
    address: node.deployment.contracts.ModelRegistry,
    abi: modelRegistryAbi,
    functionName: 'getModel',
    args: [BigInt(state.modelId)],
  })) as unknown as readonly [string, string, string, string, string, bigint, bigint, string, boolean];
  const weights = await (
    await fetch(`${node.url}/api/factory/jobs/${job.body.id}/export/peft`)
  ).arrayBuffer();
  assert.equal(
    onchain[2],
    `0x${createHash('sha256').update(Buffer.from(weights)).digest('hex')}`,
    'adapter hash',
  );
  const base = readFileSync(join(BASE_MODEL_DIR, 'model.safetensors'));
  assert.equal(onchain[1], `0x${createHash('sha256').update(base).digest('hex')}`, 'base model hash');
  assert.equal(onchain[0].toLowerCase(), accounts[1].address.toLowerCase(), 'owner');
  assert.equal(onchain[5], parseEther('0.01'));
  const lineage = (await node.ctx.chain.publicClient.readContract({
    address: node.deployment.contracts.ModelRegistry,
    abi: modelRegistryAbi,
    functionName: 'getLineage',
    args: [BigInt(state.modelId)],
  })) as readonly { datanetId: bigint; version: number }[];
  assert.deepEqual(
    lineage.map((l) => [Number(l.datanetId), Number(l.version)]),
    [[state.datanetId, state.version]],
  );
  const compared = await api<{ jobId: number }[]>(
    node.url,
    `/api/factory/compare?jobs=${job.body.id},${job.body.id}`,
  );
  assert.equal(compared.body.length, 2);
});

test('paid answers through the official OpenAI client, with bad requests refused', async () => {
  const key = await api<{ key: string }>(node.url, '/api/keys', {
    token: tokens[3],
    body: { label: 'test' },
  });
  assert.equal(key.status, 201);
  const client = new OpenAI({ apiKey: key.body.key, baseURL: `${node.url}/v1` });
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === `model-${state.modelId}`));
  const answer = await client.chat.completions.create({
    model: `model-${state.modelId}`,
    messages: [{ role: 'user', content: 'Tell me about the harbour' }],
    max_tokens: 16,
    seed: 7,
  });
  assert.ok(answer.choices[0].message.content !== null);
  const usage = answer.usage as unknown as { cost: string; completion_tokens: number };
  assert.ok(BigInt(usage.cost) > 0n);
  const stream = await client.chat.completions.create({
    model: `openledger-base:model-${state.modelId}`,
    messages: [{ role: 'user', content: 'Ships carry' }],
    max_tokens: 12,
    stream: true,
  });
  let streamed = '';
  for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
  assert.ok(streamed.length > 0);

  await assert.rejects(
    client.chat.completions.create({ model: 'model-999', messages: [{ role: 'user', content: 'x' }] }),
    (e: { status: number }) => e.status === 404,
  );
  await assert.rejects(
    client.chat.completions.create({
      model: `model-${state.modelId}`,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: -1,
    }),
    (e: { status: number }) => e.status === 400,
  );
  await assert.rejects(
    client.chat.completions.create({
      model: `model-${state.modelId}`,
      messages: [{ role: 'user', content: 'word '.repeat(400) }],
    }),
    (e: { status: number }) => e.status === 400,
  );
  // answers that reuse the training text are attributed to the rows (and contributors) they came from
  for (const harbour of ['Avonmouth', 'Brightlingsea']) {
    const completion = await client.completions.create({
      model: `model-${state.modelId}`,
      prompt: `In ${harbour}, ship`,
      max_tokens: 24,
      temperature: 0,
    });
    const receiptId = (completion as unknown as { openledger: { receiptId: string } }).openledger.receiptId;
    assert.match(receiptId, /^0x[0-9a-f]{64}$/);
    const stored = await api<{
      receipt: { id: string; contributors: { address: string; weight: number }[] };
    }>(node.url, `/api/attribution/receipts/${receiptId}`);
    assert.equal(stored.status, 200);
    const verified = await api<{ ok: boolean }>(node.url, '/api/attribution/verify', {
      body: { receipt: stored.body.receipt },
    });
    assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
    if (stored.body.receipt.contributors.length > 0) {
      const tampered = structuredClone(stored.body.receipt);
      tampered.contributors[0].weight = 0.5;
      const refused = await api<{ ok: boolean }>(node.url, '/api/attribution/verify', {
        body: { receipt: tampered },
      });
      assert.equal(refused.body.ok, false);
    }
  }
  // external wallets pay with an EIP-712 voucher header; bad vouchers are refused and nothing is charged
  const pendingBefore = (await api<{ pending: number }>(node.url, '/api/epochs')).body.pending;
  const domain = { chainId: 31337, verifyingContract: node.deployment.contracts.InferenceEscrow };
  const operator = accounts[0].address;
  const platformFee = parseEther('0.001');
  const voucherFor = async (signer: LocalAccount, consumer: `0x${string}`, amount: bigint) => {
    const voucher = {
      consumer,
      operator,
      modelId: BigInt(state.modelId!),
      cumulativeAmount: amount,
      cumulativePlatformFee: platformFee,
      deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
    };
    const signature = await signer.signTypedData(voucherTypedData(domain, voucher));
    return Buffer.from(
      JSON.stringify({
        voucher: Object.fromEntries(Object.entries(voucher).map(([k, v]) => [k, String(v)])),
        signature,
      }),
    ).toString('base64');
  };
  const ask = (header: string) =>
    fetch(`${node.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-openledger-voucher': header },
      body: JSON.stringify({ model: `model-${state.modelId}`, prompt: 'Ships', max_tokens: 4 }),
    });
  const stranger = privateKeyToAccount(generatePrivateKey());
  const noBalance = await ask(await voucherFor(stranger, stranger.address, parseEther('1')));
  assert.equal(noBalance.status, 402, await noBalance.text());
  const forged = await ask(await voucherFor(stranger, accounts[4].address, parseEther('1')));
  assert.equal(forged.status, 401, await forged.text());
  assert.equal(
    (await api<{ pending: number }>(node.url, '/api/epochs')).body.pending,
    pendingBefore,
    'nothing charged',
  );
  const good = await voucherFor(accounts[4], accounts[4].address, parseEther('1'));
  const paid = await ask(good);
  assert.equal(paid.status, 200, await paid.text());
  const replayed = await ask(good);
  assert.equal(replayed.status, 409, await replayed.text());
  assert.equal((await api<{ pending: number }>(node.url, '/api/epochs')).body.pending, pendingBefore + 1);

  const metrics = await (await fetch(`${node.url}/metrics`)).text();
  assert.match(metrics, /openledger_requests_total [1-9]/);
});

test('settle the epoch and every contributor claims OPEN', async () => {
  const t0 = Date.now();
  const settled = await api<{ epoch: number; total: string; contributors: number }>(
    node.url,
    '/api/epochs/settle',
    { token: tokens[1], body: {} },
  );
  const settleSeconds = (Date.now() - t0) / 1000;
  assert.equal(settled.status, 200, JSON.stringify(settled.body));
  assert.ok(
    BigInt(settled.body.total) > 0n,
    `nothing to pay contributors (settled in ${settleSeconds} s): ${JSON.stringify(settled.body).slice(0, 400)}`,
  );
  const verified = await api<{ ok: boolean }>(node.url, `/api/epochs/${settled.body.epoch}/verify`);
  assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
  // an honest root is not challenged, and nothing is sent
  const challenge = await api<{ error?: { code?: string } }>(
    node.url,
    `/api/epochs/${settled.body.epoch}/challenge`,
    { token: tokens[1], body: {} },
  );
  assert.equal(challenge.status, 409, JSON.stringify(challenge.body));
  await api(node.url, '/api/dev/advance-time', { body: { seconds: 3600 } });
  const client = node.ctx.chain.publicClient;
  // the reward tree pays exactly the contributors of the training data, and each of them claims
  let paid = 0n;
  for (const who of [1, 2]) {
    const rewards = await api<{ epochs: { epoch: number; amount: string; claimable: boolean }[] }>(
      node.url,
      `/api/rewards/${accounts[who].address}`,
    );
    const entry = rewards.body.epochs.find((e) => e.epoch === settled.body.epoch);
    if (!entry) continue;
    const answers = (rewards.body as unknown as { answers: { receiptId: string; weight: number }[] }).answers;
    assert.ok(answers.length > 0 && answers.every((a) => a.weight > 0), 'the attributed answers are listed');
    assert.ok(BigInt(entry.amount) > 0n);
    assert.equal(entry.claimable, true);
    const before = await client.readContract({
      address: node.deployment.contracts.OpenToken,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [accounts[who].address],
    });
    const claim = await api(node.url, '/api/rewards/claim', {
      token: tokens[who],
      body: { epoch: settled.body.epoch },
    });
    assert.equal(claim.status, 200, JSON.stringify(claim.body));
    const afterBalance = await client.readContract({
      address: node.deployment.contracts.OpenToken,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [accounts[who].address],
    });
    assert.equal(afterBalance - before, BigInt(entry.amount));
    paid += BigInt(entry.amount);
    const again = await api(node.url, '/api/rewards/claim', {
      token: tokens[who],
      body: { epoch: settled.body.epoch },
    });
    assert.ok(again.status >= 400, 'a second claim is refused');
  }
  assert.equal(paid, BigInt(settled.body.total), 'every rewarded contributor claimed, to the wei');
});

test('a model record reads back with its lineage', async () => {
  const model = await api<{
    id: number;
    datanets: { datanetId: number; version: number }[];
    job: { id: number } | null;
  }>(node.url, `/api/models/${state.modelId}`);
  assert.equal(model.status, 200);
  assert.deepEqual(model.body.datanets, [{ datanetId: state.datanetId, version: state.version }]);
  assert.equal(model.body.job?.id, state.jobId);
  assert.equal((await api(node.url, '/api/models/999')).status, 404);
});
