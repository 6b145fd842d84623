import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { devAccounts } from '@openledger/chain';
import { parseEther } from 'viem';
import { createSiweMessage } from 'viem/siwe';

/**
 * The living demo seeded on the first `npm start`: two datanets with rows from several local test
 * accounts, published on-chain; a trained and published adapter; a few paid answers with receipts;
 * and a settled epoch whose rewards are claimable. It drives the node's own HTTP API, so the demo
 * takes exactly the paths a user takes. A marker file makes it run once per data directory.
 */
export async function seedDemo(url: string, home: string, log: (line: string) => void): Promise<void> {
  const marker = join(home, 'demo-seeded');
  if (existsSync(marker)) return;
  const accounts = devAccounts(4);
  const tokens: string[] = [];
  for (const account of accounts) {
    const { nonce } = await call<{ nonce: string }>(url, 'POST', '/api/auth/nonce');
    const message = createSiweMessage({
      address: account.address,
      chainId: 31337,
      domain: new URL(url).host,
      nonce,
      uri: url,
      version: '1',
    });
    const signature = await account.signMessage({ message });
    tokens.push(
      (await call<{ token: string }>(url, 'POST', '/api/auth/verify', { message, signature })).token,
    );
  }
  log('demo: creating datanets…');
  const harbours = await call<{ id: number }>(
    url,
    'POST',
    '/api/datanets',
    {
      name: 'Harbour chronicles',
      summary: 'Short log entries from the ships and quays of small harbours',
      description:
        '# Harbour chronicles\n\nOne line per ship: what it brought and where it went. Contributed by three local accounts.',
      tags: ['demo', 'logistics'],
      license: 'CC0-1.0',
      schema: 'text',
    },
    tokens[1],
  );
  const places = ['Avonmouth', 'Brightlingsea', 'Cromarty'];
  for (const [i, place] of places.entries()) {
    await call(
      url,
      'POST',
      `/api/datanets/${harbours.id}/contributions`,
      {
        filename: `${place}.jsonl`,
        contentBase64: Buffer.from(harbourRows(place, 20)).toString('base64'),
      },
      tokens[i + 1],
    );
  }
  const pending = await call<string[] | { rowIds: string[] }>(
    url,
    'GET',
    `/api/datanets/${harbours.id}/pending`,
    undefined,
    tokens[1],
  );
  const rowIds = Array.isArray(pending) ? pending : pending.rowIds;
  await call(url, 'POST', `/api/datanets/${harbours.id}/review`, { rowIds, decision: 'approve' }, tokens[1]);
  const version = await call<{ version: number }>(
    url,
    'POST',
    `/api/datanets/${harbours.id}/publish`,
    {},
    tokens[1],
  );
  await call(
    url,
    'POST',
    '/api/datanets',
    {
      name: 'Open questions',
      summary: 'Questions and answers about civic life (an empty datanet, waiting for contributions)',
      tags: ['demo', 'qa'],
      license: 'CC-BY-4.0',
      schema: 'prompt_completion',
    },
    tokens[2],
  );

  log('demo: training an adapter (about a minute)…');
  const job = await call<{ id: number }>(
    url,
    'POST',
    '/api/factory/jobs',
    {
      baseModel: 'openledger-base',
      name: 'harbour-logs',
      datanets: [{ id: harbours.id, version: version.version }],
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
    tokens[1],
  );
  for (let i = 0; i < 1800; i++) {
    const status = (await call<{ status: string }>(url, 'GET', `/api/factory/jobs/${job.id}`)).status;
    if (status === 'completed') break;
    if (status === 'failed' || status === 'cancelled')
      throw new Error(`demo training job ${job.id} ${status}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const model = await call<{ modelId: number }>(
    url,
    'POST',
    `/api/factory/jobs/${job.id}/publish`,
    {
      pricePerKInput: parseEther('0.01').toString(),
      pricePerKOutput: parseEther('0.02').toString(),
    },
    tokens[1],
  );

  log(`demo: paid answers from model-${model.modelId}…`);
  for (const place of places) {
    await call(
      url,
      'POST',
      '/v1/completions',
      { model: `model-${model.modelId}`, prompt: `In ${place}, ship`, max_tokens: 24, temperature: 0 },
      tokens[3],
    );
  }
  const settled = await call<{ epoch: number; total: string }>(
    url,
    'POST',
    '/api/epochs/settle',
    {},
    tokens[0],
  );
  await call(url, 'POST', '/api/dev/advance-time', { seconds: 3600 });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  log(`demo: epoch ${settled.epoch} settled, ${settled.total} wei of OPEN claimable by contributors`);
}

function harbourRows(place: string, n: number): string {
  const words =
    'grain timber letters salt wool copper iron glass rope sails barrels nets lanterns bells maps cargo spices tea coal ink'.split(
      ' ',
    );
  let seed = place.length * 7919;
  const pick = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return words[seed % words.length];
  };
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      text: `In ${place}, ship ${i} brought ${pick()}, ${pick()} and ${pick()}; the quay kept ${pick()} beside ${pick()} while ${pick()} went inland.`,
    }),
  ).join('\n');
}

async function call<T = unknown>(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`demo: ${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
